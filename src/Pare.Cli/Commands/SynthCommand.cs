using System.CommandLine;
using System.Diagnostics;
using System.Text.Json.Nodes;
using Pare.Core.Formats;
using Pare.Core.Synthesis;
using Pare.Core.Tokenizers;
using Spectre.Console;

namespace Pare.Cli.Commands;

/// <summary>pare synth: a model with seeded random weights at a real shape, for speed measurements.</summary>
public static class SynthCommand
{
    public static Command Create()
    {
        var shape = new Option<string>("--shape") { Description = "stories110m, tinyllama-1.1b, stories260k or dim=..,hidden=..,layers=..,heads=..,kv_heads=..,vocab=..[,seq=..][,tied=0|1]", Required = true };
        var seed = new Option<ulong>("--seed") { Description = "Random seed", DefaultValueFactory = _ => 1UL };
        var output = new Option<string>("--out") { Description = "Output file", Required = true };
        var format = new Option<string>("--format") { Description = "llama2c (legacy v0) or gguf", DefaultValueFactory = _ => "llama2c" };
        format.AcceptOnlyFromAmong(ModelWriter.Llama2c, ModelWriter.Gguf);
        var tokenizer = new Option<string?>("--tokenizer") { Description = "gguf: the vocabulary to embed (tokenizer.model, llama2.c tokenizer .bin or a GGUF vocabulary) with the shape's vocabulary size" };
        var cmd = new Command("synth", "Write a LLaMA model with seeded random weights (normal, std 0.02; norms 1)");
        foreach (var o in new Option[] { shape, seed, output, format, tokenizer }) cmd.Options.Add(o);
        cmd.SetAction(parse => CliContext.Run(parse, console =>
        {
            var watch = Stopwatch.StartNew();
            var config = SyntheticModel.Shape(parse.GetValue(shape)!);
            string path = parse.GetValue(output)!, target = parse.GetValue(format)!;
            var checkpoint = SyntheticModel.Create(config, parse.GetValue(seed));
            double generated = watch.Elapsed.TotalSeconds;
            var vocabulary = parse.GetValue(tokenizer) is { } t ? VocabularyFinder.Read(t, config.VocabSize) : null;
            console.Status().Start($"writing {target} to {path}", _ => ModelWriter.Write(checkpoint, path, target, vocabulary, name: "synthetic"));
            return new JsonObject
            {
                ["output"] = Path.GetFullPath(path),
                ["format"] = target,
                ["dim"] = config.Dim,
                ["hidden_dim"] = config.HiddenDim,
                ["layers"] = config.Layers,
                ["heads"] = config.Heads,
                ["kv_heads"] = config.KvHeads,
                ["vocab_size"] = config.VocabSize,
                ["seq_len"] = config.MaxSeqLen,
                ["tied_embeddings"] = config.TiedEmbeddings,
                ["parameters"] = checkpoint.ParameterCount,
                ["bytes"] = new FileInfo(path).Length,
                ["generate_seconds"] = Math.Round(generated, 3),
                ["seconds"] = Math.Round(watch.Elapsed.TotalSeconds, 3),
            };
        }, (console, r) => console.MarkupLineInterpolated($"wrote [bold]{r["output"]}[/] ({r["format"]}, {r["parameters"]} parameters, {r["bytes"]} bytes) in {r["seconds"]} s")));
        return cmd;
    }
}
