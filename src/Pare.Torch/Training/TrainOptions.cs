namespace Pare.Torch.Training;

/// <summary>
/// The settings of one training run of <see cref="Trainer"/>: AdamW with decoupled weight decay, a linear warm-up
/// then the chosen decay, global gradient-norm clipping, a seed, and optional resumable state.
/// </summary>
public sealed record TrainOptions
{
    public required int Steps { get; init; }
    public required double LearningRate { get; init; }
    /// <summary>Steps of linear warm-up from 0 to the learning rate.</summary>
    public int WarmupSteps { get; init; }
    public LearningRateDecay Decay { get; init; } = LearningRateDecay.Cosine;
    /// <summary>The decayed learning rate's floor as a share of the peak.</summary>
    public double MinLearningRateRatio { get; init; } = 0.1;
    public double WeightDecay { get; init; }
    public double Beta1 { get; init; } = 0.9;
    public double Beta2 { get; init; } = 0.999;
    public double Epsilon { get; init; } = 1e-8;
    /// <summary>Global L2 norm the gradients are clipped to (0 = no clipping).</summary>
    public double ClipNorm { get; init; } = 1.0;
    public int Seed { get; init; }
    /// <summary>Folder for resumable state (parameters, optimiser moments, step); null = none.</summary>
    public string? StatePath { get; init; }
    /// <summary>Steps between state saves (the final step is always saved when <see cref="StatePath"/> is set).</summary>
    public int StateEvery { get; init; } = 100;

    public void Validate()
    {
        if (Steps < 1) throw new ArgumentException($"--steps must be at least 1, got {Steps}");
        if (!(LearningRate > 0) || double.IsInfinity(LearningRate)) throw new ArgumentException($"--lr must be a positive number, got {LearningRate}");
        if (WarmupSteps < 0 || WarmupSteps > Steps) throw new ArgumentException($"--warmup must be in [0, steps], got {WarmupSteps}");
        if (ClipNorm < 0) throw new ArgumentException($"--clip must be ≥ 0, got {ClipNorm}");
        if (WeightDecay < 0) throw new ArgumentException($"--weight-decay must be ≥ 0, got {WeightDecay}");
        if (MinLearningRateRatio is < 0 or > 1) throw new ArgumentException($"the minimum learning-rate ratio must be in [0, 1], got {MinLearningRateRatio}");
        if (StateEvery < 1) throw new ArgumentException($"state interval must be at least 1, got {StateEvery}");
    }
}

public enum LearningRateDecay
{
    Constant,
    Linear,
    Cosine,
}
