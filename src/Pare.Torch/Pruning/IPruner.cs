using Pare.Core.Tensors;
using static TorchSharp.torch;

namespace Pare.Torch.Pruning;

/// <summary>A one-shot pruning (or quantisation) method for one linear weight given its calibration statistics.</summary>
public interface IPruner
{
    /// <summary>Name as on the command line (magnitude, wanda, sparsegpt, gblm, gptq, rtn).</summary>
    string Name { get; }

    /// <summary>True when the method needs per-weight LM-loss gradient norms (GBLM).</summary>
    bool NeedsGradients { get; }

    /// <summary>
    /// Returns the pruned weight [out, in] (a new tensor). <paramref name="gradientNorm"/> is G = sqrt(Σ (α g)²)
    /// for the same weight when <see cref="NeedsGradients"/>.
    /// </summary>
    Tensor Prune(Tensor weight, LinearStatistics statistics, SparsityPattern pattern, Tensor? gradientNorm);

    /// <summary>
    /// The same, with the grid codes and scales when the method quantises (so the result can be stored packed
    /// without re-quantising); pruners that do not quantise return no codes.
    /// </summary>
    PrunedWeight Compress(Tensor weight, LinearStatistics statistics, SparsityPattern pattern, Tensor? gradientNorm)
        => new(Prune(weight, statistics, pattern, gradientNorm), null);
}

/// <summary>A pruned and/or quantised weight: its f32 values and, when quantised, the codes they came from.</summary>
public sealed record PrunedWeight(Tensor Weight, GroupQuantizedMatrix? Quantized);
