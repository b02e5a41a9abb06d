using System.Text.Json.Nodes;
using Pare.Core;
using Pare.Torch;
using Pare.Torch.Pruning;
using Pare.Torch.Training;
using Spectre.Console;

namespace Pare.Cli;

/// <summary>The CLI side of MGPP/GMP: run with a progress bar, report as JSON, render as text.</summary>
public static class GradualPruning
{
    public static (Checkpoint Trained, MgppReport Report) Run(Checkpoint checkpoint, TokenBatches data, MgppOptions options, IAnsiConsole console)
    {
        using var model = new TorchLlama(checkpoint);
        var report = TrainingProgressBar.Run(console, options.Prior is null ? "gmp" : "mgpp", options.Steps, p => Mgpp.Run(model, data, options, p));
        return (model.ToCheckpoint(), report);
    }

    public static JsonObject ToJson(MgppReport r)
    {
        var schedule = new JsonArray();
        foreach (var s in r.Schedule)
            schedule.Add(new JsonObject { ["step"] = s.Step, ["target"] = Math.Round(s.Target, 6), ["sparsity"] = Math.Round(s.Sparsity, 6) });
        // Losses are long for long runs: every step's value is kept (scripts plot them), rounded.
        var losses = new JsonArray(r.Losses.Select(l => (JsonNode)Math.Round(l, 5)).ToArray());
        return new JsonObject
        {
            ["method"] = r.Method,
            ["sparsity_target"] = r.TargetSparsity,
            ["sparsity"] = Math.Round(r.Sparsity, 6),
            ["prunable_weights"] = r.PrunableWeights,
            ["steps"] = r.Steps,
            ["prune_start"] = r.PruneStart,
            ["prune_end"] = r.PruneEnd,
            ["prune_every"] = r.PruneEvery,
            ["tokens"] = r.Tokens,
            ["train_seconds"] = Math.Round(r.Seconds, 3),
            ["prior"] = r.Prior is null ? null : new JsonObject
            {
                ["sigma0_sq"] = r.Prior.SpikeVariance,
                ["sigma1_sq"] = r.Prior.SlabVariance,
                ["lambda"] = r.Prior.SlabWeight,
                ["data_size"] = r.Prior.DataSize,
                ["threshold"] = r.Prior.Threshold,
            },
            ["first_loss"] = Math.Round(r.Losses[0], 5),
            ["final_loss"] = Math.Round(r.Losses.Skip(r.Losses.Count - Math.Max(1, r.Losses.Count / 10)).Average(), 5),
            ["schedule"] = schedule,
            ["losses"] = losses,
        };
    }

    public static void Render(IAnsiConsole console, JsonObject r)
    {
        console.MarkupLineInterpolated($"[bold]{r["method"]}[/] to {r["sparsity_target"]}: sparsity {r["sparsity"]} of {r["prunable_weights"]} prunable weights, {r["steps"]} steps ({r["tokens"]} tokens), loss {r["first_loss"]} → {r["final_loss"]} → {r["out"]} ({r["format"]}), {r["seconds"]} s");
        var table = new Table().AddColumns("step", "target", "sparsity");
        foreach (var s in r["schedule"]!.AsArray())
            table.AddRow(s!["step"]!.ToString(), s["target"]!.ToString(), s["sparsity"]!.ToString());
        console.Write(table);
    }
}
