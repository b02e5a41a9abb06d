using System.CommandLine;
using System.Text.Json.Nodes;
using Pare.Engine;
using Pare.Eval;
using Spectre.Console;

namespace Pare.Cli.Commands;

/// <summary>pare eval ppl: perplexity with the TinyStories or the WikiText-2 (SparseGPT) protocol.</summary>
public static class EvalCommand
{
    public static Command Create()
    {
        var eval = new Command("eval", "Evaluate a model");
        eval.Subcommands.Add(CreatePerplexity());
        return eval;
    }

    private static Command CreatePerplexity()
    {
        var model = new ModelOptions();
        var data = new Option<string>("--data") { Description = "Evaluation text file", Required = true };
        var format = new Option<string>("--format") { Description = "tinystories (stories split on <|endoftext|>, BOS each), raw (rows joined with \\n\\n, tokenized once: WikiText-2/PTB protocol) or llama.cpp (the file tokenized once with BOS, each window starting with BOS, second half scored: llama-perplexity's protocol)", DefaultValueFactory = _ => "tinystories" };
        format.AcceptOnlyFromAmong("tinystories", "raw", "llama.cpp");
        var window = new Option<int>("--window") { Description = "Window length in tokens", DefaultValueFactory = _ => 256 };
        var maxWindows = new Option<int?>("--max-windows") { Description = "Evaluate at most this many windows (default: all)" };
        var slice = new Option<string>("--slice") { Description = "Fractional part of the stories (tinystories) or rows (raw) to use, e.g. 0.5:1 for the second half", DefaultValueFactory = _ => "0:1" };
        var cmd = new Command("ppl", "Perplexity over non-overlapping windows");
        model.AddTo(cmd);
        foreach (var o in new Option[] { data, format, window, maxWindows, slice }) cmd.Options.Add(o);

        cmd.SetAction(parse => CliContext.Run(parse, console =>
        {
            var checkpoint = model.LoadModel(parse);
            var tokenizer = model.LoadTokenizer(parse, checkpoint);
            var weights = LlamaWeights.FromCheckpoint(checkpoint);
            var fmt = parse.GetValue(format)!;
            int[] tokens;
            if (fmt == "llama.cpp")
            {
                if (parse.GetValue(slice) != "0:1") throw new ArgumentException("--format llama.cpp scores the whole file, as llama-perplexity does (no --slice)");
                tokens = tokenizer.Encode(EvalText.Read(parse.GetValue(data)!), addBos: true);
            }
            else
            {
                tokens = EvalText.Tokens(parse.GetValue(data)!, fmt, TextSlice.Parse(parse.GetValue(slice)!), tokenizer);
            }

            int w = parse.GetValue(window);
            int total = Math.Min(tokens.Length / w, parse.GetValue(maxWindows) ?? int.MaxValue);
            PerplexityResult result = null!;
            console.Progress().AutoClear(true).Start(ctx =>
            {
                var task = ctx.AddTask($"perplexity, {total} windows of {w}", maxValue: Math.Max(total, 1));
                result = fmt == "llama.cpp"
                    ? Perplexity.EvaluateLlamaCpp(weights, tokens, w, tokens[0], parse.GetValue(model.Threads), done => task.Value = done)
                    : Perplexity.Evaluate(weights, tokens, w, parse.GetValue(maxWindows), parse.GetValue(model.Threads), done => task.Value = done);
            });
            return new JsonObject
            {
                ["model"] = checkpoint.Source,
                ["data"] = parse.GetValue(data),
                ["format"] = fmt,
                ["slice"] = parse.GetValue(slice),
                ["ppl"] = result.Perplexity,
                ["mean_nll"] = result.MeanNll,
                ["tokens_scored"] = result.TokensScored,
                ["windows"] = result.Windows,
                ["window"] = w,
                ["tokens_total"] = tokens.Length,
                ["seconds"] = result.Seconds,
                ["tokens_per_second"] = Math.Round(result.TokensPerSecond, 1),
            };
        }, (console, r) => console.MarkupLineInterpolated($"perplexity [bold]{(double)r["ppl"]!:F4}[/] (mean NLL {(double)r["mean_nll"]!:F6}) over {r["windows"]} windows of {r["window"]} tokens, {r["seconds"]:F1} s")));
        return cmd;
    }
}
