using System.CommandLine;
using System.Text.Json.Nodes;
using Pare.Core.Tokenizers;
using Pare.Engine;
using Pare.Engine.Sampling;
using Pare.Engine.Speculative;
using Pare.Engine.Weights;
using Spectre.Console;

namespace Pare.Cli.Commands;

/// <summary>pare generate: text from a prompt with greedy or sampled decoding.</summary>
public static class GenerateCommand
{
    public static Command Create()
    {
        var model = new ModelOptions();
        var prompt = new Option<string>("--prompt") { Description = "Prompt text", DefaultValueFactory = _ => "" };
        var maxTokens = new Option<int>("--max-tokens") { Description = "Most tokens to generate", DefaultValueFactory = _ => 256 };
        var temperature = new Option<float>("--temperature") { Description = "0 = greedy", DefaultValueFactory = _ => 1f };
        var topK = new Option<int>("--top-k") { Description = "Sample among the K most likely tokens (0 = all)" };
        var topP = new Option<float>("--top-p") { Description = "Nucleus sampling mass (1 = off)", DefaultValueFactory = _ => 1f };
        var seed = new Option<ulong>("--seed") { Description = "Sampling seed", DefaultValueFactory = _ => 42UL };
        var draft = new Option<string?>("--draft") { Description = "Speculative decoding with this draft model (same vocabulary)" };
        var draftSelf = new Option<string?>("--draft-self") { Description = "Speculative decoding with a self-draft: int8, int4, 2:4 or layers=N" };
        var lookup = new Option<bool>("--lookup") { Description = "Speculative decoding with prompt lookup" };
        var k = new Option<int>("--k") { Description = "Tokens drafted per round", DefaultValueFactory = _ => 4 };
        var adaptive = AdaptiveOption.Create();
        var weights = new Option<string?>("--weights") { Description = $"Run the matrices in this format: {string.Join(", ", WeightFormats.All)} (default: as stored; sparse formats keep the zeros they are given)" };
        var routers = RouteCommand.RoutersOption();
        var cmd = new Command("generate", "Generate text from a prompt");
        model.AddTo(cmd);
        foreach (var o in new Option[] { prompt, maxTokens, temperature, topK, topP, seed, draft, draftSelf, lookup, k, adaptive, weights, routers }) cmd.Options.Add(o);

        cmd.SetAction(parse => CliContext.Run(parse, console =>
        {
            var checkpoint = model.LoadModel(parse);
            var tokenizer = model.LoadTokenizer(parse, checkpoint);
            var format = parse.GetValue(weights);
            using var transformer = new Transformer(
                LlamaWeights.FromCheckpoint(checkpoint, format == null ? null : WeightMatrixFactory.To(format)), parse.GetValue(model.Threads))
            { Router = RouteCommand.LoadRouters(parse.GetValue(routers), checkpoint) };
            var sampling = new SamplingOptions
            {
                Temperature = parse.GetValue(temperature),
                TopK = parse.GetValue(topK),
                TopP = parse.GetValue(topP),
                Seed = parse.GetValue(seed),
            };
            var promptIds = tokenizer.Encode(parse.GetValue(prompt) ?? "", addBos: true);
            bool json = parse.GetValue(CliContext.Json);
            // Holds back a character that byte tokens split until it is complete, so the console never shows U+FFFD halves.
            var stream = new TokenTextStream(tokenizer, promptIds[^1]);
            if (!json) console.Write(new Text(tokenizer.Decode(promptIds)));
            void Show(int t)
            {
                var piece = stream.Append(t);
                if (!json && piece.Length > 0) console.Write(new Text(piece));
            }
            var specs = new[] { parse.GetValue(draft) is { } d ? "model:" + d : null, parse.GetValue(draftSelf), parse.GetValue(lookup) ? "lookup" : null }.OfType<string>().ToArray();
            if (specs.Length > 1) throw new ArgumentException("choose one of --draft, --draft-self and --lookup");
            GenerationResult result;
            SpeculativeStats? stats = null;
            if (specs.Length == 1)
            {
                float threshold = AdaptiveOption.Threshold(parse, adaptive);
                var drafter = DrafterSpec.Create(specs[0], transformer, threshold);
                var spec = new SpeculativeDecoder(transformer, drafter, parse.GetValue(k)).Generate(promptIds, parse.GetValue(maxTokens), sampling, stopToken: tokenizer.BosId, onToken: Show);
                result = spec.Generation;
                stats = spec.Stats;
            }
            else result = new Generator(transformer).Generate(promptIds, parse.GetValue(maxTokens), sampling, stopToken: tokenizer.BosId, onToken: Show);
            if (!json) console.WriteLine(stream.Flush());
            var output = new JsonObject
            {
                ["text"] = tokenizer.Decode([.. promptIds, .. result.GeneratedIds]),
                ["completion"] = tokenizer.Decode(result.GeneratedIds),
                ["prompt_ids"] = CliContext.ToJsonArray(promptIds),
                ["generated_ids"] = CliContext.ToJsonArray(result.GeneratedIds),
                ["tokens_per_second"] = Math.Round(result.TokensPerSecond, 2),
                ["prefill_seconds"] = result.PrefillSeconds,
                ["decode_seconds"] = result.DecodeSeconds,
            };
            if (stats != null)
            {
                output["speculative"] = new JsonObject
                {
                    ["drafter"] = specs[0],
                    ["k"] = parse.GetValue(k),
                    ["tau"] = Math.Round(stats.Tau, 3),
                    ["acceptance"] = Math.Round(stats.AcceptanceRate, 3),
                    ["rounds"] = stats.Rounds,
                    ["drafted"] = stats.Drafted,
                    ["accepted"] = stats.Accepted,
                };
            }
            return output;
        }, (console, result) => console.MarkupLineInterpolated($"[grey]{result["generated_ids"]!.AsArray().Count} tokens, {result["tokens_per_second"]} tok/s[/]")));
        return cmd;
    }
}
