using System.Globalization;

namespace Pare.Eval;

/// <summary>A fractional part [From, To) of a list of stories or rows, written FROM:TO (e.g. 0:0.5, 0.5:1).</summary>
public readonly record struct TextSlice(double From, double To)
{
    public static readonly TextSlice All = new(0, 1);

    /// <summary>Parses FROM:TO with 0 ≤ FROM &lt; TO ≤ 1; <paramref name="option"/> names the flag in the error.</summary>
    public static TextSlice Parse(string s, string option = "--slice")
    {
        var parts = s.Split(':');
        if (parts.Length == 2
            && double.TryParse(parts[0], NumberStyles.Float, CultureInfo.InvariantCulture, out var a)
            && double.TryParse(parts[1], NumberStyles.Float, CultureInfo.InvariantCulture, out var b)
            && a >= 0 && b <= 1 && a < b)
            return new TextSlice(a, b);
        throw new ArgumentException($"{option} must be FROM:TO fractions with 0 ≤ FROM < TO ≤ 1, got '{s}'");
    }

    /// <summary>Items [round(n·From), round(n·To)): adjacent slices split a list without overlap or gap.</summary>
    public IEnumerable<T> Take<T>(IReadOnlyList<T> items)
    {
        int a = (int)Math.Round(items.Count * From), b = (int)Math.Round(items.Count * To);
        for (int i = a; i < b; i++) yield return items[i];
    }
}
