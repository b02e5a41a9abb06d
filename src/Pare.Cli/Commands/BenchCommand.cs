using System.CommandLine;
using System.Diagnostics;
using System.Text.Json.Nodes;
using Pare.Engine;
using Pare.Engine.Kernels;
using Pare.Engine.Weights;
using Pare.Eval;
using Spectre.Console;

namespace Pare.Cli.Commands;

/// <summary>
/// pare bench decode|prefill: Engine speed per weight format and thread count, beside the machine's read
/// bandwidth measured in the same run (decode reads every weight once per token, so bandwidth ÷ bytes per token
/// is its ceiling).
/// </summary>
public static class BenchCommand
{
    public static Command Create()
    {
        var bench = new Command("bench", "Measure Engine speed");
        bench.Subcommands.Add(Create(prefill: false));
        bench.Subcommands.Add(Create(prefill: true));
        bench.Subcommands.Add(BenchSpeculativeCommand.Create());
        bench.Subcommands.Add(BenchSpeculativeCostCommand.Create());
        return bench;
    }

    private static Command Create(bool prefill)
    {
        var model = new Option<string>("--model") { Description = "Model file (e.g. from pare synth)", Required = true };
        var weights = new Option<string>("--weights") { Description = $"Comma-separated formats: {string.Join(", ", WeightFormats.All)}", DefaultValueFactory = _ => "f32" };
        var threads = new Option<string>("--threads") { Description = "Comma-separated thread counts", DefaultValueFactory = _ => "1,2" };
        var tokens = new Option<int>("--tokens") { Description = prefill ? "Prompt length" : "Tokens decoded per run", DefaultValueFactory = _ => prefill ? 128 : 64 };
        var runs = new Option<int>("--runs") { Description = "Timed runs (median and min reported)", DefaultValueFactory = _ => 5 };
        var probeMib = new Option<int>("--probe-mib") { Description = "Size of the bandwidth probe's buffer in MiB (far larger than the caches)", DefaultValueFactory = _ => 512 };
        var routers = RouteCommand.RoutersOption();
        var tokenSparsity = new Option<string?>("--token-sparsity") { Description = "Comma-separated token sparsities to run with a stand-in router (an FTP router's cost, a fixed share of tokens skipping blocks 1..L-1), beside 0 = dense" };
        var cmd = new Command(prefill ? "prefill" : "decode", prefill ? "Prefill speed (tokens/s of one prompt)" : "Decode speed (tokens/s, GB/s, fraction of measured bandwidth)");
        foreach (var o in new Option[] { model, weights, threads, tokens, runs, probeMib, routers, tokenSparsity }) cmd.Options.Add(o);
        cmd.SetAction(parse => CliContext.Run(parse, console =>
        {
            var formats = parse.GetValue(weights)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(WeightFormats.Canonical).ToArray();
            var threadCounts = parse.GetValue(threads)!.Split(',', StringSplitOptions.RemoveEmptyEntries).Select(s => int.TryParse(s, out int t) && t >= 1 ? t : throw new ArgumentException($"--threads: '{s}' is not a positive integer")).ToArray();
            int n = parse.GetValue(tokens), r = parse.GetValue(runs), mib = parse.GetValue(probeMib);
            if (n < 1 || r < 1 || mib < 1) throw new ArgumentException("--tokens, --runs and --probe-mib must be positive");
            var checkpoint = Pare.Core.Formats.ModelLoader.Load(parse.GetValue(model)!);
            if (n + 1 > checkpoint.Config.MaxSeqLen) throw new ArgumentException($"--tokens {n} exceeds the model's context {checkpoint.Config.MaxSeqLen}");
            var notes = new JsonArray($"SIMD level {KernelDispatch.Level}, {Environment.ProcessorCount} logical CPUs");

            // Bandwidth is probed at the start and again right before and after each decode measurement, because
            // a VM's host bandwidth drifts; each decode row is compared with the probes taken beside it.
            using var probe = new MemoryBandwidth((long)mib << 20);
            var probes = threadCounts.Distinct().ToDictionary(t => t, _ => new List<double>());
            double[] Probe(int t)
            {
                using var w = new Workers(t);
                var gb = probe.Measure(w).Select(b => b / 1e9).ToArray();
                probes[t].AddRange(gb);
                return gb;
            }
            foreach (int t in probes.Keys) Probe(t);
            notes.Add($"bandwidth: streaming reads of a {probe.Bytes >> 20} MiB buffer, all threads timed together, 9 passes per probe; "
                + "probed at the start and, for decode, before and after each row; per row: the median of the probes beside it");

            // Routing variants: dense, then each stand-in sparsity, then trained routers when given.
            var variants = new List<(string Name, double Sparsity, ITokenRouter? Router)> { ("dense", 0, null) };
            if (parse.GetValue(tokenSparsity) is { } list)
                foreach (var part in list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                {
                    if (!double.TryParse(part, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out double ts) || !(ts >= 0 && ts < 1))
                        throw new ArgumentException($"--token-sparsity: '{part}' is not a sparsity in [0, 1)");
                    if (ts > 0) variants.Add(($"stand-in {ts}", ts, new SyntheticRouter(checkpoint.Config.Layers, checkpoint.Config.MaxSeqLen, ts)));
                }
            if (RouteCommand.LoadRouters(parse.GetValue(routers), checkpoint) is { } ftp) variants.Add(("ftp", ftp.Target, ftp));
            var results = new JsonArray();
            foreach (var format in formats)
            {
                var source = checkpoint;
                if (WeightFormats.IsSparse(format))
                {
                    var pruneNotes = new List<string>();
                    source = CheckpointWeights.PruneForSparse(checkpoint, format, pruneNotes);
                    foreach (var note in pruneNotes) notes.Add(note);
                }
                var engineWeights = LlamaWeights.FromCheckpoint(source, WeightMatrixFactory.To(format));
                foreach (int t in threadCounts)
                    foreach (var variant in variants)
                    {
                        double[] beside = prefill ? [] : Probe(t), speeds;
                        double cpuSeconds;
                        JsonObject? routing = null;
                        // The model's workers are gone before the probe after it, so none spins beside the probe's threads.
                        using (var transformer = new Transformer(engineWeights, t) { Router = variant.Router })
                        {
                            speeds = prefill ? Prefill(transformer, n, r, out cpuSeconds) : Decode(transformer, n, r, out cpuSeconds);
                            if (variant.Router != null) routing = RouteCommand.RoutingReport([transformer], checkpoint.Config.Layers);
                        }
                        if (!prefill) beside = [.. beside, .. Probe(t)];
                        Array.Sort(speeds);
                        double median = speeds[speeds.Length / 2];
                        long bytes = engineWeights.BytesPerToken;
                        var row = new JsonObject
                        {
                            ["format"] = format,
                            ["threads"] = t,
                            ["routing"] = variant.Name,
                            ["token_sparsity"] = routing?["mean"]?.GetValue<double>() ?? 0,
                            ["ideal_speedup"] = routing == null ? 1 : Math.Round(1 / (1 - routing["mean"]!.GetValue<double>()), 3),
                            ["tokens_per_second_median"] = Math.Round(median, 2),
                            ["tokens_per_second_min"] = Math.Round(speeds[0], 2),
                            ["tokens_per_second_max"] = Math.Round(speeds[^1], 2),
                            ["bytes_per_token"] = bytes,
                            // Process CPU time (all threads, spinning workers included) per token over the timed runs:
                            // on a loaded machine it shows what the kernels cost when wall time does not.
                            ["cpu_ms_per_token"] = Math.Round(cpuSeconds * 1000 / (r * (double)n), 3),
                        };
                        if (!prefill)
                        {
                            double gb = bytes * median / 1e9, near = Median.Of(beside);
                            row["effective_gb_per_second"] = Math.Round(gb, 2);
                            row["bandwidth_gb_per_second"] = Math.Round(near, 2);
                            row["bandwidth_gb_per_second_min"] = Math.Round(beside.Min(), 2);
                            row["bandwidth_gb_per_second_max"] = Math.Round(beside.Max(), 2);
                            row["fraction_of_bandwidth"] = Math.Round(gb / near, 3);
                            row["bandwidth_limit_tokens_per_second"] = Math.Round(near * 1e9 / bytes, 1);
                        }
                        if (variant.Router != null && results.LastOrDefault(x => x!["format"]!.GetValue<string>() == format && x["threads"]!.GetValue<int>() == t && x["routing"]!.GetValue<string>() == "dense") is { } dense)
                            row["speedup"] = Math.Round(median / dense["tokens_per_second_median"]!.GetValue<double>(), 3);
                        results.Add(row);
                        console.MarkupLineInterpolated($"[grey]{format} × {t} threads, {variant.Name}: {median:F1} tok/s[/]");
                    }
            }
            var bandwidth = new JsonObject();
            foreach (var row in results)
            {
                if (row!["effective_gb_per_second"] is { } gb)
                    row["fraction_of_run_bandwidth"] = Math.Round(gb.GetValue<double>() / Median.Of(probes[row["threads"]!.GetValue<int>()]), 3);
            }
            foreach (var (t, gb) in probes)
            {
                bandwidth[t.ToString()] = new JsonObject
                {
                    ["median"] = Math.Round(Median.Of(gb), 2),
                    ["min"] = Math.Round(gb.Min(), 2),
                    ["max"] = Math.Round(gb.Max(), 2),
                    ["passes"] = gb.Count,
                };
            }
            var c = checkpoint.Config;
            return new JsonObject
            {
                ["benchmark"] = prefill ? "prefill" : "decode",
                ["model"] = checkpoint.Source,
                ["shape"] = $"dim {c.Dim}, hidden {c.HiddenDim}, layers {c.Layers}, heads {c.Heads}, kv heads {c.KvHeads}, vocab {c.VocabSize}",
                ["parameters"] = checkpoint.ParameterCount,
                ["tokens"] = n,
                ["runs"] = r,
                ["bandwidth_gb_per_second"] = bandwidth,
                ["results"] = results,
                ["notes"] = notes,
            };
        }, Render));
        return cmd;
    }

    /// <summary>Warm-up lasts at least this long, so tiered JIT has replaced every hot method with optimised code.</summary>
    private static readonly TimeSpan WarmUp = TimeSpan.FromSeconds(2);

    /// <summary>Greedy decode of n tokens from BOS per run, after warm-up runs; tokens per second of each run.</summary>
    private static double[] Decode(Transformer model, int n, int runs, out double cpuSeconds)
    {
        var cache = model.NewCache(n + 1);
        var logits = new float[model.Config.VocabSize];
        return TimeRuns(runs, n, () =>
        {
            cache.Truncate(0);
            int token = 1;
            for (int i = 0; i < n; i++)
            {
                model.Forward(new ReadOnlySpan<int>(ref token), cache, logits);
                token = Simd.ArgMax(logits);
            }
        }, out cpuSeconds);
    }

    /// <summary>One forward over an n-token prompt per run, after a warm-up; prompt tokens per second.</summary>
    private static double[] Prefill(Transformer model, int n, int runs, out double cpuSeconds)
    {
        var cache = model.NewCache(n);
        var logits = new float[model.Config.VocabSize];
        var prompt = Enumerable.Range(0, n).Select(i => i == 0 ? 1 : 3 + (int)((i * 7919L) % (model.Config.VocabSize - 3))).ToArray();
        return TimeRuns(runs, n, () =>
        {
            cache.Truncate(0);
            model.Forward(prompt, cache, logits);
        }, out cpuSeconds);
    }

    /// <summary>
    /// Tokens per second of each of <paramref name="runs"/> timed runs, after untimed runs lasting at least
    /// <see cref="WarmUp"/>; also the process CPU time of the timed runs (spinning workers included).
    /// </summary>
    private static double[] TimeRuns(int runs, int tokens, Action run, out double cpuSeconds)
    {
        var speeds = new double[runs];
        long warmStart = Stopwatch.GetTimestamp();
        var cpuStart = TimeSpan.Zero;
        for (int r = -1; r < runs; r++)
        {
            if (r == 0 && Stopwatch.GetElapsedTime(warmStart) < WarmUp) r = -1;
            if (r == 0 && cpuStart == TimeSpan.Zero) cpuStart = Process.GetCurrentProcess().TotalProcessorTime;
            long start = Stopwatch.GetTimestamp();
            run();
            double seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
            if (r >= 0) speeds[r] = tokens / seconds;
        }
        cpuSeconds = (Process.GetCurrentProcess().TotalProcessorTime - cpuStart).TotalSeconds;
        return speeds;
    }

    private static void Render(IAnsiConsole console, JsonObject r)
    {
        console.MarkupLineInterpolated($"[bold]{r["benchmark"]}[/] {r["model"]} ({r["shape"]}), bandwidth GB/s by threads: {r["bandwidth_gb_per_second"]!.ToJsonString()}");
        var table = new Table();
        foreach (var h in new[] { "format", "threads", "tok/s median", "tok/s min", "MB/token", "GB/s", "bw beside", "of bw beside", "of run's bw" }) table.AddColumn(h);
        foreach (var row in r["results"]!.AsArray())
        {
            table.AddRow(
                row!["format"]!.ToString(), row["threads"]!.ToString(), row["tokens_per_second_median"]!.ToString(), row["tokens_per_second_min"]!.ToString(),
                (row["bytes_per_token"]!.GetValue<long>() / 1e6).ToString("F1"), row["effective_gb_per_second"]?.ToString() ?? "-",
                row["bandwidth_gb_per_second"]?.ToString() ?? "-",
                row["fraction_of_bandwidth"] is { } f ? $"{f.GetValue<double>():P0}" : "-",
                row["fraction_of_run_bandwidth"] is { } fr ? $"{fr.GetValue<double>():P0}" : "-");
        }
        console.Write(table);
        foreach (var n in r["notes"]!.AsArray()) console.MarkupLineInterpolated($"[grey]note: {n}[/]");
    }
}
