using System.CommandLine;
using System.Diagnostics;
using System.Text.Json.Nodes;
using Pare.Core;
using Pare.Core.Formats;
using Pare.Core.Formats.Gguf;
using Pare.Core.Formats.Safetensors;
using Pare.Core.Sparsity;
using Pare.Core.Tokenizers;
using Pare.Eval;
using Pare.Torch;
using Pare.Torch.Pruning;
using Spectre.Console;

namespace Pare.Cli.Commands;

/// <summary>pare prune: one-shot pruning (magnitude, Wanda, SparseGPT, GBLM; optional OWL allocation) with a calibration text.</summary>
public static class PruneCommand
{
    public static Command Create()
    {
        var model = new ModelOptions();
        var method = new Option<string>("--method") { Description = "magnitude, wanda, sparsegpt, gblm, sds (SparseGPT/Wanda, re-dense by layer-wise distillation, prune again), mgpp (fine-tune with a mixture Gaussian prior, cubic magnitude pruning) or gmp (the same without the prior)", Required = true };
        method.AcceptOnlyFromAmong("magnitude", "wanda", "sparsegpt", "gblm", "sds", "mgpp", "gmp");
        var baseMethod = new Option<string?>("--base") { Description = "SDS only: the one-shot method it runs twice, sparsegpt or wanda (default sparsegpt)" };
        var sdsDefaults = new SdsOptions();
        var sdsSteps = new Option<int>("--sds-steps") { Description = "SDS: re-dense optimiser steps per layer", DefaultValueFactory = _ => sdsDefaults.Steps };
        var sdsLr = new Option<double>("--sds-lr") { Description = "SDS: re-dense learning rate (AdamW, warm-up then cosine)", DefaultValueFactory = _ => sdsDefaults.LearningRate };
        var sdsLambda = new Option<double>("--sds-lambda") { Description = "SDS: weight of the L1 regulariser on the reactivated weights", DefaultValueFactory = _ => sdsDefaults.Lambda };
        var sdsAdjust = new Option<int>("--sds-adjust-steps") { Description = "SDS: masked reconstruction steps after the second pruning", DefaultValueFactory = _ => sdsDefaults.AdjustSteps };
        var sdsBatch = new Option<int>("--sds-batch") { Description = "SDS: calibration windows per optimiser step", DefaultValueFactory = _ => sdsDefaults.BatchSize };
        var sparsity = new Option<string>("--sparsity") { Description = "Unstructured ratio (0.5) or N:M (2:4, 4:8)", Required = true };
        var allocation = new Option<string>("--allocation") { Description = "uniform, owl (layer-wise outlier-weighted sparsity) or aptc (Aggressive PTC: estimated OBS loss, log-level clusters)", DefaultValueFactory = _ => "uniform" };
        allocation.AcceptOnlyFromAmong("uniform", "owl", "aptc");
        var calibration = new Option<string?>("--calibration", "--train") { Description = "Calibration text file (one-shot, SDS), or the training text of mgpp/gmp" };
        var calibrationFormat = new Option<string>("--calibration-format") { Description = "tinystories (stories split on <|endoftext|>, BOS each, concatenated) or raw (rows joined with \\n\\n, tokenized once)", DefaultValueFactory = _ => "tinystories" };
        calibrationFormat.AcceptOnlyFromAmong("tinystories", "raw");
        var calibrationSlice = new Option<string>("--calibration-slice", "--train-slice") { Description = "Fractional part of the stories/rows to calibrate on, e.g. 0:0.5 for the first half", DefaultValueFactory = _ => "0:1" };
        var samples = new Option<int>("--samples") { Description = "Calibration windows", DefaultValueFactory = _ => 128 };
        var seqlen = new Option<int>("--seqlen") { Description = "Tokens per calibration window", DefaultValueFactory = _ => 256 };
        var seed = new Option<int>("--seed") { Description = "Seed of the window draw", DefaultValueFactory = _ => 0 };
        var modules = new Option<string?>("--modules") { Description = "Comma-separated linears to prune (q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj; default all)" };
        var quantBits = new Option<int?>("--quantize-bits") { Description = "SparseGPT only: jointly quantize kept weights to this many bits (per-channel min-max grid; stored as f32 values on the grid)" };
        var mgppDefaults = new MgppOptions { Sparsity = 0.5 };
        var steps = new Option<int>("--steps") { Description = "mgpp/gmp: optimiser steps in all (warm-up, cubic pruning, fixed-mask fine-tuning)", DefaultValueFactory = _ => mgppDefaults.Steps };
        var lr = new Option<double>("--lr") { Description = "mgpp/gmp: peak learning rate", DefaultValueFactory = _ => mgppDefaults.LearningRate };
        var batch = new Option<int>("--batch") { Description = "mgpp/gmp: windows of --seqlen tokens per step", DefaultValueFactory = _ => 8 };
        var clip = new Option<double>("--clip") { Description = "mgpp/gmp: global gradient-norm clip (0 = none)", DefaultValueFactory = _ => mgppDefaults.ClipNorm };
        var pruneEvery = new Option<int>("--prune-every") { Description = "mgpp/gmp: steps between pruning steps (Δt)", DefaultValueFactory = _ => mgppDefaults.PruneEvery };
        var priorDefaults = new MixturePrior { DataSize = 1 };
        var sigma0 = new Option<double>("--sigma0") { Description = "mgpp: variance σ₀² of the prior's spike", DefaultValueFactory = _ => priorDefaults.SpikeVariance };
        var sigma1 = new Option<double>("--sigma1") { Description = "mgpp: variance σ₁² of the prior's slab", DefaultValueFactory = _ => priorDefaults.SlabVariance };
        var lambdaMix = new Option<double>("--lambda-mix") { Description = "mgpp: the slab's mixing weight λ", DefaultValueFactory = _ => priorDefaults.SlabWeight };
        var output = new Option<string>("--out") { Description = "Output model path", Required = true };
        var format = new Option<string?>("--format") { Description = "safetensors (HF folder), compressed-tensors (HF folder, sparse-bitmask compressor: what vLLM loads), gguf or llama2c (default: from --out: .gguf → gguf, .bin → llama2c, otherwise safetensors)" };
        format.AcceptOnlyFromAmong([.. ModelWriter.Formats, "compressed-tensors"]);
        var cmd = new Command("prune", "One-shot pruning with a calibration text");
        model.AddTo(cmd);
        foreach (var o in new Option[] { method, baseMethod, sdsSteps, sdsLr, sdsLambda, sdsAdjust, sdsBatch, sparsity, allocation, calibration, calibrationFormat, calibrationSlice, samples, seqlen, seed, modules, quantBits, steps, lr, batch, clip, pruneEvery, sigma0, sigma1, lambdaMix, output, format })
            cmd.Options.Add(o);

        cmd.SetAction(parse => CliContext.Run(parse, console =>
        {
            var sw = Stopwatch.StartNew();
            var checkpoint = model.LoadModel(parse);
            checkpoint.Validate(scanValues: false);
            var tokenizer = model.LoadTokenizer(parse, checkpoint);
            var pattern = SparsityPattern.Parse(parse.GetValue(sparsity)!);
            var outPath = parse.GetValue(output)!;
            var outFormat = parse.GetValue(format) ?? ModelWriter.FormatOf(outPath);
            // Found before the long pruning run, so a GGUF output without a vocabulary fails at once.
            var vocabulary = outFormat == ModelWriter.Gguf ? VocabularyFinder.Find(checkpoint, parse.GetValue(model.Tokenizer)) : null;
            if (outFormat == ModelWriter.Gguf && vocabulary == null)
                throw new ArgumentException($"{outPath}: a GGUF file needs the model's vocabulary and {checkpoint.Source} has none embedded or beside it: pass --tokenizer");
            var methodName = parse.GetValue(method)!;
            var calibrationPath = parse.GetValue(calibration)
                ?? throw new ArgumentException(methodName is "mgpp" or "gmp" ? "--train is required: the text to fine-tune on" : "--calibration is required: the text whose activations guide the pruning");
            var moduleList = parse.GetValue(modules) is { } m
                ? m.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(LinearKinds.ParseShortName).Distinct().ToList()
                : LinearKinds.All.ToList();
            int threads = parse.GetValue(model.Threads);
            if (threads < 1) throw new ArgumentException($"--threads must be at least 1, got {threads}");
            if (methodName is "mgpp" or "gmp")
            {
                if (pattern.IsNm) throw new ArgumentException($"--method {methodName} prunes unstructured: give --sparsity as a ratio in (0, 1), not {pattern}");
                var text = CalibrationStream(calibrationPath, parse.GetValue(calibrationFormat)!, parse.GetValue(calibrationSlice)!, tokenizer);
                var mgpp = new MgppOptions
                {
                    Sparsity = pattern.Ratio,
                    Steps = parse.GetValue(steps),
                    LearningRate = parse.GetValue(lr),
                    PruneEvery = parse.GetValue(pruneEvery),
                    ClipNorm = parse.GetValue(clip),
                    Seed = parse.GetValue(seed),
                    Modules = moduleList,
                    Prior = methodName == "gmp" ? null : new MixturePrior
                    {
                        SpikeVariance = parse.GetValue(sigma0),
                        SlabVariance = parse.GetValue(sigma1),
                        SlabWeight = parse.GetValue(lambdaMix),
                        DataSize = text.Length,
                    },
                };
                mgpp.Validate();
                var data = new Pare.Torch.Training.TokenBatches(text, parse.GetValue(seqlen), parse.GetValue(batch), parse.GetValue(seed));
                TorchSharp.torch.set_num_threads(threads);
                var (trained, mreport) = GradualPruning.Run(checkpoint, data, mgpp, console);
                ModelWriter.Write(trained, outPath, outFormat, vocabulary);
                var gradual = GradualPruning.ToJson(mreport);
                gradual["model"] = checkpoint.Source;
                gradual["out"] = outPath;
                gradual["format"] = outFormat;
                gradual["seconds"] = Math.Round(sw.Elapsed.TotalSeconds, 3);
                gradual["peak_rss_bytes"] = Process.GetCurrentProcess().PeakWorkingSet64;
                return gradual;
            }
            int? bits = parse.GetValue(quantBits);
            var baseName = parse.GetValue(baseMethod);
            Sds? sds = null;
            if (methodName == "sds")
            {
                baseName ??= "sparsegpt";
                if (baseName is not ("sparsegpt" or "wanda")) throw new ArgumentException($"--base must be sparsegpt or wanda, got '{baseName}'");
                sds = new Sds(new SdsOptions
                {
                    Steps = parse.GetValue(sdsSteps),
                    LearningRate = parse.GetValue(sdsLr),
                    Lambda = parse.GetValue(sdsLambda),
                    AdjustSteps = parse.GetValue(sdsAdjust),
                    BatchSize = parse.GetValue(sdsBatch),
                    Seed = parse.GetValue(seed),
                });
                methodName = baseName;
            }
            else if (baseName != null) throw new ArgumentException("--base works with --method sds only");
            var pruner = CreatePruner(methodName, bits);
            TorchSharp.torch.set_num_threads(threads);

            var stream = CalibrationStream(calibrationPath, parse.GetValue(calibrationFormat)!, parse.GetValue(calibrationSlice)!, tokenizer);
            var windows = CalibrationSamples.Draw(stream, parse.GetValue(samples), parse.GetValue(seqlen), parse.GetValue(seed));
            var options = new PruneOptions { Pruner = pruner, Pattern = pattern, Owl = parse.GetValue(allocation) == "owl", Aptc = parse.GetValue(allocation) == "aptc", Modules = moduleList, LayerHook = sds };

            Checkpoint pruned = null!;
            PruneReport report = null!;
            console.Progress().AutoClear(true).Start(ctx =>
            {
                var tasks = new Dictionary<string, ProgressTask>();
                (pruned, report) = SequentialPruner.Run(checkpoint, windows, options, p =>
                {
                    if (!tasks.TryGetValue(p.Stage, out var task))
                        tasks[p.Stage] = task = ctx.AddTask(StageName(p.Stage, pruner.Name), maxValue: p.Total);
                    task.Value = p.Done;
                });
            });

            if (outFormat == "compressed-tensors")
                Pare.Core.Formats.CompressedTensors.CompressedTensorsWriter.Write(pruned, outPath, new Dictionary<string, Pare.Core.Tensors.GroupQuantizedMatrix>(), pattern.ToString());
            else
                ModelWriter.Write(pruned, outPath, outFormat, vocabulary);
            var nm = VerifyWritten(outPath, pattern, options);
            var json = ToJson(report, checkpoint.Source, outPath, outFormat, nm, sw.Elapsed.TotalSeconds, Process.GetCurrentProcess().PeakWorkingSet64);
            if (sds != null) json["sds"] = JsonSerializerNode(sds.Settings);
            return json;
        }, (c, r) => { if (r["schedule"] is null) Render(c, r); else GradualPruning.Render(c, r); }));
        return cmd;
    }

