namespace Pare.Eval;

/// <summary>The median of timings: robust to the odd run a busy machine slows down, which a mean is not.</summary>
public static class Median
{
    /// <summary>The middle value, or the mean of the two middle values of an even count.</summary>
    public static double Of(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        if (sorted.Length == 0) throw new ArgumentException("the median of no values is undefined", nameof(values));
        int mid = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }
}
