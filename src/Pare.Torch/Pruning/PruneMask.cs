using TorchSharp;
using static TorchSharp.torch;

namespace Pare.Torch.Pruning;

/// <summary>
/// Turns importance scores [rows, cols] into a prune mask (true = set to zero). Lowest scores go first; counts are
/// exact (k = ⌊n·ratio⌋ per comparison group), where the reference code's "≤ threshold" may take a few more on ties.
/// </summary>
public static class PruneMask
{
    /// <summary>Compares within each row (Wanda, GBLM) or, for N:M, within each group of M input columns of a row.</summary>
    public static Tensor PerRow(Tensor score, SparsityPattern pattern)
        => pattern.IsNm ? Nm(score, pattern.N, pattern.M) : RowUnstructured(score, pattern.Ratio);

    /// <summary>One comparison group for the whole matrix (magnitude); N:M is per row as always.</summary>
    public static Tensor PerMatrix(Tensor score, SparsityPattern pattern)
    {
        if (pattern.IsNm) return Nm(score, pattern.N, pattern.M);
        using var scope = NewDisposeScope();
        var flat = score.flatten();
        long k = (long)(flat.shape[0] * pattern.Ratio);
        var mask = zeros(flat.shape[0], dtype: ScalarType.Bool);
        if (k > 0)
        {
            var idx = flat.sort(stable: true).Indices.narrow(0, 0, k);
            mask.index_fill_(0, idx, true);
        }
        return mask.reshape(score.shape).MoveToOuterDisposeScope();
    }

    private static Tensor RowUnstructured(Tensor score, double ratio)
    {
        using var scope = NewDisposeScope();
        long cols = score.shape[1];
        long k = (long)(cols * ratio);
        var mask = zeros_like(score, dtype: ScalarType.Bool);
        if (k > 0)
        {
            var idx = score.sort(dim: 1, stable: true).Indices.narrow(1, 0, k);
            mask.scatter_(1, idx, ones_like(idx, dtype: ScalarType.Bool));
        }
        return mask.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// In every group of M consecutive columns of a row, prune the M − N lowest. A trailing partial group of r &lt; M
    /// columns keeps at most N (prunes max(0, r − N)); the reference code would prune M − N of it regardless.
    /// </summary>
    public static Tensor Nm(Tensor score, int n, int m)
    {
        using var scope = NewDisposeScope();
        long rows = score.shape[0], cols = score.shape[1];
        long full = cols / m * m;
        var mask = zeros_like(score, dtype: ScalarType.Bool);
        if (full > 0)
        {
            var groups = score.narrow(1, 0, full).reshape(rows, full / m, m);
            var idx = groups.topk(m - n, dim: 2, largest: false).indexes;
            var gm = zeros(rows, full / m, m, dtype: ScalarType.Bool);
            gm.scatter_(2, idx, ones_like(idx, dtype: ScalarType.Bool));
            mask.narrow(1, 0, full).copy_(gm.reshape(rows, full));
        }
        long rest = cols - full;
        if (rest > n)
        {
            var tail = score.narrow(1, full, rest);
            var idx = tail.topk((int)(rest - n), dim: 1, largest: false).indexes;
            var tm = zeros(rows, rest, dtype: ScalarType.Bool);
            tm.scatter_(1, idx, ones_like(idx, dtype: ScalarType.Bool));
            mask.narrow(1, full, rest).copy_(tm);
        }
        return mask.MoveToOuterDisposeScope();
    }
}
