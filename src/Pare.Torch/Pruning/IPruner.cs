using static TorchSharp.torch;

namespace Pare.Torch.Pruning;

/// <summary>A one-shot pruning method for one linear weight given its calibration statistics.</summary>
public interface IPruner
{
    /// <summary>Name as on the command line (magnitude, wanda, sparsegpt, gblm).</summary>
    string Name { get; }

    /// <summary>True when the method needs per-weight LM-loss gradient norms (GBLM).</summary>
    bool NeedsGradients { get; }

    /// <summary>
    /// Returns the pruned weight [out, in] (a new tensor). <paramref name="gradientNorm"/> is G = sqrt(Σ (α g)²)
    /// for the same weight when <see cref="NeedsGradients"/>.
    /// </summary>
    Tensor Prune(Tensor weight, LinearStatistics statistics, SparsityPattern pattern, Tensor? gradientNorm);
}
