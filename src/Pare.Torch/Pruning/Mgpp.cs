using System.Diagnostics;
using Pare.Torch.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Pare.Torch.Pruning;

/// <summary>
/// MGPP, magnitude pruning with a mixture Gaussian prior (Zhang, Sun and Liang, arXiv 2411.00969), and its baseline
/// GMP, gradual magnitude pruning (Zhu and Gupta 2017), which is the same run without the prior. The whole model is
/// fine-tuned on the LM loss; the prunable weights (the decoder layers' seven linears; never embeddings, norms or the
/// classifier) carry the spike-and-slab prior π(w) = λ·N(0, σ₁²) + (1 − λ)·N(0, σ₀²), σ₀ ≪ σ₁, whose negative log
/// divided by the data size n is added to the loss, so the narrow spike pulls weights that the data does not hold up
/// toward zero while the broad slab acts on the rest as a mild weight decay. Three phases over T steps:
/// <list type="number">
/// <item>[0, tᵢ): fine-tuning, the prior's weight ramped linearly from 0 to 1 (annealed in, as the authors' code does);</item>
/// <item>[tᵢ, t_f]: every Δt steps, magnitude pruning to s_t = s_f·(1 − (1 − (t − tᵢ)/(t_f − tᵢ))³), one global ranking
/// of |w| over all prunable weights; between pruning steps the zeroed weights may regrow (the prior's spike holds them
/// down), as in the authors' code;</item>
/// <item>(t_f, T): the mask of step t_f is fixed (pruned weights stay exactly zero) and fine-tuning goes on.</item>
/// </list>
/// Choices where the paper leaves them open (also in docs/pruning.md): n = tokens of the training stream (the loss is
/// the mean per-token cross-entropy, so the prior is scaled as one more "token" of evidence per weight); exact counts
/// (the ⌊N·s_t⌋ smallest magnitudes) instead of a "less than the k-th value" threshold; AdamW with warm-up and cosine
/// decay from the training core.
/// </summary>
public static class Mgpp
{
    public static MgppReport Run(TorchLlama model, TokenBatches data, MgppOptions options, Action<TrainProgress>? progress = null)
    {
        options.Validate();
        var sw = Stopwatch.StartNew();
        var all = model.NamedTensors().ToList();
        var prunable = model.Layers.SelectMany((layer, l) => options.Modules.Select(k => (Name: k.TensorName(l), Weight: layer.Linear(k)))).ToList();
        long total = prunable.Sum(p => p.Weight.numel());
        var (ti, tf) = (options.PruneStart, options.PruneEnd);
        var prior = options.Prior;
        var schedule = new List<SparsityStep>();
        using var masks = new WeightMasks();
        var train = new TrainOptions
        {
            Steps = options.Steps,
            LearningRate = options.LearningRate,
            WarmupSteps = options.WarmupSteps,
            Decay = LearningRateDecay.Cosine,
            ClipNorm = options.ClipNorm,
            Seed = options.Seed,
        };

        StepLoss Loss(int t)
        {
            if (IsPruningStep(t, options))
            {
                double s = TargetAt(t, options);
                long pruned = MagnitudePrune(prunable.Select(p => p.Weight).ToList(), s);
                schedule.Add(new SparsityStep(t, s, (double)pruned / total));
                // From t_f on the mask is fixed: gradients and weights are masked on every later step.
                if (t == tf)
                    foreach (var (_, w) in prunable) masks.SetFromZeros(w);
            }
            var tokens = TorchLlama.Tokens(data.At(t));
            var ce = Losses.NextTokenCrossEntropy(model.Forward(tokens), tokens);
            if (prior is null) return new StepLoss(ce, data.TokensPerStep, new Dictionary<string, Tensor> { ["ce"] = ce });
            double ramp = ti == 0 ? 1 : Math.Min(1.0, (double)t / ti);
            var nlp = stack(prunable.Select(p => prior.NegativeLog(p.Weight)).ToArray()).sum() / (double)prior.DataSize;
            return new StepLoss(ce + ramp * nlp, data.TokensPerStep, new Dictionary<string, Tensor> { ["ce"] = ce, ["prior"] = nlp });
        }

        var result = Trainer.Run(all, train, Loss, masks, progress);
        long zeros = 0;
        using (no_grad())
            foreach (var (_, w) in prunable) zeros += w.eq(0).sum().item<long>();
        return new MgppReport(prior is null ? "gmp" : "mgpp", options.Sparsity, (double)zeros / total, total, options.Steps, ti, tf, options.PruneEvery,
            result.Losses, schedule, sw.Elapsed.TotalSeconds, result.Tokens, prior);
    }

    /// <summary>s_t of the cubic schedule: 0 before tᵢ, s_f from t_f on.</summary>
    public static double TargetAt(int t, MgppOptions o)
    {
        if (t < o.PruneStart) return 0;
        if (t >= o.PruneEnd) return o.Sparsity;
        double u = 1 - (double)(t - o.PruneStart) / (o.PruneEnd - o.PruneStart);
        return o.Sparsity * (1 - u * u * u);
    }

    /// <summary>Pruning happens every Δt steps after tᵢ and always at t_f, where the final mask is taken.</summary>
    public static bool IsPruningStep(int t, MgppOptions o) =>
        t == o.PruneEnd || (t > o.PruneStart && t < o.PruneEnd && (t - o.PruneStart) % o.PruneEvery == 0);

