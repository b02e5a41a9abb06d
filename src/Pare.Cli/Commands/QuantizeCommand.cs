using System.CommandLine;
using System.Diagnostics;
using System.Text.Json.Nodes;
using Pare.Core;
using Pare.Core.Formats;
using Pare.Core.Formats.Gguf;
using Pare.Core.Formats.Safetensors;
using Pare.Core.Tensors;
using Pare.Torch;
using Pare.Torch.Pruning;
using Pare.Torch.Quantization;
using Spectre.Console;

namespace Pare.Cli.Commands;

/// <summary>
/// pare quantize: GPTQ or round to nearest on the symmetric group grid, optionally jointly with SparseGPT pruning
/// (--sparsity), written packed (GGUF q8_0/q4_0 blocks where the grid is theirs).
/// </summary>
public static class QuantizeCommand
{
    public static Command Create()
    {
        var model = new ModelOptions();
        var method = new Option<string>("--method") { Description = "gptq, or rtn (round to nearest, no calibration)", Required = true };
        method.AcceptOnlyFromAmong("gptq", "rtn");
        var bits = new Option<int>("--bits") { Description = "Bits per weight: 8, 4 or 3 (8 and 4 with --group 32 are GGUF's q8_0/q4_0)", DefaultValueFactory = _ => 4 };
        bits.AcceptOnlyFromAmong("8", "4", "3");
        var group = new Option<int>("--group") { Description = "Input columns per scale: 32, 64, 128, or 0 for one scale per row", DefaultValueFactory = _ => 32 };
        group.AcceptOnlyFromAmong("0", "32", "64", "128");
        var actOrder = new Option<bool>("--act-order") { Description = "GPTQ: quantise columns by decreasing diag H (groups then fixed from the dense weight)" };
        var sparsity = new Option<string?>("--sparsity") { Description = "Prune jointly with SparseGPT in the same pass: ratio (0.7) or N:M (2:4); gptq only" };
        var allocation = new Option<string>("--allocation") { Description = "With --sparsity: uniform, owl or aptc", DefaultValueFactory = _ => "uniform" };
        allocation.AcceptOnlyFromAmong("uniform", "owl", "aptc");
        var calibration = new Option<string?>("--calibration") { Description = "Calibration text file (gptq)" };
        var calibrationFormat = new Option<string>("--calibration-format") { Description = "tinystories or raw", DefaultValueFactory = _ => "tinystories" };
        calibrationFormat.AcceptOnlyFromAmong("tinystories", "raw");
        var calibrationSlice = new Option<string>("--calibration-slice") { Description = "Fractional part of the stories/rows to calibrate on, e.g. 0:0.5", DefaultValueFactory = _ => "0:1" };
        var samples = new Option<int>("--samples") { Description = "Calibration windows", DefaultValueFactory = _ => 128 };
        var seqlen = new Option<int>("--seqlen") { Description = "Tokens per calibration window", DefaultValueFactory = _ => 256 };
        var seed = new Option<int>("--seed") { Description = "Seed of the window draw", DefaultValueFactory = _ => 0 };
        var output = new Option<string>("--out") { Description = "Output model path", Required = true };
        var format = new Option<string?>("--format") { Description = "gguf, compressed-tensors (a safetensors folder vLLM loads), safetensors or llama2c (default: .gguf → gguf, otherwise compressed-tensors)" };
        format.AcceptOnlyFromAmong("gguf", "compressed-tensors", "safetensors", "llama2c");
        var cmd = new Command("quantize", "Quantise the decoder linears (GPTQ or RTN), optionally pruning them jointly with SparseGPT");
        model.AddTo(cmd);
        foreach (var o in new Option[] { method, bits, group, actOrder, sparsity, allocation, calibration, calibrationFormat, calibrationSlice, samples, seqlen, seed, output, format })
            cmd.Options.Add(o);

        cmd.SetAction(parse => CliContext.Run(parse, console =>
        {
            var sw = Stopwatch.StartNew();
            var checkpoint = model.LoadModel(parse);
            checkpoint.Validate(scanValues: false);
            var spec = new QuantizationSpec(parse.GetValue(bits), parse.GetValue(group), parse.GetValue(actOrder));
            string name = parse.GetValue(method)!;
            var pattern = parse.GetValue(sparsity) is { } s ? SparsityPattern.Parse(s) : SparsityPattern.Unstructured(0);
            if (name == "rtn" && pattern.Ratio > 0) throw new ArgumentException("--sparsity needs --method gptq (joint SparseGPT + GPTQ); prune first with pare prune to quantise a pruned model by RTN");
            if (name == "rtn" && spec.ActOrder) throw new ArgumentException("--act-order applies to gptq only");
            string alloc = parse.GetValue(allocation)!;
            if (alloc != "uniform" && pattern.Ratio == 0) throw new ArgumentException("--allocation needs --sparsity");
            var outPath = parse.GetValue(output)!;
            var outFormat = parse.GetValue(format) ?? (outPath.EndsWith(".gguf", StringComparison.OrdinalIgnoreCase) ? "gguf" : "compressed-tensors");
            int threads = parse.GetValue(model.Threads);
            if (threads < 1) throw new ArgumentException($"--threads must be at least 1, got {threads}");
            TorchSharp.torch.set_num_threads(threads);

            IPruner quantizer = name == "rtn" ? new RoundToNearest(spec)
                : pattern.Ratio > 0 ? new SparseGpt(grid: spec) : new Gptq(spec);
            var quantized = new Dictionary<string, GroupQuantizedMatrix>();
            Checkpoint result;
            PruneReport? report = null;
            if (name == "rtn")
            {
                result = RoundToNearest.Apply(checkpoint, spec, quantized);
            }
            else
            {
                var calibrationPath = parse.GetValue(calibration) ?? throw new ArgumentException("gptq needs --calibration");
                var tokenizer = model.LoadTokenizer(parse, checkpoint);
                var stream = PruneCommand.CalibrationStream(calibrationPath, parse.GetValue(calibrationFormat)!, parse.GetValue(calibrationSlice)!, tokenizer);
                var windows = CalibrationSamples.Draw(stream, parse.GetValue(samples), parse.GetValue(seqlen), parse.GetValue(seed));
                var options = new PruneOptions { Pruner = quantizer, Pattern = pattern, Owl = alloc == "owl", Aptc = alloc == "aptc" };
                Checkpoint done = null!;
                console.Progress().AutoClear(true).Start(ctx =>
                {
                    var tasks = new Dictionary<string, ProgressTask>();
                    (done, report) = SequentialPruner.Run(checkpoint, windows, options, p =>
                    {
                        if (!tasks.TryGetValue(p.Stage, out var task))
                            tasks[p.Stage] = task = ctx.AddTask(PruneCommand.StageName(p.Stage, quantizer.Name), maxValue: p.Total);
                        task.Value = p.Done;
                    }, quantized);
                });
                result = done;
            }

            var notes = new JsonArray();
            switch (outFormat)
            {
                case "gguf":
                    var vocabulary = checkpoint.Vocabulary ?? Pare.Core.Tokenizers.VocabularyFinder.Find(checkpoint, parse.GetValue(model.Tokenizer));
                    if (vocabulary == null) notes.Add("no vocabulary embedded: none in the model and no tokenizer given or beside it");
                    GgufWriter.Write(result, outPath, vocabulary);
                    break;
                case "compressed-tensors":
                    Pare.Core.Formats.CompressedTensors.CompressedTensorsWriter.Write(result, outPath, quantized, pattern.Ratio > 0 ? pattern.ToString() : null);
                    break;
                case "llama2c":
                    Llama2cWriter.Write(result, outPath);
                    notes.Add("llama2c has no quantised storage: the grid values are written as f32");
                    break;
                default:
                    HfWriter.Write(result, outPath);
                    notes.Add("plain safetensors: q8_0/q4_0 tensors are written dequantised to f32");
                    break;
            }
            long fileBytes = Directory.Exists(outPath) ? new DirectoryInfo(outPath).EnumerateFiles().Where(f => f.Extension == ".safetensors").Sum(f => f.Length) : new FileInfo(outPath).Length;
            var json = report != null
                ? PruneCommand.ToJson(report, checkpoint.Source, outPath, outFormat, pattern.IsNm ? PruneCommand.VerifyWritten(outPath, pattern, new PruneOptions { Pruner = quantizer, Pattern = pattern, Owl = alloc == "owl", Aptc = alloc == "aptc" }) : null, sw.Elapsed.TotalSeconds, Process.GetCurrentProcess().PeakWorkingSet64)
                : new JsonObject
                {
                    ["model"] = checkpoint.Source,
                    ["out"] = outPath,
                    ["format"] = outFormat,
                    ["method"] = "rtn",
                    ["sparsity_target"] = "0",
                    ["allocation"] = "uniform",
                    ["sparsity"] = 0.0,
                    ["seconds"] = Math.Round(sw.Elapsed.TotalSeconds, 3),
                    ["peak_rss_bytes"] = Process.GetCurrentProcess().PeakWorkingSet64,
                    ["layers"] = new JsonArray(),
                };
            json["quantization"] = new JsonObject
            {
                ["method"] = name,
                ["bits"] = spec.Bits,
                ["group"] = spec.GroupSize,
                ["act_order"] = spec.ActOrder,
                ["grid"] = spec.ToString(),
                ["quantized_linears"] = quantized.Count,
                ["ggml_blocks"] = quantized.Values.Count(m => m.IsGgml),
            };
            var stored = Pare.Eval.StorageSize.Of(result, quantized);
            json["parameters"] = result.ParameterCount;
            json["file_bytes"] = fileBytes;
            json["bytes_per_parameter"] = Math.Round((double)fileBytes / result.ParameterCount, 6);
            json["stored_bytes_per_parameter"] = Math.Round(stored.BytesPerParameter, 6);
            json["linear_bits_per_weight"] = Math.Round(stored.LinearBits, 6);
            json["sparse_linear_bits_per_weight"] = Math.Round(stored.SparseLinearBits, 6);
            json["notes"] = notes;
            return json;
        }, (console, r) =>
        {
            console.MarkupLineInterpolated($"[bold]{r["quantization"]!["method"]}[/] {r["quantization"]!["grid"]} sparsity {r["sparsity"]} → {r["out"]} ({r["format"]}, {r["file_bytes"]} bytes, {r["bytes_per_parameter"]} B/param), {r["seconds"]} s");
            if (r["layers"]!.AsArray().Count > 0) PruneCommand.Render(console, r);
            foreach (var n in r["notes"]!.AsArray()) console.MarkupLineInterpolated($"[yellow]note:[/] {n}");
        }));
        return cmd;
    }
}
