using System.CommandLine;
using System.Diagnostics;
using System.Text.Json.Nodes;
using Pare.Core;
using Pare.Core.Synthesis;
using Pare.Engine;
using Pare.Engine.Speculative;
using Pare.Engine.Weights;
using Pare.Eval;
using Spectre.Console;

namespace Pare.Cli.Commands;

/// <summary>
/// pare bench speculative-cost: what a speculative round costs in units of one plain decode step at a model's shape.
/// c(n) is the time of one target forward over n tokens at a fixed context position; verifying k drafts runs the
/// last context token plus the k drafts, so it costs c(k + 1)/c(1). A self-draft's cost is its one-token forward
/// over the target's. With τ from `pare bench speculative --json` it prints the predicted speed-up
/// τ / (k·c_draft + c(k + 1)/c(1)).
/// </summary>
public static class BenchSpeculativeCostCommand
{
    public static Command Create()
    {
        var modelPath = new Option<string?>("--model") { Description = "Model file (or use --synthetic)" };
        var synthetic = new Option<string?>("--synthetic") { Description = "Seeded random weights (pare synth's shapes: stories110m, tinyllama-1.1b, stories260k or dim=..,hidden=..) instead of a file" };
        var threads = new Option<int>("--threads") { Description = "Worker threads", DefaultValueFactory = _ => 1 };
        var position = new Option<int>("--position") { Description = "Context length at which the forwards run", DefaultValueFactory = _ => 128 };
        var maxK = new Option<int>("--max-k") { Description = "Largest draft length", DefaultValueFactory = _ => 8 };
        var drafters = new Option<string>("--drafters") { Description = "Drafters to cost: layers=N, int8, int4, f16, 2:4, model:PATH; lookup and oracle cost 0 (no model)", DefaultValueFactory = _ => "int8,int4,2:4,layers=1,layers=2" };
        var repeats = new Option<int>("--repeats") { Description = "Timed forwards per measurement (median)", DefaultValueFactory = _ => 7 };
        var tauFile = new Option<string?>("--tau") { Description = "JSON from `pare bench speculative --json`: predict speed-ups for its τ" };
        var cmd = new Command("speculative-cost", "Cost of verifying k tokens and of self-drafts, relative to one decode step; predicted speed-ups");
        foreach (var o in new Option[] { modelPath, synthetic, threads, position, maxK, drafters, repeats, tauFile }) cmd.Options.Add(o);

        cmd.SetAction(parse => CliContext.Run(parse, console =>
        {
            int nThreads = parse.GetValue(threads), pos = parse.GetValue(position), kMax = parse.GetValue(maxK), reps = Math.Max(1, parse.GetValue(repeats));
            LlamaWeights weights;
            string source;
            if (parse.GetValue(synthetic) is { } shape)
            {
                weights = LlamaWeights.FromCheckpoint(SyntheticModel.Create(SyntheticModel.Shape(shape), seed: 7));
                source = "synthetic " + shape;
            }
            else if (parse.GetValue(modelPath) is { } path)
            {
                weights = LlamaWeights.FromCheckpoint(Pare.Core.Formats.ModelLoader.Load(path));
                source = path;
            }
            else throw new ArgumentException("pass --model or --synthetic");
            if (pos + kMax + 1 > weights.Config.MaxSeqLen) throw new ArgumentException($"--position {pos} leaves no room for {kMax + 1} tokens in a context of {weights.Config.MaxSeqLen}");

            var target = new Transformer(weights, nThreads);
            var c = new double[kMax + 2];
            var draftCost = new JsonObject();
            var modelFree = new List<string>();
            console.Status().Start("timing forwards", _ =>
            {
                var drafts = new List<TransformerDrafter>();
                foreach (var spec in parse.GetValue(drafters)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                {
                    // Prompt lookup and the oracle evaluate no model: their draft cost is zero model steps.
                    if (spec is "lookup" or "oracle")
                    {
                        modelFree.Add(spec);
                        continue;
                    }
                    drafts.Add(DrafterSpec.Create(spec, target, 0f) as TransformerDrafter
                        ?? throw new ArgumentException($"drafter '{spec}' runs no model forward that could be timed; cost self-drafts (layers=N, int8, int4, f16, 2:4) or model:PATH"));
                }
                // Two passes, the first discarded: every shape and kernel is JIT-optimised before it is timed
                // (otherwise the first batched shape timed runs tier-0 code and looks several times too slow).
                // Batch sizes (and the drafts beside the one-token step) are timed in turn within each repeat, so
                // drifting machine load shifts all of them alike instead of skewing the ratios.
                for (int pass = 0; pass < 2; pass++)
                {
                    var models = Enumerable.Range(1, kMax + 1).Select(n => (target, n)).Concat(drafts.Select(d => (d.Model, 1))).ToArray();
                    var times = TimeInTurn(models, pos, pass == 0 ? 1 : reps);
                    for (int n = 1; n <= kMax + 1; n++) c[n] = times[n - 1];
                    for (int i = 0; i < drafts.Count; i++)
                        draftCost[drafts[i].Name] = Math.Round(times[kMax + 1 + i] / c[1], 4);
                }
                foreach (var name in modelFree) draftCost[name] = 0.0;
            });

            var verify = new JsonObject();
            for (int k = 1; k <= kMax; k++) verify[k.ToString(System.Globalization.CultureInfo.InvariantCulture)] = Math.Round(c[k + 1] / c[1], 4);
            var forward = new JsonObject();
            for (int n = 1; n <= kMax + 1; n++) forward[n.ToString(System.Globalization.CultureInfo.InvariantCulture)] = Math.Round(c[n] / c[1], 4);
            var result = new JsonObject
            {
                ["model"] = source,
                ["threads"] = nThreads,
                ["position"] = pos,
                ["step_seconds"] = c[1],
                ["forward_cost"] = forward,
                ["verify_cost"] = verify,
                ["draft_cost"] = draftCost,
            };
            if (parse.GetValue(tauFile) is { } tf) result["predicted"] = Predict(tf, c, draftCost, kMax);
            return result;
        }, Render));
        return cmd;
    }

    /// <summary>Predicted speed-up per row of a `bench speculative` result: τ / (k·c_draft + c(k+1)/c(1)).</summary>
    private static JsonArray Predict(string path, double[] c, JsonObject draftCost, int kMax)
    {
        if (!File.Exists(path)) throw new PareFormatException(path, "file not found");
        JsonNode? bench;
        try { bench = JsonNode.Parse(File.ReadAllText(path)); }
        catch (System.Text.Json.JsonException e) { throw new PareFormatException(path, $"not JSON: {e.Message}"); }
        var rows = bench?["drafters"] as JsonArray ?? throw new PareFormatException(path, "no `drafters` list (expected `pare bench speculative --json` output)");
        var predicted = new JsonArray();
        foreach (var row in rows)
        {
            string name = row!["drafter"]!.GetValue<string>();
            int k = row["k"]!.GetValue<int>();
            double tau = row["tau"]!.GetValue<double>();
            // Prompt lookup (and the oracle, a known continuation) evaluate no model; other drafters need a cost measured here.
            double? cd = name is "lookup" or "oracle" ? 0 : draftCost[name]?.GetValue<double>();
            if (cd == null || k > kMax) continue;
            double speedup = tau / (k * cd.Value + c[k + 1] / c[1]);
            predicted.Add(new JsonObject { ["drafter"] = name, ["k"] = k, ["tau"] = tau, ["draft_cost"] = cd, ["verify_cost"] = Math.Round(c[k + 1] / c[1], 4), ["predicted_speedup"] = Math.Round(speedup, 3) });
        }
        return predicted;
    }

    /// <summary>Median time of one forward of n tokens at the given position, for each (model, n), timed in turn.</summary>
    private static double[] TimeInTurn((Transformer Model, int N)[] runs, int position, int repeats)
    {
        var state = runs.Select(r =>
        {
            var cache = r.Model.NewCache(Math.Max(position, r.N) + r.N);
            var logits = new float[r.N * r.Model.Config.VocabSize];
            var tokens = new int[Math.Max(position, r.N)];
            for (int i = 0; i < tokens.Length; i++) tokens[i] = 3 + i * 7 % (r.Model.Config.VocabSize - 3);
            r.Model.Forward(tokens.AsSpan(0, position), cache, logits.AsSpan(0, r.Model.Config.VocabSize));
            // Warm up past the JIT's tiering (tier-0 code runs the first ~30 calls) and into steady caches.
            var warm = Stopwatch.StartNew();
            for (int i = 0; i < 40 || warm.ElapsedMilliseconds < 100; i++)
            {
                cache.Truncate(position);
                r.Model.Forward(tokens.AsSpan(0, r.N), cache, logits);
            }
            return (cache, logits, tokens);
        }).ToArray();
        var times = runs.Select(_ => new double[repeats]).ToArray();
        for (int rep = 0; rep < repeats; rep++)
        {
            for (int j = 0; j < runs.Length; j++)
            {
                var (cache, logits, tokens) = state[j];
                cache.Truncate(position);
                long t0 = Stopwatch.GetTimestamp();
                runs[j].Model.Forward(tokens.AsSpan(0, runs[j].N), cache, logits);
                times[j][rep] = Stopwatch.GetElapsedTime(t0).TotalSeconds;
            }
        }
        return times.Select(Median.Of).ToArray();
    }

    private static void Render(IAnsiConsole console, JsonObject result)
    {
        console.MarkupLineInterpolated($"{result["model"]}: one decode step {(double)result["step_seconds"]! * 1000:F2} ms at position {result["position"]}, {result["threads"]} thread(s)");
        var t = new Table().AddColumns("k", "verify cost c(k+1)/c(1)");
        foreach (var (k, v) in result["verify_cost"]!.AsObject()) t.AddRow(k, v!.ToString());
        console.Write(t);
        var d = new Table().AddColumns("self-draft", "cost per token / target");
        foreach (var (k, v) in result["draft_cost"]!.AsObject()) d.AddRow(k, v!.ToString());
        console.Write(d);
        if (result["predicted"] is JsonArray p)
        {
            var pt = new Table().AddColumns("drafter", "k", "τ", "c_draft", "verify", "predicted speed-up");
            foreach (var row in p) pt.AddRow(row!["drafter"]!.ToString(), row["k"]!.ToString(), row["tau"]!.ToString(), row["draft_cost"]!.ToString(), row["verify_cost"]!.ToString(), row["predicted_speedup"]!.ToString() + "×");
            console.Write(pt);
        }
    }
}