    private static IPruner CreatePruner(string name, int? bits)
    {
        if (bits != null && name != "sparsegpt") throw new ArgumentException("--quantize-bits works with --method sparsegpt only");
        return name switch
        {
            "magnitude" => new MagnitudePruner(),
            "wanda" => new WandaPruner(),
            "sparsegpt" => new SparseGpt(quantizeBits: bits),
            "gblm" => new GblmPruner(),
            _ => throw new ArgumentException($"unknown method '{name}'"),
        };
    }

    internal static string StageName(string stage, string method) => stage switch
    {
        "gradients" => "GBLM gradients (per sample)",
        "owl" => "OWL outlier ratios (per layer)",
        "aptc" => "APTC estimated losses (per layer)",
        _ => $"{method} (per layer)",
    };

    /// <summary>The token stream of a calibration or training text: the protocol's split, the slice, the tokenizer.</summary>
    internal static int[] CalibrationStream(string path, string format, string slice, ITokenizer tokenizer, string sliceOption = "--calibration-slice")
        => EvalText.Tokens(path, format, TextSlice.Parse(slice, sliceOption), tokenizer);

    /// <summary>Reloads the written model and checks every pruned linear meets the N:M pattern it was given.</summary>
    internal static bool? VerifyWritten(string path, SparsityPattern pattern, PruneOptions options)
    {
        if (!pattern.IsNm) return null;
        var written = ModelLoader.Load(path);
        written.Validate(scanValues: false);
        for (int l = 0; l < written.Config.Layers; l++)
        {
            foreach (var kind in options.Modules)
            {
                var t = written[kind.TensorName(l)];
                // OWL may give a layer another N; the group length M is the same everywhere, and N ≤ M − 1.
                int n = options.Owl || options.Aptc ? pattern.M - 1 : pattern.N;
                NmPattern.Check(path, t.Name, t.ToFloat32(), t.Rows, t.Columns, n, pattern.M);
            }
        }
        return true;
    }

