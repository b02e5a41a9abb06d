using System.Globalization;

namespace Pare.Torch.Pruning;

/// <summary>
/// What a pruned matrix looks like: unstructured at a ratio (share of weights zeroed), or N:M — at most N
/// non-zeros in every group of M consecutive input columns of a row (2:4 keeps 2 of 4).
/// </summary>
public sealed record SparsityPattern
{
    private SparsityPattern(double ratio, int n, int m)
    {
        Ratio = ratio;
        N = n;
        M = m;
    }

    /// <summary>Share of weights pruned: the ratio, or 1 − N/M.</summary>
    public double Ratio { get; }
    /// <summary>Non-zeros kept per group (0 when unstructured).</summary>
    public int N { get; }
    /// <summary>Group length along the input dimension (0 when unstructured).</summary>
    public int M { get; }
    public bool IsNm => M > 0;

    public static SparsityPattern Unstructured(double ratio)
    {
        if (!(ratio >= 0 && ratio < 1)) throw new ArgumentException($"sparsity must be in [0, 1), got {ratio}");
        return new(ratio, 0, 0);
    }

    public static SparsityPattern Nm(int n, int m)
    {
        if (m < 2 || n < 1 || n >= m) throw new ArgumentException($"N:M needs 1 ≤ N < M, got {n}:{m}");
        return new(1 - (double)n / m, n, m);
    }

    /// <summary>Parses "0.5" (unstructured) or "2:4" (N:M).</summary>
    public static SparsityPattern Parse(string text)
    {
        var parts = text.Split(':');
        if (parts.Length == 2 && int.TryParse(parts[0], CultureInfo.InvariantCulture, out var n) && int.TryParse(parts[1], CultureInfo.InvariantCulture, out var m))
            return Nm(n, m);
        if (parts.Length == 1 && double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var r))
            return Unstructured(r);
        throw new ArgumentException($"sparsity must be a ratio (0.5) or N:M (2:4), got '{text}'");
    }

    public override string ToString() => IsNm ? $"{N}:{M}" : Ratio.ToString("0.####", CultureInfo.InvariantCulture);
}
