namespace Pare.Core.Sparsity;

/// <summary>
/// N:M semi-structured sparsity of a row-major [rows, cols] matrix: at most N non-zeros in every group of M
/// consecutive input columns of each row (a row's trailing partial group included).
/// </summary>
public static class NmPattern
{
    /// <summary>Group lengths <see cref="Detect"/> tries, smallest first.</summary>
    public static readonly int[] CommonGroupLengths = [4, 8, 16];

    /// <summary>The largest number of non-zeros found in any group of <paramref name="m"/> consecutive columns of a row.</summary>
    public static int MaxNonZerosPerGroup(ReadOnlySpan<float> values, int rows, int cols, int m)
    {
        if (m < 1) throw new ArgumentException($"group length must be positive, got {m}");
        if ((long)rows * cols != values.Length) throw new ArgumentException($"{values.Length} values do not form a {rows}×{cols} matrix");
        int worst = 0;
        for (int r = 0; r < rows; r++)
        {
            var row = values.Slice(r * cols, cols);
            for (int g = 0; g < cols; g += m)
            {
                int nz = 0;
                foreach (var v in row.Slice(g, Math.Min(m, cols - g)))
                    if (v != 0f) nz++;
                if (nz > worst) worst = nz;
            }
        }
        return worst;
    }

    public static bool IsValid(ReadOnlySpan<float> values, int rows, int cols, int n, int m)
        => MaxNonZerosPerGroup(values, rows, cols, m) <= n;

    /// <summary>
    /// The tightest N:M (N &lt; M, M from <see cref="CommonGroupLengths"/>) the matrix satisfies with N ≤ M/2, or null.
    /// Of the lengths that fit, the smallest N/M wins (2:4 before 4:8 on a tie).
    /// </summary>
    public static (int N, int M)? Detect(ReadOnlySpan<float> values, int rows, int cols)
    {
        (int N, int M)? best = null;
        foreach (var m in CommonGroupLengths)
        {
            if (m > cols) break;
            int n = MaxNonZerosPerGroup(values, rows, cols, m);
            if (n * 2 > m) continue;
            if (best is null || (double)n / m < (double)best.Value.N / best.Value.M) best = (n, m);
        }
        return best;
    }

    /// <summary>Throws when a matrix said to be N:M is not.</summary>
    public static void Check(string source, string tensor, ReadOnlySpan<float> values, int rows, int cols, int n, int m)
    {
        int worst = MaxNonZerosPerGroup(values, rows, cols, m);
        if (worst > n)
            throw new PareFormatException(source, $"tensor '{tensor}' is not {n}:{m} sparse: a group of {m} columns has {worst} non-zeros");
    }
}
