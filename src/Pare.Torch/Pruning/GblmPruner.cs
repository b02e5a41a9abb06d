using static TorchSharp.torch;

namespace Pare.Torch.Pruning;

/// <summary>
/// GBLM-Pruner: S = |W|·‖X_j‖₂ + |W|·G with G = sqrt(Σ_samples (α g)²) from per-sample LM-loss gradients
/// (<see cref="GradientNorms"/>), masked per row like Wanda.
/// </summary>
public sealed class GblmPruner : IPruner
{
    public string Name => "gblm";
    public bool NeedsGradients => true;

    public Tensor Prune(Tensor weight, LinearStatistics statistics, SparsityPattern pattern, Tensor? gradientNorm)
    {
        if (gradientNorm is null) throw new ArgumentException("GBLM needs the gradient norms of the weight");
        using var scope = NewDisposeScope();
        var score = WandaScorer.Score(weight, statistics) + weight.abs() * gradientNorm.abs();
        var mask = PruneMask.PerRow(score, pattern);
        return weight.masked_fill(mask, 0f).MoveToOuterDisposeScope();
    }
}
