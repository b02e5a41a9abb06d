namespace Pare.Core.Sparsity;

/// <summary>
/// Magnitude pruning of a row-major [rows, cols] matrix: the one definition behind `prune --method magnitude`,
/// `convert --weights 2:4-int8|sparse-int8`, `bench` and the 2:4 self-draft, so a "50% magnitude" model is the
/// same model everywhere. Quality-aware pruners (Wanda, SparseGPT) live in Pare.Torch.
/// Counts are exact — ⌊n·sparsity⌋ weights go, as the calibrated pruners count — and ties go by position: among
/// equal magnitudes the earlier weight is pruned first (unstructured) or kept first (N:M), so results never depend
/// on a sort's stability.
/// </summary>
public static class MagnitudePruning
{
    /// <summary>
    /// N:M — per row, in each group of M consecutive columns keep the N of largest |w| (the earlier on ties). A
    /// trailing partial group of r columns keeps at most N (prunes max(0, r − N)).
    /// </summary>
    public static float[] NM(ReadOnlySpan<float> w, long rows, long cols, int n = 2, int m = 4)
    {
        if (n < 1 || n >= m) throw new ArgumentException($"N:M needs 1 ≤ N < M, got {n}:{m}");
        if (rows * cols != w.Length) throw new ArgumentException($"{w.Length} values are not a {rows}×{cols} matrix");
        var result = w.ToArray();
        var prune = new bool[m];
        for (long r = 0; r < rows; r++)
        {
            for (long g = 0; g < cols; g += m)
            {
                int len = (int)Math.Min(m, cols - g);
                if (len <= n) continue;
                var group = result.AsSpan((int)(r * cols + g), len);
                for (int i = 0; i < len; i++)
                {
                    // Rank of i among the group by decreasing |w|, earlier first on ties.
                    float a = MathF.Abs(group[i]);
                    int rank = 0;
                    for (int j = 0; j < len; j++)
                    {
                        float b = MathF.Abs(group[j]);
                        if (b > a || (b == a && j < i)) rank++;
                    }
                    prune[i] = rank >= n;
                }
                for (int i = 0; i < len; i++)
                    if (prune[i]) group[i] = 0;
            }
        }
        return result;
    }

    /// <summary>Unstructured — zero the ⌊n·<paramref name="sparsity"/>⌋ smallest |w| (one threshold per matrix).</summary>
    public static float[] Unstructured(ReadOnlySpan<float> w, double sparsity)
    {
        if (sparsity is < 0 or > 1) throw new ArgumentException($"sparsity must be in [0, 1], got {sparsity}");
        var result = w.ToArray();
        int prune = (int)Math.Floor(result.Length * sparsity);
        if (prune == 0) return result;
        var magnitudes = new float[result.Length];
        for (int i = 0; i < result.Length; i++) magnitudes[i] = MathF.Abs(result[i]);
        var sorted = (float[])magnitudes.Clone();
        Array.Sort(sorted);
        float threshold = sorted[prune - 1];
        int removed = 0;
        // Values below the threshold go; ties at it go in index order until the quota is met.
        for (int i = 0; i < result.Length; i++)
        {
            if (magnitudes[i] < threshold)
            {
                result[i] = 0;
                removed++;
            }
        }
        for (int i = 0; i < result.Length && removed < prune; i++)
        {
            if (magnitudes[i] == threshold)
            {
                result[i] = 0;
                removed++;
            }
        }
        return result;
    }
}
