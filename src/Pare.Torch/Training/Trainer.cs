using System.Diagnostics;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Pare.Torch.Training;

/// <summary>
/// The one training loop of Pare (plain fine-tuning, SDS's layer reconstruction, MGPP/GMP, draft heads, routers,
/// LoRA recovery): each step asks the caller for a loss, backpropagates, keeps pruned weights masked, clips the global
/// gradient norm, sets the scheduled learning rate and takes an AdamW step. Steps are deterministic for a seed: torch's
/// generator is reseeded from (seed, step) before every step, and callers draw their batch from the step index, so a
/// resumed run continues exactly where the interrupted one stopped.
/// </summary>
public static class Trainer
{
    public static TrainResult Run(IReadOnlyList<(string Name, Parameter Parameter)> parameters, TrainOptions options, Func<int, StepLoss> loss,
        WeightMasks? masks = null, Action<TrainProgress>? progress = null)
    {
        options.Validate();
        if (parameters.Count == 0) throw new ArgumentException("nothing to train: no parameters selected");
        var sw = Stopwatch.StartNew();
        // Callers may sit inside a no_grad region (the calibration pipeline runs SDS's reconstruction in one).
        using var grad = enable_grad();
        var ps = parameters.Select(p => p.Parameter).ToList();
        foreach (var p in ps) p.requires_grad_(true);
        using var optimizer = optim.AdamW(ps, options.LearningRate, options.Beta1, options.Beta2, options.Epsilon, options.WeightDecay);
        var losses = new List<double>();
        int start = 0;
        if (options.StatePath != null && TrainingState.TryLoad(options.StatePath, parameters, optimizer, options.Seed) is { } resumed)
        {
            (start, losses) = resumed;
            if (start > options.Steps) throw new InvalidOperationException($"training state in {options.StatePath} has {start} steps done, more than --steps {options.Steps}");
        }
        masks?.MaskWeights();
        long tokens = 0;
        for (int step = start; step < options.Steps; step++)
        {
            var stepClock = Stopwatch.StartNew();
            double lr = LearningRateSchedule.At(step, options);
            foreach (var g in optimizer.ParamGroups) g.LearningRate = lr;
            random.manual_seed(StepSeed(options.Seed, step));
            optimizer.zero_grad();
            double value, norm;
            Dictionary<string, double> parts;
            long stepTokens;
            using (var scope = NewDisposeScope())
            {
                var result = loss(step);
                value = result.Loss.item<float>();
                if (!double.IsFinite(value)) throw new InvalidOperationException($"training diverged: the loss is {value} at step {step + 1}; lower --lr");
                parts = result.Parts?.ToDictionary(kv => kv.Key, kv => (double)kv.Value.item<float>()) ?? new Dictionary<string, double>();
                stepTokens = result.Tokens;
                result.Loss.backward();
            }
            masks?.MaskGradients();
            norm = options.ClipNorm > 0 ? nn.utils.clip_grad_norm_(ps, options.ClipNorm) : GradientNorm(ps);
            optimizer.step();
            masks?.MaskWeights();
            losses.Add(value);
            tokens += stepTokens;
            progress?.Invoke(new TrainProgress(step + 1, options.Steps, value, parts, lr, norm, stepTokens / Math.Max(1e-9, stepClock.Elapsed.TotalSeconds)));
            if (options.StatePath != null && ((step + 1) % options.StateEvery == 0 || step + 1 == options.Steps))
                TrainingState.Save(options.StatePath, parameters, optimizer, step + 1, losses, options.Seed);
        }
        foreach (var p in ps)
        {
            p.requires_grad_(false);
            p.grad?.Dispose();
        }
        return new TrainResult(losses, start, sw.Elapsed.TotalSeconds, tokens);
    }

    /// <summary>The seed of one step's torch generator (dropout and anything else random inside the loss).</summary>
    public static long StepSeed(int seed, int step) => (long)seed * 1_000_003 + step;

    private static double GradientNorm(IEnumerable<Parameter> ps)
    {
        using var _ = no_grad();
        double sum = 0;
        foreach (var p in ps)
            if (p.grad is { } g) sum += g.square().sum().item<float>();
        return Math.Sqrt(sum);
    }
}