    internal static JsonObject ToJson(PruneReport r, string source, string outPath, string format, bool? nmValid, double seconds, long peakRss)
    {
        var layers = new JsonArray();
        foreach (var l in r.Layers)
        {
            var linears = new JsonArray();
            foreach (var x in l.Linears)
            {
                linears.Add(new JsonObject
                {
                    ["name"] = x.Name,
                    ["module"] = x.Module,
                    ["shape"] = new JsonArray(x.Rows, x.Columns),
                    ["pattern"] = x.Pattern,
                    ["sparsity"] = Math.Round(x.Sparsity, 6),
                    ["reconstruction_error"] = x.Error,
                    ["relative_error"] = x.RelativeError,
                });
            }
            layers.Add(new JsonObject
            {
                ["layer"] = l.Layer,
                ["pattern"] = l.Pattern,
                ["sparsity"] = Math.Round(l.Sparsity, 6),
                [r.Allocation == "aptc" ? "estimated_loss" : "outlier_ratio"] = l.OutlierRatio,
                ["reconstruction_error"] = l.Linears.Sum(x => x.Error),
                ["linears"] = linears,
                ["sds"] = l.Hook is SdsLayerReport h ? JsonSerializerNode(h) : null,
            });
        }
        return new JsonObject
        {
            ["model"] = source,
            ["out"] = outPath,
            ["format"] = format,
            ["method"] = r.Method,
            ["sparsity_target"] = r.Pattern,
            ["allocation"] = r.Allocation,
            ["samples"] = r.Samples,
            ["seqlen"] = r.SequenceLength,
            ["sparsity"] = Math.Round(r.Sparsity, 6),
            ["nm_valid"] = nmValid,
            ["prune_seconds"] = Math.Round(r.Seconds, 3),
            ["seconds"] = Math.Round(seconds, 3),
            ["peak_rss_bytes"] = peakRss,
            ["layers"] = layers,
        };
    }

    private static JsonNode? JsonSerializerNode<T>(T value) =>
        System.Text.Json.JsonSerializer.SerializeToNode(value, new System.Text.Json.JsonSerializerOptions { PropertyNamingPolicy = System.Text.Json.JsonNamingPolicy.SnakeCaseLower });

    internal static void Render(IAnsiConsole console, JsonObject r)
    {
        console.MarkupLineInterpolated($"[bold]{r["method"]}[/] {r["sparsity_target"]} ({r["allocation"]}): sparsity {r["sparsity"]} → {r["out"]} ({r["format"]}), {r["seconds"]} s, peak RSS {(long)r["peak_rss_bytes"]! / (1024.0 * 1024):F0} MiB");
        var table = new Table().AddColumns("layer", "pattern", "module", "sparsity", "‖WX−ŴX‖²", "relative");
        foreach (var l in r["layers"]!.AsArray())
            foreach (var x in l!["linears"]!.AsArray())
                table.AddRow(l["layer"]!.ToString(), x!["pattern"]!.ToString(), x["module"]!.ToString(), x["sparsity"]!.ToString(),
                    ((double)x["reconstruction_error"]!).ToString("G4"), ((double)x["relative_error"]!).ToString("G4"));
        console.Write(table);
    }
}
