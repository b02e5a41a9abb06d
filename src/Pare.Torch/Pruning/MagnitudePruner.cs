using Pare.Core.Sparsity;
using static TorchSharp.torch;

namespace Pare.Torch.Pruning;

/// <summary>
/// Magnitude pruning: unstructured with one threshold per matrix; N:M keeps the N largest |w| per group. The mask is
/// <see cref="MagnitudePruning"/>'s, the definition every other magnitude-pruned path uses too.
/// </summary>
public sealed class MagnitudePruner : IPruner
{
    public string Name => "magnitude";
    public bool NeedsGradients => false;

    public Tensor Prune(Tensor weight, LinearStatistics statistics, SparsityPattern pattern, Tensor? gradientNorm)
    {
        using var scope = NewDisposeScope();
        long rows = weight.shape[0], cols = weight.shape[1];
        var values = weight.detach().to(ScalarType.Float32).cpu().contiguous().data<float>().ToArray();
        var pruned = pattern.IsNm ? MagnitudePruning.NM(values, rows, cols, pattern.N, pattern.M) : MagnitudePruning.Unstructured(values, pattern.Ratio);
        return tensor(pruned, [rows, cols], dtype: ScalarType.Float32).to(weight.dtype, weight.device).MoveToOuterDisposeScope();
    }
}
