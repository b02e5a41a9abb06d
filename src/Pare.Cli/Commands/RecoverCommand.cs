using System.CommandLine;
using System.Diagnostics;
using System.Text.Json.Nodes;
using Pare.Core.Formats;
using Pare.Torch;
using Pare.Torch.Training;
using Spectre.Console;

namespace Pare.Cli.Commands;

/// <summary>pare recover: LoRA recovery of a pruned model on chosen data (all, random, ASSL, PASER), optionally self-data distilled by the dense teacher.</summary>
public static class RecoverCommand
{
    public static Command Create()
    {
        var model = new ModelOptions();
        var teacher = new Option<string>("--teacher") { Description = "The dense model the pruned one came from", Required = true };
        var data = new Option<string>("--data") { Description = "Recovery data: FILE or DOMAIN=FILE, comma-separated (stories, raw text, Brown .tgz, JSONL)", Required = true };
        var select = new Option<string>("--select") { Description = "all, random, assl or paser", DefaultValueFactory = _ => "all" };
        select.AcceptOnlyFromAmong("all", "random", "assl", "paser");
        var budget = new Option<double>("--budget") { Description = "Share of the training samples to keep, in (0, 1]", DefaultValueFactory = _ => 0.1 };
        var selfDistill = new Option<bool>("--self-distill") { Description = "Have the teacher regenerate the chosen samples (self-data distillation)" };
        var rank = new Option<int>("--lora-rank") { Description = "LoRA rank", DefaultValueFactory = _ => 8 };
        var alpha = new Option<double>("--lora-alpha") { Description = "LoRA alpha (update scale alpha/rank)", DefaultValueFactory = _ => 16 };
        var targets = new Option<string>("--lora-targets") { Description = "Linears with adapters: all or q_proj,k_proj,…", DefaultValueFactory = _ => "all" };
        var dropout = new Option<double>("--lora-dropout") { Description = "Dropout on the adapters' input while training", DefaultValueFactory = _ => 0.0 };
        var steps = new Option<int>("--steps") { Description = "Optimiser steps", Required = true };
        var lr = new Option<double>("--lr") { Description = "Peak learning rate", DefaultValueFactory = _ => 2e-3 };
        var seqlen = new Option<int>("--seqlen") { Description = "Tokens per training window (samples are cut to it)", DefaultValueFactory = _ => 256 };
        var batch = new Option<int>("--batch") { Description = "Windows per step", DefaultValueFactory = _ => 8 };
        var maxSamples = new Option<int>("--max-samples") { Description = "Training samples per domain at most (the first of its training part)", DefaultValueFactory = _ => 300 };
        var clusters = new Option<int>("--clusters") { Description = "PASER's K-means clusters", DefaultValueFactory = _ => 8 };
        var encoder = new Option<string>("--encoder") { Description = "Semantic space: minilm (all-MiniLM-L6-v2; falls back to hidden states with a warning) or hidden", DefaultValueFactory = _ => "minilm" };
        encoder.AcceptOnlyFromAmong("minilm", "hidden");
        var evalWindow = new Option<int>("--eval-window") { Description = "Held-out perplexity window", DefaultValueFactory = _ => 128 };
        var evalWindows = new Option<int>("--eval-windows") { Description = "Held-out windows per domain at most (0 = no evaluation)", DefaultValueFactory = _ => 16 };
        var seed = new Option<int>("--seed") { Description = "Seed of selection, batches, LoRA init and generation", DefaultValueFactory = _ => 0 };
        var cache = new Option<string?>("--cache") { Description = "Folder to keep embeddings and degradation scores in between runs on the same data and models" };
        var output = new Option<string>("--out") { Description = "Recovered model path (.bin llama2.c, .gguf, otherwise a safetensors folder)", Required = true };
        var cmd = new Command("recover", "Recover a pruned model with LoRA on chosen data (all/random/ASSL/PASER, optional self-data distillation)");
        model.AddTo(cmd);
        foreach (var o in new Option[] { teacher, data, select, budget, selfDistill, rank, alpha, targets, dropout, steps, lr, seqlen, batch, maxSamples, clusters, encoder, evalWindow, evalWindows, seed, cache, output })
            cmd.Options.Add(o);

        cmd.SetAction(parse => CliContext.Run(parse, console =>
        {
            var sw = Stopwatch.StartNew();
            int n = parse.GetValue(steps);
            int threads = parse.GetValue(model.Threads);
            if (threads < 1) throw new ArgumentException($"--threads must be at least 1, got {threads}");
            var settings = new RecoverySettings
            {
                Data = parse.GetValue(data)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
                Select = parse.GetValue(select)!,
                Budget = parse.GetValue(budget),
                SelfDistill = parse.GetValue(selfDistill),
                Lora = new LoraOptions { Rank = parse.GetValue(rank), Alpha = parse.GetValue(alpha), Targets = LoraOptions.ParseTargets(parse.GetValue(targets)!), Dropout = parse.GetValue(dropout), Seed = parse.GetValue(seed) },
                Train = new TrainOptions { Steps = n, LearningRate = parse.GetValue(lr), WarmupSteps = Math.Max(0, n / 20), Seed = parse.GetValue(seed) },
                SeqLen = parse.GetValue(seqlen),
                Batch = parse.GetValue(batch),
                MaxSamples = parse.GetValue(maxSamples),
                Clusters = parse.GetValue(clusters),
                Encoder = parse.GetValue(encoder)!,
                EvalWindow = parse.GetValue(evalWindow),
                EvalWindows = parse.GetValue(evalWindows),
                Threads = threads,
                CacheDir = parse.GetValue(cache),
            };
            settings.Validate();
            var pruned = model.LoadModel(parse);
            pruned.Validate(scanValues: false);
            var dense = Pare.Core.Formats.ModelLoader.Load(parse.GetValue(teacher)!);
            dense.Validate(scanValues: false);
            var tokenizer = model.LoadTokenizer(parse, pruned);

            RecoveryResult r = null!;
            console.Progress().AutoClear(true).Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn()).Start(ctx =>
            {
                var tasks = new Dictionary<string, ProgressTask>();
                ProgressTask Task(string stage, int total) => tasks.TryGetValue(stage, out var t) ? t : tasks[stage] = ctx.AddTask(stage, maxValue: Math.Max(1, total));
                var train = ctx.AddTask("train", autoStart: false, maxValue: n);
                double smooth = double.NaN;
                r = RecoveryPipeline.Run(pruned, dense, tokenizer, settings,
                    p => Task(p.Stage, p.Total).Value = p.Done,
                    p =>
                    {
                        if (!train.IsStarted) train.StartTask();
                        smooth = double.IsNaN(smooth) ? p.Loss : 0.9 * smooth + 0.1 * p.Loss;
                        train.Description = $"train · loss {smooth:F4} · {p.TokensPerSecond:F0} tok/s";
                        train.Value = p.Step;
                    });
                foreach (var t in tasks.Values) t.Value = t.MaxValue;
            });
            if (r.EmbedderWarning is { } w) console.MarkupLineInterpolated($"[yellow]warning:[/] {w}");
            var outPath = parse.GetValue(output)!;
            ModelWriter.Write(r.Recovered, outPath);
            return ToJson(r, settings, pruned.Source, dense.Source, outPath, sw.Elapsed.TotalSeconds);
        }, Render));
        return cmd;
    }

    private static JsonObject ToJson(RecoveryResult r, RecoverySettings s, string model, string teacher, string outPath, double seconds)
    {
        var domains = new JsonArray(r.Domains.Select(d => (JsonNode)new JsonObject
        {
            ["domain"] = d.Domain,
            ["train_samples"] = d.TrainSamples,
            ["chosen"] = d.Chosen,
            ["eval_samples"] = d.EvalSamples,
            ["ppl_dense"] = Math.Round(d.DensePpl, 4),
            ["ppl_pruned"] = Math.Round(d.PrunedPpl, 4),
            ["ppl_recovered"] = Math.Round(d.RecoveredPpl, 4),
            ["recovered_share"] = double.IsNaN(d.RecoveredShare) ? null : Math.Round(d.RecoveredShare, 4),
        }).ToArray());
        var shares = r.Domains.Select(d => d.RecoveredShare).Where(x => !double.IsNaN(x)).ToList();
        var chosen = new JsonArray(r.Selection.Chosen.Select(c => (JsonNode)new JsonObject
        {
            ["domain"] = r.Pool[c.Index].Domain,
            ["index"] = r.Pool[c.Index].Index,
            ["cluster"] = c.Cluster,
            ["density"] = double.IsNaN(c.Density) ? null : c.Density,
            ["score"] = double.IsNaN(c.Score) ? null : Math.Round(c.Score, 5),
            ["reason"] = c.Reason,
        }).ToArray());
        return new JsonObject
        {
            ["model"] = model,
            ["teacher"] = teacher,
            ["out"] = outPath,
            ["select"] = s.Select,
            ["budget"] = s.Select == "all" ? 1.0 : s.Budget,
            ["self_distill"] = s.SelfDistill,
            ["samples"] = r.Pool.Count,
            ["chosen_count"] = r.Selection.Chosen.Count,
            ["embedder"] = r.Embedder,
            ["embedder_warning"] = r.EmbedderWarning,
            ["clusters"] = new JsonArray(r.Selection.Clusters.Select(c => (JsonNode)new JsonObject { ["id"] = c.Id, ["size"] = c.Size, ["quota"] = c.Quota, ["mean_score"] = Math.Round(c.MeanScore, 5) }).ToArray()),
            ["dropped_conflicting"] = r.Selection.Dropped,
            ["lora"] = new JsonObject { ["rank"] = s.Lora.Rank, ["alpha"] = s.Lora.Alpha, ["targets"] = string.Join(",", s.Lora.Targets.Select(k => k.ShortName())), ["dropout"] = s.Lora.Dropout, ["parameters"] = r.LoraParameters, ["masked_to_pruning"] = r.MaskedLora },
            ["steps"] = s.Train.Steps,
            ["tokens"] = r.Training.Tokens,
            ["first_loss"] = Math.Round(r.Training.FirstLoss, 5),
            ["final_loss"] = Math.Round(r.Training.FinalLoss, 5),
            ["domains"] = domains,
            ["mean_recovered_share"] = shares.Count > 0 ? Math.Round(shares.Average(), 4) : null,
            ["stage_seconds"] = new JsonObject(r.Seconds.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value))),
            ["train_seconds"] = Math.Round(r.Training.Seconds, 3),
            ["seconds"] = Math.Round(seconds, 3),
            ["peak_rss_bytes"] = Process.GetCurrentProcess().PeakWorkingSet64,
            ["chosen"] = chosen,
        };
    }

    private static void Render(IAnsiConsole c, JsonObject r)
    {
        var table = new Table().AddColumns("domain", "chosen", "ppl dense", "ppl pruned", "ppl recovered", "recovered share");
        foreach (var d in r["domains"]!.AsArray())
            table.AddRow(d!["domain"]!.ToString(), d["chosen"]!.ToString(), d["ppl_dense"]!.ToString(), d["ppl_pruned"]!.ToString(), d["ppl_recovered"]!.ToString(), d["recovered_share"]?.ToString() ?? "-");
        c.Write(table);
        c.MarkupLineInterpolated($"{r["select"]} ({r["chosen_count"]} of {r["samples"]} samples{(r["self_distill"]!.GetValue<bool>() ? ", self-distilled" : "")}), LoRA {r["lora"]!["parameters"]} parameters, {r["steps"]} steps: loss {r["first_loss"]} → {r["final_loss"]}, mean recovered share {r["mean_recovered_share"]} → {r["out"]}");
    }
}
