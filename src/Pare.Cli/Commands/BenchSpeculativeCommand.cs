using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using Pare.Core;
using Pare.Engine;
using Pare.Engine.Sampling;
using Pare.Engine.Speculative;
using Pare.Eval;
using Spectre.Console;

namespace Pare.Cli.Commands;

/// <summary>
/// pare bench speculative: τ, acceptance, tok/s and wall-clock speed-up of each drafter against plain decoding, all
/// measured in the same run. Every repeat runs plain decoding and each drafter over the whole prompt set in turn
/// (interleaved, so drifting machine load hits all alike); times are the median over repeats.
/// </summary>
public static class BenchSpeculativeCommand
{
    public static Command Create()
    {
        var model = new ModelOptions();
        var prompts = new Option<string>("--prompts") { Description = "JSONL prompts: each line a `prompt` string or a `turns` list (first turn used)", Required = true };
        var drafters = new Option<string>("--drafters") { Description = "Comma-separated drafters: lookup, layers=N, int8, int4, 2:4, model:PATH; oracle (greedy only: replays plain decoding's output, the ceiling for any drafter)", DefaultValueFactory = _ => "lookup,layers=1,layers=2,int8,2:4" };
        var draft = new Option<string?>("--draft") { Description = "Also benchmark this separate draft model" };
        var ks = new Option<string>("--k") { Description = "Draft lengths to try, comma-separated", DefaultValueFactory = _ => "4" };
        var maxTokens = new Option<int>("--max-tokens") { Description = "Tokens to generate per prompt", DefaultValueFactory = _ => 128 };
        var limit = new Option<int?>("--limit") { Description = "Use only the first N prompts" };
        var repeats = new Option<int>("--repeats") { Description = "Timed repeats (median reported)", DefaultValueFactory = _ => 3 };
        var adaptive = AdaptiveOption.Create();
        var temperature = new Option<float>("--temperature") { Description = "0 = greedy (default); otherwise speculative sampling", DefaultValueFactory = _ => 0f };
        var cmd = new Command("speculative", "Speed-up of speculative decoding per drafter against plain decoding");
        model.AddTo(cmd);
        foreach (var o in new Option[] { prompts, drafters, draft, ks, maxTokens, limit, repeats, adaptive, temperature }) cmd.Options.Add(o);

        cmd.SetAction(parse => CliContext.Run(parse, console =>
        {
            var checkpoint = model.LoadModel(parse);
            var tokenizer = model.LoadTokenizer(parse, checkpoint);
            int threads = parse.GetValue(model.Threads);
            var target = new Transformer(LlamaWeights.FromCheckpoint(checkpoint), threads);
            var promptIds = ReadPrompts(parse.GetValue(prompts)!, parse.GetValue(limit)).Select(p => tokenizer.Encode(p, addBos: true)).ToArray();
            if (promptIds.Length == 0) throw new ArgumentException($"{parse.GetValue(prompts)}: no prompts");
            var sampling = new SamplingOptions { Temperature = parse.GetValue(temperature), Seed = 42 };
            int max = parse.GetValue(maxTokens), reps = Math.Max(1, parse.GetValue(repeats));
            var kList = parse.GetValue(ks)!.Split(',', StringSplitOptions.RemoveEmptyEntries).Select(s => int.Parse(s.Trim(), System.Globalization.CultureInfo.InvariantCulture)).ToArray();
            var specs = parse.GetValue(drafters)!.Split(',', StringSplitOptions.RemoveEmptyEntries).ToList();
            if (parse.GetValue(draft) is { } d) specs.Add("model:" + d);
            var decoders = new List<SpeculativeDecoder>();
            var oracle = new OracleDrafter();
            foreach (var spec in specs)
            {
                if (spec.Trim() == "oracle" && sampling.Temperature != 0) throw new ArgumentException("the oracle drafter replays greedy output; use it with --temperature 0");
                IDrafter drafter = spec.Trim() == "oracle" ? oracle : DrafterSpec.Create(spec, target, AdaptiveOption.Threshold(parse, adaptive));
                foreach (int k in kList) decoders.Add(new SpeculativeDecoder(target, drafter, k));
            }

            var plain = new Generator(target);
            var plainTimes = new List<double>();
            var specTimes = decoders.Select(_ => new List<double>()).ToArray();
            var stats = new SpeculativeStats[decoders.Count];
            var identical = new bool[decoders.Count];
            long plainTokens = 0;
            var specTokens = new long[decoders.Count];
            int[][] reference = new int[promptIds.Length][];
            console.Progress().AutoClear(true).Start(ctx =>
            {
                var task = ctx.AddTask("speculative decoding", maxValue: reps * (decoders.Count + 1) * promptIds.Length);
                // One untimed pass first so every decoder runs JIT-optimised code when timed.
                foreach (var p in promptIds.Take(4))
                {
                    oracle.Expect(p, plain.Generate(p, max, sampling, tokenizer.BosId).GeneratedIds);
                    foreach (var dec in decoders) dec.Generate(p, max, sampling, tokenizer.BosId);
                }
                for (int r = 0; r < reps; r++)
                {
                    var sw = Stopwatch.StartNew();
                    long tokens = 0;
                    for (int i = 0; i < promptIds.Length; i++)
                    {
                        reference[i] = plain.Generate(promptIds[i], max, sampling, tokenizer.BosId).GeneratedIds;
                        tokens += reference[i].Length;
                        task.Increment(1);
                    }
                    plainTimes.Add(sw.Elapsed.TotalSeconds);
                    plainTokens = tokens;
                    for (int j = 0; j < decoders.Count; j++)
                    {
                        var total = SpeculativeStats.Zero;
                        bool same = true;
                        tokens = 0;
                        sw.Restart();
                        for (int i = 0; i < promptIds.Length; i++)
                        {
                            oracle.Expect(promptIds[i], reference[i]);
                            var result = decoders[j].Generate(promptIds[i], max, sampling, tokenizer.BosId);
                            total += result.Stats;
                            tokens += result.GeneratedIds.Length;
                            same &= result.GeneratedIds.AsSpan().SequenceEqual(reference[i]);
                            task.Increment(1);
                        }
                        specTimes[j].Add(sw.Elapsed.TotalSeconds);
                        stats[j] = total;
                        identical[j] = same;
                        specTokens[j] = tokens;
                    }
                }
            });

            double plainSeconds = Median.Of(plainTimes);
            var rows = new JsonArray();
            for (int j = 0; j < decoders.Count; j++)
            {
                double seconds = Median.Of(specTimes[j]);
                rows.Add(new JsonObject
                {
                    ["drafter"] = decoders[j].Drafter.Name,
                    ["k"] = decoders[j].K,
                    ["tau"] = Math.Round(stats[j].Tau, 3),
                    ["acceptance"] = Math.Round(stats[j].AcceptanceRate, 3),
                    ["rounds"] = stats[j].Rounds,
                    ["drafted"] = stats[j].Drafted,
                    ["accepted"] = stats[j].Accepted,
                    ["tokens_per_second"] = Math.Round(specTokens[j] / seconds, 1),
                    ["speedup"] = Math.Round(plainSeconds / seconds, 3),
                    ["seconds"] = seconds,
                    // Greedy output must equal plain decoding; sampled output follows the same law, not the same draws.
                    ["identical_to_plain"] = sampling.IsGreedy ? identical[j] : null,
                });
            }
            return new JsonObject
            {
                ["model"] = checkpoint.Source,
                ["prompts"] = promptIds.Length,
                ["max_tokens"] = max,
                ["threads"] = threads,
                ["repeats"] = reps,
                ["temperature"] = sampling.Temperature,
                ["plain"] = new JsonObject
                {
                    ["tokens"] = plainTokens,
                    ["tokens_per_second"] = Math.Round(plainTokens / plainSeconds, 1),
                    ["seconds"] = plainSeconds,
                },
                ["drafters"] = rows,
            };
        }, Render));
        return cmd;
    }

