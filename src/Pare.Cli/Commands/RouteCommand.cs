using System.CommandLine;
using System.Text.Json.Nodes;
using Pare.Core;
using Pare.Engine;
using Pare.Eval;
using Pare.Torch.Routing;
using Spectre.Console;

namespace Pare.Cli.Commands;

/// <summary>pare route: train FTP token routers (genetic sparsity schedule + three-loss router training) for a model.</summary>
public static class RouteCommand
{
    public static Command Create()
    {
        var model = new ModelOptions();
        var method = new Option<string>("--method") { Description = "ftp", DefaultValueFactory = _ => "ftp" };
        method.AcceptOnlyFromAmong("ftp");
        var sparsity = new Option<double>("--token-sparsity") { Description = "Global token sparsity in [0, 1): mean over blocks of the share of tokens that skip each", Required = true };
        var data = new Option<string>("--data") { Description = "Training/calibration text (TinyStories format)", Required = true };
        var slice = new Option<string>("--data-slice") { Description = "Part of the stories to train on", DefaultValueFactory = _ => "0:0.5" };
        var steps = new Option<int>("--steps") { Description = "Router training steps", DefaultValueFactory = _ => 300 };
        var lr = new Option<double>("--lr") { Description = "Peak learning rate", DefaultValueFactory = _ => 3e-3 };
        var batch = new Option<int>("--batch") { Description = "Windows per step", DefaultValueFactory = _ => 8 };
        var seqlen = new Option<int>("--seqlen") { Description = "Tokens per window", DefaultValueFactory = _ => 128 };
        var generations = new Option<int>("--generations") { Description = "Generations of the sparsity scheduler (the fine-tune runs half as many)", DefaultValueFactory = _ => 10 };
        var population = new Option<int>("--population") { Description = "Schedules per generation", DefaultValueFactory = _ => 16 };
        var seed = new Option<int>("--seed") { Description = "Seed of windows, initial routers and the search", DefaultValueFactory = _ => 0 };
        var output = new Option<string>("--out") { Description = "Routers file (safetensors)", Required = true };
        var cmd = new Command("route", "Train token routers (FTP) that let tokens skip decoder blocks");
        model.AddTo(cmd);
        foreach (var o in new Option[] { method, sparsity, data, slice, steps, lr, batch, seqlen, generations, population, seed, output }) cmd.Options.Add(o);

        cmd.SetAction(parse => CliContext.Run(parse, console =>
        {
            var checkpoint = model.LoadModel(parse);
            checkpoint.Validate(scanValues: false);
            var tokenizer = model.LoadTokenizer(parse, checkpoint);
            double target = parse.GetValue(sparsity);
            if (!(target >= 0 && target < 1)) throw new ArgumentException($"--token-sparsity must be in [0, 1), got {target}");
            TorchSharp.torch.set_num_threads(Math.Max(1, parse.GetValue(model.Threads)));
            var textSlice = TextSlice.Parse(parse.GetValue(slice)!);
            var stream = EvalText.TinyStoriesTokens(textSlice.Take(EvalText.Stories(EvalText.Read(parse.GetValue(data)!))), tokenizer);
            int s = parse.GetValue(seed);
            var options = new FtpOptions
            {
                TokenSparsity = target,
                Steps = parse.GetValue(steps),
                LearningRate = parse.GetValue(lr),
                Batch = parse.GetValue(batch),
                SequenceLength = parse.GetValue(seqlen),
                Seed = s,
                Scheduler = new SchedulerOptions { Generations = parse.GetValue(generations), Population = parse.GetValue(population), Seed = s },
            };
            FtpResult result = null!;
            console.Progress().AutoClear(true).Start(ctx =>
            {
                var bars = new Dictionary<string, ProgressTask>();
                result = FtpRouter.Train(checkpoint, stream, options, (stage, done, total, _) =>
                {
                    if (total == 0) return;
                    if (!bars.TryGetValue(stage, out var bar)) bars[stage] = bar = ctx.AddTask(stage, maxValue: total);
                    bar.Value = done;
                });
            });
            result.Routers.Save(parse.GetValue(output)!);
            var c = checkpoint.Config;
            // Per token: the block's seven linears against one router (attention over the context comes on top of the
            // block, so this share is an upper bound).
            long block = (long)c.Dim * (2L * c.Dim + 2L * c.KvDim) + 3L * c.Dim * c.HiddenDim;
            return new JsonObject
            {
                ["model"] = checkpoint.Source,
                ["method"] = "ftp",
                ["out"] = parse.GetValue(output),
                ["token_sparsity"] = target,
                ["schedule"] = ToArray(result.Schedule),
                ["schedule_mean"] = result.Schedule.Average(),
                ["static_schedule"] = ToArray(result.StaticSchedule),
                ["realised_calibration_sparsity"] = ToArray(result.RealisedSparsity),
                ["static_rule"] = result.StaticRule,
                ["static_router_kl"] = result.StaticLoss,
                ["learned_router_kl"] = result.LearnedLoss,
                ["train_first_loss"] = result.Training.FirstLoss,
                ["train_final_loss"] = result.Training.FinalLoss,
                ["train_seconds"] = Math.Round(result.Training.Seconds, 2),
                ["router_multiply_adds"] = result.Routers.RouterMultiplyAdds,
                ["block_linear_multiply_adds"] = block,
                ["router_cost_share"] = (double)result.Routers.RouterMultiplyAdds / block,
                ["fingerprint"] = result.Routers.Fingerprint,
            };
        }, (console, r) => console.MarkupLineInterpolated($"FTP routers → {r["out"]}: schedule {r["schedule"]!.ToJsonString()}, KL to dense {(double)r["learned_router_kl"]!:F4} (static router {(double)r["static_router_kl"]!:F4})")));
        return cmd;
    }

    private static JsonArray ToArray(double[] v) => new(v.Select(x => (JsonNode)Math.Round(x, 6)).ToArray());

    /// <summary>The --routers option of eval, generate and bench.</summary>
    public static Option<string?> RoutersOption() => new("--routers") { Description = "FTP routers file (pare route): tokens skip the blocks their routers send them past" };

    /// <summary>Loads routers for a model, or null when none were given.</summary>
    public static FtpRouters? LoadRouters(string? path, Checkpoint checkpoint) => path == null ? null : FtpRouters.Load(path, checkpoint);

    /// <summary>Realised token sparsity per block and overall from models' routing counts.</summary>
    public static JsonObject RoutingReport(IEnumerable<Transformer> models, int layers)
    {
        var tokensIn = new long[layers];
        var computed = new long[layers];
        foreach (var m in models)
            for (int l = 0; l < layers; l++)
            {
                tokensIn[l] += m.TokensIn[l];
                computed[l] += m.TokensComputed[l];
            }
        var per = Enumerable.Range(0, layers).Select(l => tokensIn[l] == 0 ? 0 : 1 - (double)computed[l] / tokensIn[l]).ToArray();
        return new JsonObject { ["per_block"] = ToArray(per), ["mean"] = per.Average() };
    }
}
