using System.CommandLine;
using System.Diagnostics;
using System.Text.Json.Nodes;
using Pare.Core.Formats;
using Pare.Core.Tokenizers;
using Pare.Torch;
using Pare.Torch.Training;
using Spectre.Console;

namespace Pare.Cli.Commands;

/// <summary>pare train: plain LM fine-tuning on a text with the training core (AdamW, warm-up + cosine, clipping, seed, resumable state).</summary>
public static class TrainCommand
{
    public static Command Create()
    {
        var model = new ModelOptions();
        var data = new Option<string>("--data") { Description = "Training text file", Required = true };
        var dataFormat = new Option<string>("--data-format") { Description = "tinystories (stories split on <|endoftext|>, BOS each) or raw (rows joined with \\n\\n)", DefaultValueFactory = _ => "tinystories" };
        dataFormat.AcceptOnlyFromAmong("tinystories", "raw");
        var dataSlice = new Option<string>("--data-slice") { Description = "Fractional part of the stories/rows to train on, e.g. 0:0.5", DefaultValueFactory = _ => "0:1" };
        var steps = new Option<int>("--steps") { Description = "Optimiser steps", Required = true };
        var lr = new Option<double>("--lr") { Description = "Peak learning rate", DefaultValueFactory = _ => 5e-4 };
        var seqlen = new Option<int>("--seqlen") { Description = "Tokens per training window", DefaultValueFactory = _ => 256 };
        var batch = new Option<int>("--batch") { Description = "Windows per step", DefaultValueFactory = _ => 8 };
        var warmup = new Option<int?>("--warmup") { Description = "Warm-up steps (default: 5% of --steps)" };
        var decay = new Option<string>("--decay") { Description = "Learning-rate decay after warm-up: cosine, linear or constant", DefaultValueFactory = _ => "cosine" };
        decay.AcceptOnlyFromAmong("cosine", "linear", "constant");
        var weightDecay = new Option<double>("--weight-decay") { Description = "AdamW decoupled weight decay", DefaultValueFactory = _ => 0.0 };
        var clip = new Option<double>("--clip") { Description = "Global gradient-norm clip (0 = none)", DefaultValueFactory = _ => 1.0 };
        var trainable = new Option<string>("--trainable") { Description = "What trains: all, linears, norms, embeddings, layer=i, or tensor names (comma-separated)", DefaultValueFactory = _ => "all" };
        var keepSparsity = new Option<bool>("--keep-sparsity") { Description = "Keep the model's zero weights exactly zero (fine-tuning a pruned model)" };
        var seed = new Option<int>("--seed") { Description = "Seed of the batch draw and of torch", DefaultValueFactory = _ => 0 };
        var state = new Option<string?>("--state") { Description = "Folder for resumable training state; a run started again with it continues where it stopped" };
        var output = new Option<string>("--out") { Description = "Output model path (.bin llama2.c, .gguf, otherwise a safetensors folder)", Required = true };
        var cmd = new Command("train", "Fine-tune a model on a text (LM cross-entropy)");
        model.AddTo(cmd);
        foreach (var o in new Option[] { data, dataFormat, dataSlice, steps, lr, seqlen, batch, warmup, decay, weightDecay, clip, trainable, keepSparsity, seed, state, output })
            cmd.Options.Add(o);

        cmd.SetAction(parse => CliContext.Run(parse, console =>
        {
            var sw = Stopwatch.StartNew();
            int n = parse.GetValue(steps);
            var options = new TrainOptions
            {
                Steps = n,
                LearningRate = parse.GetValue(lr),
                WarmupSteps = parse.GetValue(warmup) ?? Math.Max(0, n / 20),
                Decay = Enum.Parse<LearningRateDecay>(parse.GetValue(decay)!, ignoreCase: true),
                WeightDecay = parse.GetValue(weightDecay),
                ClipNorm = parse.GetValue(clip),
                Seed = parse.GetValue(seed),
                StatePath = parse.GetValue(state),
            };
            options.Validate();
            var selection = TrainableSelection.Parse(parse.GetValue(trainable)!);
            var checkpoint = model.LoadModel(parse);
            checkpoint.Validate(scanValues: false);
            var tokenizer = model.LoadTokenizer(parse, checkpoint);
            int t = parse.GetValue(seqlen);
            if (t > checkpoint.Config.MaxSeqLen) throw new ArgumentException($"--seqlen {t} exceeds the model's context {checkpoint.Config.MaxSeqLen}");
            var stream = PruneCommand.CalibrationStream(parse.GetValue(data)!, parse.GetValue(dataFormat)!, parse.GetValue(dataSlice)!, tokenizer, "--data-slice");
            var batches = new TokenBatches(stream, t, parse.GetValue(batch), options.Seed);
            int threads = parse.GetValue(model.Threads);
            if (threads < 1) throw new ArgumentException($"--threads must be at least 1, got {threads}");
            TorchSharp.torch.set_num_threads(threads);

            using var torchModel = new TorchLlama(checkpoint);
            var parameters = selection.Apply(torchModel);
            using var masks = new WeightMasks();
            if (parse.GetValue(keepSparsity))
                foreach (var (_, p) in parameters) masks.SetFromZeros(p);
            var result = TrainingProgressBar.Run(console, "train", n, progress => Trainer.Run(parameters, options, step =>
            {
                var tokens = TorchLlama.Tokens(batches.At(step));
                return new StepLoss(Losses.NextTokenCrossEntropy(torchModel.Forward(tokens), tokens), batches.TokensPerStep);
            }, masks, progress));
            var outPath = parse.GetValue(output)!;
            var vocabulary = ModelWriter.FormatOf(outPath) == ModelWriter.Gguf ? VocabularyFinder.Find(checkpoint, parse.GetValue(model.Tokenizer)) : null;
            ModelWriter.Write(torchModel.ToCheckpoint(), outPath, vocabulary: vocabulary);
            return new JsonObject
            {
                ["model"] = checkpoint.Source,
                ["out"] = outPath,
                ["trainable"] = selection.Text,
                ["trainable_parameters"] = parameters.Sum(p => p.Parameter.numel()),
                ["steps"] = n,
                ["resumed_from"] = result.ResumedFrom,
                ["tokens"] = result.Tokens,
                ["first_loss"] = Math.Round(result.FirstLoss, 5),
                ["final_loss"] = Math.Round(result.FinalLoss, 5),
                ["losses"] = new JsonArray(result.Losses.Select(l => (JsonNode)Math.Round(l, 5)).ToArray()),
                ["train_seconds"] = Math.Round(result.Seconds, 3),
                ["tokens_per_second"] = Math.Round(result.Tokens / Math.Max(1e-9, result.Seconds), 1),
                ["seconds"] = Math.Round(sw.Elapsed.TotalSeconds, 3),
                ["peak_rss_bytes"] = Process.GetCurrentProcess().PeakWorkingSet64,
            };
        }, (c, r) => c.MarkupLineInterpolated($"trained {r["trainable_parameters"]} parameters ({r["trainable"]}) for {r["steps"]} steps, {r["tokens"]} tokens: loss {r["first_loss"]} → {r["final_loss"]}, {r["tokens_per_second"]} tok/s → {r["out"]}")));
        return cmd;
    }
}