    private static void Render(IAnsiConsole console, JsonObject result)
    {
        var plain = result["plain"]!;
        console.MarkupLineInterpolated($"plain decoding: {plain["tokens_per_second"]} tok/s ({result["prompts"]} prompts, {result["max_tokens"]} tokens, {result["threads"]} thread(s), median of {result["repeats"]})");
        var table = new Table().AddColumns("drafter", "k", "τ", "acceptance", "tok/s", "speed-up", "identical");
        foreach (var row in result["drafters"]!.AsArray())
            table.AddRow(row!["drafter"]!.ToString(), row["k"]!.ToString(), row["tau"]!.ToString(), row["acceptance"]!.ToString(),
                row["tokens_per_second"]!.ToString(), row["speedup"]!.ToString() + "×", row["identical_to_plain"]?.ToString() ?? "-");
        console.Write(table);
    }

    /// <summary>Prompt texts from JSONL: `prompt`, or the first of `turns`.</summary>
    public static List<string> ReadPrompts(string path, int? limit)
    {
        if (!File.Exists(path)) throw new PareFormatException(path, "prompt file not found");
        var list = new List<string>();
        int lineNo = 0;
        foreach (var line in File.ReadLines(path))
        {
            lineNo++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            JsonElement row;
            try { row = JsonDocument.Parse(line).RootElement; }
            catch (JsonException e) { throw new PareFormatException(path, $"line {lineNo} is not JSON: {e.Message}"); }
            if (row.ValueKind == JsonValueKind.Object && row.TryGetProperty("prompt", out var p) && p.ValueKind == JsonValueKind.String) list.Add(p.GetString()!);
            else if (row.ValueKind == JsonValueKind.Object && row.TryGetProperty("turns", out var t) && t.ValueKind == JsonValueKind.Array && t.GetArrayLength() > 0 && t[0].ValueKind == JsonValueKind.String) list.Add(t[0].GetString()!);
            else throw new PareFormatException(path, $"line {lineNo} has neither a `prompt` string nor a `turns` list");
            if (list.Count == limit) break;
        }
        return list;
    }
}
