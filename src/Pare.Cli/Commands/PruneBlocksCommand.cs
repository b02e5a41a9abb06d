using System.CommandLine;
using System.Diagnostics;
using System.Text.Json.Nodes;
using Pare.Core;
using Pare.Core.Formats;
using Pare.Core.Formats.Gguf;
using Pare.Core.Formats.Safetensors;
using Pare.Core.Tokenizers;
using Pare.Engine;
using Pare.Eval;
using Pare.Torch.Pruning;
using Spectre.Console;

namespace Pare.Cli.Commands;

/// <summary>pare prune-blocks: remove whole blocks (ShortGPT) or attention/MLP sub-blocks (BlockPruner), writing a smaller model.</summary>
public static class PruneBlocksCommand
{
    public static Command Create()
    {
        var model = new ModelOptions();
        var method = new Option<string>("--method") { Description = "shortgpt (whole blocks by Block Influence) or blockpruner (attention/MLP sub-blocks, greedy by calibration perplexity)", Required = true };
        method.AcceptOnlyFromAmong("shortgpt", "blockpruner");
        var remove = new Option<int?>("--remove") { Description = "Blocks (shortgpt) or sub-blocks (blockpruner) to remove" };
        var sparsity = new Option<double?>("--sparsity") { Description = "Share of block compute to remove, in [0, 1): rounded to whole blocks (shortgpt) or sub-blocks, each half a block (blockpruner)" };
        var calibration = new Option<string>("--calibration") { Description = "Calibration text (TinyStories format)", Required = true };
        var calibrationSlice = new Option<string>("--calibration-slice") { Description = "Part of the stories to calibrate on", DefaultValueFactory = _ => "0:0.5" };
        var samples = new Option<int>("--samples") { Description = "Calibration windows", DefaultValueFactory = _ => 32 };
        var seqlen = new Option<int>("--seqlen") { Description = "Tokens per calibration window", DefaultValueFactory = _ => 256 };
        var seed = new Option<int>("--seed") { Description = "Seed of the window draw", DefaultValueFactory = _ => 0 };
        var output = new Option<string>("--out") { Description = "Output model path", Required = true };
        var format = new Option<string?>("--format") { Description = "safetensors, gguf or llama2c (default: from --out: .gguf → gguf, .bin → llama2c, otherwise safetensors)" };
        format.AcceptOnlyFromAmong("safetensors", "gguf", "llama2c");
        var cmd = new Command("prune-blocks", "Remove decoder blocks (ShortGPT) or sub-blocks (BlockPruner)");
        model.AddTo(cmd);
        foreach (var o in new Option[] { method, remove, sparsity, calibration, calibrationSlice, samples, seqlen, seed, output, format }) cmd.Options.Add(o);

        cmd.SetAction(parse => CliContext.Run(parse, console =>
        {
            var sw = Stopwatch.StartNew();
            var checkpoint = model.LoadModel(parse);
            checkpoint.Validate(scanValues: false);
            var tokenizer = model.LoadTokenizer(parse, checkpoint);
            string m = parse.GetValue(method)!;
            int layers = checkpoint.Config.Layers, units = m == "shortgpt" ? layers : 2 * layers;
            int count = Count(parse.GetValue(remove), parse.GetValue(sparsity), units);
            int threads = Math.Max(1, parse.GetValue(model.Threads));
            TorchSharp.torch.set_num_threads(threads);

            var textSlice = TextSlice.Parse(parse.GetValue(calibrationSlice)!);
            var stream = EvalText.TinyStoriesTokens(textSlice.Take(EvalText.Stories(EvalText.Read(parse.GetValue(calibration)!))), tokenizer);
            int len = parse.GetValue(seqlen);
            var windows = CalibrationSamples.Draw(stream, parse.GetValue(samples), len, parse.GetValue(seed));
            var flat = windows.SelectMany(w => w).ToArray();

            var removedParts = new List<(int Layer, SubBlock Part)>();
            var report = new JsonArray();
            console.Progress().AutoClear(true).Start(ctx =>
            {
                if (m == "shortgpt")
                {
                    var bar = ctx.AddTask("Block Influence (per layer)", maxValue: layers);
                    var bi = ShortGpt.Influence(checkpoint, windows, onLayerDone: d => bar.Value = d);
                    foreach (var b in bi) report.Add(new JsonObject { ["layer"] = b.Layer, ["block_influence"] = b.Value });
                    foreach (var l in ShortGpt.Choose(bi, count)) removedParts.AddRange([(l, SubBlock.Attention), (l, SubBlock.Mlp)]);
                }
                else
                {
                    var bar = ctx.AddTask("BlockPruner candidates", maxValue: Math.Max(1, Enumerable.Range(0, count).Sum(i => units - i)));
                    double Loss(Checkpoint c) => Perplexity.Evaluate(LlamaWeights.FromCheckpoint(c), flat, len, threads: threads).MeanNll;
                    foreach (var s in BlockPruner.Search(checkpoint, count, Loss, (d, _) => bar.Value = d))
                    {
                        removedParts.Add((s.Layer, s.Part));
                        report.Add(new JsonObject { ["layer"] = s.Layer, ["part"] = s.Part == SubBlock.Attention ? "attention" : "mlp", ["calibration_ppl"] = Math.Exp(s.Loss) });
                    }
                }
            });

            var pruned = BlockRemoval.Remove(checkpoint, removedParts);
            var outPath = parse.GetValue(output)!;
            var outFormat = parse.GetValue(format) ?? (outPath.EndsWith(".gguf", StringComparison.OrdinalIgnoreCase) ? "gguf"
                : outPath.EndsWith(".bin", StringComparison.OrdinalIgnoreCase) ? "llama2c" : "safetensors");
            switch (outFormat)
            {
                case "gguf": GgufWriter.Write(pruned, outPath, VocabularyFinder.Find(checkpoint, parse.GetValue(model.Tokenizer))); break;
                case "llama2c": Llama2cWriter.Write(pruned, outPath); break;
                default: HfWriter.Write(pruned, outPath); break;
            }
            // The written file must load as an ordinary model.
            var written = ModelLoader.Load(outPath);
            written.Validate(scanValues: false);
            return new JsonObject
            {
                ["model"] = checkpoint.Source,
                ["method"] = m,
                ["out"] = outPath,
                ["format"] = outFormat,
                ["removed"] = new JsonArray(removedParts.OrderBy(p => p.Layer).ThenBy(p => p.Part)
                    .Select(p => (JsonNode)new JsonObject { ["layer"] = p.Layer, ["part"] = p.Part == SubBlock.Attention ? "attention" : "mlp" }).ToArray()),
                ["block_compute_sparsity"] = removedParts.Count / (2.0 * layers),
                ["layers_written"] = written.Config.Layers,
                ["search"] = report,
                ["samples"] = windows.Count,
                ["seqlen"] = len,
                ["seconds"] = Math.Round(sw.Elapsed.TotalSeconds, 3),
            };
        }, (console, r) => console.MarkupLineInterpolated($"[bold]{r["method"]}[/]: removed {r["removed"]!.AsArray().Count} sub-blocks (block compute sparsity {(double)r["block_compute_sparsity"]!:P0}) → {r["out"]} ({r["format"]}, {r["layers_written"]} layers)")));
        return cmd;
    }

    internal static int Count(int? remove, double? sparsity, int units)
    {
        if ((remove is null) == (sparsity is null)) throw new ArgumentException("give exactly one of --remove N and --sparsity R");
        if (sparsity is double s)
        {
            if (!(s >= 0 && s < 1)) throw new ArgumentException($"--sparsity must be in [0, 1), got {s}");
            return (int)Math.Round(s * units, MidpointRounding.AwayFromZero);
        }
        if (remove < 0 || remove >= units) throw new ArgumentException($"--remove must be in 0..{units - 1}, got {remove}");
        return remove!.Value;
    }
}
