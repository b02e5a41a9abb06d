using static TorchSharp.torch;

namespace Pare.Torch.Pruning;

/// <summary>Magnitude pruning: unstructured with one threshold per matrix; N:M keeps the N largest |w| per group.</summary>
public sealed class MagnitudePruner : IPruner
{
    public string Name => "magnitude";
    public bool NeedsGradients => false;

    public Tensor Prune(Tensor weight, LinearStatistics statistics, SparsityPattern pattern, Tensor? gradientNorm)
    {
        using var scope = NewDisposeScope();
        var mask = PruneMask.PerMatrix(weight.abs(), pattern);
        return weight.masked_fill(mask, 0f).MoveToOuterDisposeScope();
    }
}
