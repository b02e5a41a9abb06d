namespace Pare.Engine.Weights;

/// <summary>
/// Magnitude pruning of a row-major [rows, cols] matrix, for making sparse weights at real shapes (speed
/// measurements, format tests). Quality-aware pruners (Wanda, SparseGPT) live in Pare.Torch.
/// </summary>
public static class MagnitudePruning
{
    /// <summary>N:M — per row, in each group of M consecutive columns keep the N of largest |w| (first on ties).</summary>
    public static float[] NM(ReadOnlySpan<float> w, int rows, int cols, int n = 2, int m = 4)
    {
        var result = w.ToArray();
        var order = new int[m];
        var keys = new float[m];
        for (int r = 0; r < rows; r++)
        {
            for (int g = 0; g < cols; g += m)
            {
                int len = Math.Min(m, cols - g);
                if (len <= n) continue;
                var group = result.AsSpan(r * cols + g, len);
                for (int i = 0; i < len; i++) order[i] = i;
                for (int i = 0; i < len; i++) keys[i] = -MathF.Abs(group[i]);
                Array.Sort(keys, order, 0, len);
                for (int i = n; i < len; i++) group[order[i]] = 0;
            }
        }
        return result;
    }

    /// <summary>Unstructured — zero the fraction <paramref name="sparsity"/> of smallest |w| (one threshold per matrix).</summary>
    public static float[] Unstructured(ReadOnlySpan<float> w, double sparsity)
    {
        if (sparsity is < 0 or > 1) throw new ArgumentException($"sparsity must be in [0, 1], got {sparsity}");
        var result = w.ToArray();
        int prune = (int)Math.Round(result.Length * sparsity);
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