    /// <summary>Zeroes exactly ⌊N·s⌋ of the weights, the smallest |w| over all of them (one global ranking); returns the zero count.</summary>
    public static long MagnitudePrune(IReadOnlyList<Tensor> weights, double sparsity)
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var flat = cat(weights.Select(w => w.abs().flatten()).ToArray());
        long k = (long)(flat.shape[0] * sparsity);
        var keep = ones(flat.shape[0], dtype: ScalarType.Float32);
        if (k > 0) keep.index_fill_(0, flat.sort(stable: true).Indices.narrow(0, 0, k), 0f);
        long offset = 0, zeros = 0;
        foreach (var w in weights)
        {
            long n = w.numel();
            w.mul_(keep.narrow(0, offset, n).reshape(w.shape));
            zeros += w.eq(0).sum().item<long>();
            offset += n;
        }
        return zeros;
    }
}

/// <summary>
/// The spike-and-slab prior λ·N(0, σ₁²) + (1 − λ)·N(0, σ₀²) (variances, as the authors' code takes them) and the data
/// size n its negative log is divided by. Defaults from the authors' code: σ₀² = 1e-12, λ = 1e-7; σ₁² = 0.05 (their
/// range is 0.05–0.1; 0.05 is also the variance of stories260K's linears).
/// </summary>
public sealed record MixturePrior
{
    public double SpikeVariance { get; init; } = 1e-12;
    public double SlabVariance { get; init; } = 0.05;
    public double SlabWeight { get; init; } = 1e-7;
    public required long DataSize { get; init; }

    /// <summary>Σ −log π(w) + log π(0) over the tensor (zero for an all-zero tensor; the constant does not change gradients).</summary>
    public Tensor NegativeLog(Tensor w)
    {
        var w2 = w.square();
        double logSlab = Math.Log(SlabWeight) - 0.5 * Math.Log(SlabVariance);
        double logSpike = Math.Log(1 - SlabWeight) - 0.5 * Math.Log(SpikeVariance);
        var log = logaddexp(logSlab - w2 / (2 * SlabVariance), logSpike - w2 / (2 * SpikeVariance));
        double atZero = Math.Max(logSlab, logSpike) + Math.Log(1 + Math.Exp(Math.Min(logSlab, logSpike) - Math.Max(logSlab, logSpike)));
        return (atZero - log).sum();
    }

    /// <summary>|w| where the two components are equally likely: below it the spike dominates.</summary>
    public double Threshold =>
        Math.Sqrt(Math.Log((1 - SlabWeight) / SlabWeight * Math.Sqrt(SlabVariance / SpikeVariance)) / (0.5 / SpikeVariance - 0.5 / SlabVariance));

    public void Validate()
    {
        if (!(SpikeVariance > 0) || !(SlabVariance > SpikeVariance) || double.IsInfinity(SlabVariance))
            throw new ArgumentException($"the prior needs 0 < σ₀² < σ₁², got σ₀² = {SpikeVariance}, σ₁² = {SlabVariance}");
        if (!(SlabWeight > 0 && SlabWeight < 1)) throw new ArgumentException($"the prior's slab weight λ must be in (0, 1), got {SlabWeight}");
        if (DataSize < 1) throw new ArgumentException($"the prior's data size must be at least 1, got {DataSize}");
    }
}

/// <summary>
/// MGPP/GMP settings. Defaults: T = 600 steps, tᵢ = T/10, t_f = 7T/10 (the last 30 % fine-tune with the mask fixed),
/// Δt = 10 (the authors' code), peak learning rate 5e-4 with a 5 % warm-up.
/// </summary>
public sealed record MgppOptions
{
    public required double Sparsity { get; init; }
    public int Steps { get; init; } = 600;
    public double LearningRate { get; init; } = 5e-4;
    public int? PruneStartStep { get; init; }
    public int? PruneEndStep { get; init; }
    public int PruneEvery { get; init; } = 10;
    public double ClipNorm { get; init; } = 1.0;
    public int Seed { get; init; }
    /// <summary>The prior, or null for GMP.</summary>
    public MixturePrior? Prior { get; init; }
    public IReadOnlyList<LinearKind> Modules { get; init; } = LinearKinds.All;

    public int PruneStart => PruneStartStep ?? Steps / 10;
    public int PruneEnd => PruneEndStep ?? Steps * 7 / 10;
    public int WarmupSteps => Math.Max(1, Steps / 20);

    public void Validate()
    {
        if (!(Sparsity > 0 && Sparsity < 1)) throw new ArgumentException($"--sparsity must be a ratio in (0, 1) for gradual pruning, got {Sparsity}");
        if (Steps < 1) throw new ArgumentException($"--steps must be at least 1, got {Steps}");
        if (!(LearningRate > 0) || double.IsInfinity(LearningRate)) throw new ArgumentException($"--lr must be a positive number, got {LearningRate}");
        if (PruneEvery < 1) throw new ArgumentException($"--prune-every must be at least 1, got {PruneEvery}");
        if (!(0 <= PruneStart && PruneStart < PruneEnd && PruneEnd < Steps))
            throw new ArgumentException($"the pruning window needs 0 ≤ start < end < steps, got start {PruneStart}, end {PruneEnd}, steps {Steps} (use more --steps)");
        Prior?.Validate();
    }
}

/// <summary>One pruning step of the schedule: the target s_t and the sparsity reached over the prunable weights.</summary>
public sealed record SparsityStep(int Step, double Target, double Sparsity);

/// <summary>What an MGPP or GMP run did: per-step losses, the sparsity schedule as applied, and the final sparsity.</summary>
public sealed record MgppReport(string Method, double TargetSparsity, double Sparsity, long PrunableWeights, int Steps, int PruneStart, int PruneEnd, int PruneEvery,
    IReadOnlyList<double> Losses, IReadOnlyList<SparsityStep> Schedule, double Seconds, long Tokens, MixturePrior? Prior);
