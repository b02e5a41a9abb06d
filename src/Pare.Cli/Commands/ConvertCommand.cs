using System.CommandLine;
using System.Diagnostics;
using System.Text.Json.Nodes;
using Pare.Core;
using Pare.Core.Formats;
using Pare.Core.Tensors;
using Pare.Core.Tokenizers;
using Pare.Engine.Weights;
using Spectre.Console;

namespace Pare.Cli.Commands;

/// <summary>pare convert: any readable model format → safetensors (HF folder), GGUF or llama2.c.</summary>
public static class ConvertCommand
{
    public static readonly string[] Targets = ModelWriter.Formats;

    public static Command Create()
    {
        var model = new ModelOptions();
        var to = new Option<string>("--to") { Description = "Output format: safetensors (a folder), gguf or llama2c", Required = true };
        to.AcceptOnlyFromAmong(Targets);
        var output = new Option<string>("--out") { Description = "Output file (gguf, llama2c) or folder (safetensors)", Required = true };
        var weights = new Option<string?>("--weights") { Description = $"Re-encode the weight matrices: {string.Join(", ", WeightFormats.All)} (int8/int4 = GGUF q8_0/q4_0; sparse formats are magnitude-pruned and written densely)" };
        var cmd = new Command("convert", "Convert a model to another file format");
        model.AddTo(cmd, tokenizer: true, threads: false);
        cmd.Options.Add(to);
        cmd.Options.Add(output);
        cmd.Options.Add(weights);
        cmd.SetAction(parse => CliContext.Run(parse, console =>
        {
            var watch = Stopwatch.StartNew();
            var checkpoint = model.LoadModel(parse);
            string target = parse.GetValue(to)!, path = parse.GetValue(output)!;
            var notes = new JsonArray();
            if (parse.GetValue(weights) is { } weightFormat)
            {
                var encodeNotes = new List<string>();
                checkpoint = CheckpointWeights.Encode(checkpoint, weightFormat, encodeNotes);
                foreach (var note in encodeNotes) notes.Add(note);
            }
            if (checkpoint.Tensors.Values.Any(t => t.Type is DType.Q8_0 or DType.Q4_0) && target != "gguf")
                notes.Add($"{target} has no q8_0/q4_0 storage: those tensors are written dequantised to f32");
            VocabularyData? vocabulary = null;
            if (target == ModelWriter.Gguf)
                vocabulary = VocabularyFinder.Find(checkpoint, parse.GetValue(model.Tokenizer));
            else if (checkpoint.Vocabulary != null)
                notes.Add($"the embedded vocabulary is not written: {target} keeps the tokenizer in its own file");

            console.Status().Start($"writing {target} to {path}", _ => ModelWriter.Write(checkpoint, path, target, vocabulary));
            long bytes = ModelWriter.SizeOf(path);
            return new JsonObject
            {
                ["input"] = checkpoint.Source,
                ["input_format"] = checkpoint.Format,
                ["output"] = Path.GetFullPath(path),
                ["output_format"] = target,
                ["tensors"] = checkpoint.Tensors.Count,
                ["parameters"] = checkpoint.ParameterCount,
                ["bytes"] = bytes,
                ["vocabulary_embedded"] = vocabulary != null,
                ["seconds"] = Math.Round(watch.Elapsed.TotalSeconds, 3),
                ["notes"] = notes,
            };
        }, (console, r) =>
        {
            console.MarkupLineInterpolated($"wrote [bold]{r["output"]}[/] ({r["output_format"]}, {r["bytes"]} bytes, {r["tensors"]} tensors) from {r["input"]} ({r["input_format"]})");
            foreach (var n in r["notes"]!.AsArray()) console.MarkupLineInterpolated($"[yellow]note:[/] {n}");
        }));
        return cmd;
    }
}
