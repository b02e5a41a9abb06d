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
        eval.Subcommands.Add(CreateZeroShot());
        eval.Subcommands.Add(CreateCloze());
        return eval;
    }

    private static readonly string[] StandardTasks = ["piqa", "arc_easy", "arc_challenge", "boolq", "winogrande", "openbook_qa", "copa", "lambada_openai"];

    private static Command CreateZeroShot()
    {
        var model = new ModelOptions();
        var tasks = new Option<string>("--tasks") { Description = $"Comma-separated task names ({string.Join(", ", StandardTasks)}, {TinyStoriesCloze.CompletionName}, {TinyStoriesCloze.ChoiceName}) or JSONL files in llm-foundry's formats", Required = true };
        var limit = new Option<int?>("--limit") { Description = "Score at most this many items per task" };
        var taskDir = new Option<string>("--task-dir") { Description = "Folder of the named tasks' JSONL files", DefaultValueFactory = _ => Path.Combine("..", "shared", "data", "zeroshot") };
        var stories = new Option<string>("--stories") { Description = "TinyStories text the cloze tasks are built from", DefaultValueFactory = _ => Path.Combine("..", "shared", "data", "tinystories", "TinyStories-valid.head.txt") };
        var slice = new Option<string>("--slice") { Description = "Part of the stories the cloze tasks use (default the second half, disjoint from calibration on the first)", DefaultValueFactory = _ => "0.5:1" };
        var delimiter = new Option<string>("--delimiter") { Description = "Text between context and continuation", DefaultValueFactory = _ => " " };
        var routers = RouteCommand.RoutersOption();
        var cmd = new Command("zeroshot", "Zero-shot accuracy (acc, acc_norm, acc_per_token; exact match and perplexity for completions) with standard errors");
        model.AddTo(cmd);
        foreach (var o in new Option[] { tasks, limit, taskDir, stories, slice, delimiter, routers }) cmd.Options.Add(o);

        cmd.SetAction(parse => CliContext.Run(parse, console =>
        {
            var checkpoint = model.LoadModel(parse);
            var tokenizer = model.LoadTokenizer(parse, checkpoint);
            var weights = LlamaWeights.FromCheckpoint(checkpoint);
            var router = RouteCommand.LoadRouters(parse.GetValue(routers), checkpoint);
            var models = new RoutedModels(weights, router);
            int? n = parse.GetValue(limit);
            if (n is < 1) throw new ArgumentException($"--limit must be at least 1, got {n}");
            var list = new List<ZeroShotTask>();
            foreach (var name in parse.GetValue(tasks)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                if (name is TinyStoriesCloze.CompletionName or TinyStoriesCloze.ChoiceName)
                {
                    var textSlice = TextSlice.Parse(parse.GetValue(slice)!);
                    var all = textSlice.Take(EvalText.Stories(EvalText.Read(parse.GetValue(stories)!))).ToList();
                    list.Add(name == TinyStoriesCloze.CompletionName ? TinyStoriesCloze.Completion(all, n) : TinyStoriesCloze.MultipleChoice(all, limit: n));
                }
                else if (StandardTasks.Contains(name))
                    list.Add(ZeroShotTask.Load(Path.Combine(parse.GetValue(taskDir)!, name + ".jsonl"), name, parse.GetValue(delimiter)!, n));
                else if (name.EndsWith(".jsonl", StringComparison.Ordinal) || File.Exists(name))
                    list.Add(ZeroShotTask.Load(name, null, parse.GetValue(delimiter)!, n));
                else
                    throw new ArgumentException($"unknown task '{name}'; expected one of {string.Join(", ", StandardTasks)}, {TinyStoriesCloze.CompletionName}, {TinyStoriesCloze.ChoiceName} or a .jsonl file");
            }
            int threads = parse.GetValue(model.Threads);
            var results = new List<ZeroShotResult>();
            console.Progress().AutoClear(true).Start(ctx =>
            {
                foreach (var task in list)
                {
                    var bar = ctx.AddTask($"{task.Name}, {task.Items.Count} items", maxValue: task.Items.Count);
                    results.Add(ZeroShot.Evaluate(task, tokenizer, models.New, threads, d => bar.Value = d));
                }
            });
            var json = new JsonObject { ["model"] = checkpoint.Source, ["routers"] = parse.GetValue(routers) };
            if (router != null) json["token_sparsity"] = RouteCommand.RoutingReport(models.All, checkpoint.Config.Layers);
            var tasksJson = new JsonObject();
            foreach (var r in results)
            {
                var t = new JsonObject { ["kind"] = r.Kind == ZeroShotKind.MultipleChoice ? "multiple_choice" : "completion", ["items"] = r.Items, ["seconds"] = Math.Round(r.Seconds, 2) };
                foreach (var (metric, value) in r.Metrics)
                {
                    t[metric] = value.Value;
                    t[metric + "_stderr"] = double.IsFinite(value.StdErr) ? value.StdErr : null;
                }
                tasksJson[r.Task] = t;
            }
            json["tasks"] = tasksJson;
            return json;
        }, (console, r) =>
        {
            var table = new Table().AddColumns("task", "items", "metric", "value", "± stderr");
            foreach (var (task, node) in r["tasks"]!.AsObject())
                foreach (var (key, value) in node!.AsObject())
                {
                    if (key is "kind" or "items" or "seconds" || key.EndsWith("_stderr", StringComparison.Ordinal)) continue;
                    table.AddRow(task, node["items"]!.ToString(), key, $"{(double)value!:F4}", node[key + "_stderr"] is { } se ? $"{(double)se:F4}" : "");
                }
            console.Write(table);
        }));
        return cmd;
    }

    private static Command CreateCloze()
    {
        var data = new Option<string>("--data") { Description = "TinyStories text (stories separated by <|endoftext|>)", Required = true };
        var slice = new Option<string>("--slice") { Description = "Part of the stories to use", DefaultValueFactory = _ => "0.5:1" };
        var choices = new Option<int>("--choices") { Description = "Choices per item (1 = the completion variant)", DefaultValueFactory = _ => 4 };
        var limit = new Option<int?>("--limit") { Description = "At most this many items" };
        var seed = new Option<int>("--seed") { Description = "Seed of the distractors and gold positions", DefaultValueFactory = _ => 0 };
        var output = new Option<string>("--out") { Description = "JSONL file to write (llm-foundry format)", Required = true };
        var cmd = new Command("cloze", "Write the TinyStories cloze task (last word of each story) as a JSONL task file");
        foreach (var o in new Option[] { data, slice, choices, limit, seed, output }) cmd.Options.Add(o);
        cmd.SetAction(parse => CliContext.Run(parse, console =>
        {
            var textSlice = TextSlice.Parse(parse.GetValue(slice)!);
            var stories = textSlice.Take(EvalText.Stories(EvalText.Read(parse.GetValue(data)!))).ToList();
            int k = parse.GetValue(choices);
            var task = k == 1 ? TinyStoriesCloze.Completion(stories, parse.GetValue(limit)) : TinyStoriesCloze.MultipleChoice(stories, k, parse.GetValue(seed), parse.GetValue(limit));
            var path = parse.GetValue(output)!;
            File.WriteAllLines(path, TinyStoriesCloze.ToJsonLines(task));
            return new JsonObject { ["out"] = path, ["items"] = task.Items.Count, ["choices"] = k };
        }));
        return cmd;
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
        var routers = RouteCommand.RoutersOption();
        var cmd = new Command("ppl", "Perplexity over non-overlapping windows");
        model.AddTo(cmd);
        foreach (var o in new Option[] { data, format, window, maxWindows, slice, routers }) cmd.Options.Add(o);

        cmd.SetAction(parse => CliContext.Run(parse, console =>
        {
            var checkpoint = model.LoadModel(parse);
            var tokenizer = model.LoadTokenizer(parse, checkpoint);
            var weights = LlamaWeights.FromCheckpoint(checkpoint);
            var router = RouteCommand.LoadRouters(parse.GetValue(routers), checkpoint);
            var models = new RoutedModels(weights, router);
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
                    : Perplexity.Evaluate(weights, tokens, w, parse.GetValue(maxWindows), parse.GetValue(model.Threads), done => task.Value = done, models.New);
            });
            return new JsonObject
            {
                ["routers"] = parse.GetValue(routers),
                ["token_sparsity"] = router == null ? null : RouteCommand.RoutingReport(models.All, checkpoint.Config.Layers),
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

    /// <summary>One single-threaded Engine per evaluation worker, all with the same routers, kept for the routing report.</summary>
    private sealed class RoutedModels(LlamaWeights weights, Pare.Engine.FtpRouters? router)
    {
        public System.Collections.Concurrent.ConcurrentBag<Transformer> All { get; } = new();

        public Transformer New()
        {
            var m = new Transformer(weights, threads: 1) { Router = router };
            All.Add(m);
            return m;
        }
    }
}
