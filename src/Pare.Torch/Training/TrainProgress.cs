namespace Pare.Torch.Training;

/// <summary>One step's report: the loss (and its named parts), learning rate, gradient norm before clipping, throughput.</summary>
public sealed record TrainProgress(int Step, int Steps, double Loss, IReadOnlyDictionary<string, double> Parts, double LearningRate, double GradientNorm, double TokensPerSecond);

/// <summary>What one step's loss function returns: the scalar to minimise, the tokens it covered, and named parts to report.</summary>
public sealed record StepLoss(TorchSharp.torch.Tensor Loss, long Tokens, IReadOnlyDictionary<string, TorchSharp.torch.Tensor>? Parts = null);

/// <summary>A finished run: per-step losses, the step it resumed from (0 for a fresh run), time and tokens.</summary>
public sealed record TrainResult(IReadOnlyList<double> Losses, int ResumedFrom, double Seconds, long Tokens)
{
    public double FirstLoss => Losses.Count > 0 ? Losses[0] : double.NaN;
    /// <summary>Mean of the last tenth of the steps (at least one), a steadier end figure than the last step alone.</summary>
    public double FinalLoss => Losses.Count == 0 ? double.NaN : Losses.Skip(Losses.Count - Math.Max(1, Losses.Count / 10)).Average();
}
