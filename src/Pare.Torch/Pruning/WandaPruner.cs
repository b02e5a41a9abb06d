using static TorchSharp.torch;

namespace Pare.Torch.Pruning;

/// <summary>Wanda: prune the lowest |W|·‖X‖ within each output row (or each N:M group); no weight update.</summary>
public sealed class WandaPruner : IPruner
{
    public string Name => "wanda";
    public bool NeedsGradients => false;

    public Tensor Prune(Tensor weight, LinearStatistics statistics, SparsityPattern pattern, Tensor? gradientNorm)
    {
        using var scope = NewDisposeScope();
        var mask = PruneMask.PerRow(WandaScorer.Score(weight, statistics), pattern);
        return weight.masked_fill(mask, 0f).MoveToOuterDisposeScope();
    }
}
