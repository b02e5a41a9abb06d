namespace Pare.Plot;

/// <summary>One compressed model in a trade-off plot: its label, series (method family), size and quality.</summary>
public sealed record ParetoPoint(string Label, string Series, double X, double Y);

/// <summary>
/// The compression trade-off as a picture (ScottPlot): one marker series per method family, the Pareto front (no
/// other model both smaller and better) joined by a line and labelled, written as a PNG.
/// </summary>
public static class ParetoPlot
{
    /// <summary>Indices of the points no other point dominates (smaller or equal in both, strictly in one).</summary>
    public static IReadOnlyList<int> Front(IReadOnlyList<ParetoPoint> points)
    {
        var front = new List<int>();
        for (int i = 0; i < points.Count; i++)
        {
            var p = points[i];
            bool dominated = points.Where((_, j) => j != i).Any(q => q.X <= p.X && q.Y <= p.Y && (q.X < p.X || q.Y < p.Y));
            if (!dominated) front.Add(i);
        }
        return front.OrderBy(i => points[i].X).ToList();
    }

    public static void Write(IReadOnlyList<ParetoPoint> points, string path, string title, string xLabel, string yLabel, bool logY = true, int width = 900, int height = 600)
    {
        if (points.Count == 0) throw new ArgumentException("nothing to plot");
        Func<double, double> y = logY ? Math.Log10 : v => v;
        var plot = new ScottPlot.Plot();
        foreach (var series in points.GroupBy(p => p.Series))
        {
            var s = plot.Add.ScatterPoints(series.Select(p => p.X).ToArray(), series.Select(p => y(p.Y)).ToArray());
            s.LegendText = series.Key;
            s.MarkerSize = 9;
        }
        var front = Front(points);
        var line = plot.Add.ScatterLine(front.Select(i => points[i].X).ToArray(), front.Select(i => y(points[i].Y)).ToArray());
        line.LegendText = "Pareto front";
        line.LineWidth = 2;
        line.Color = ScottPlot.Colors.Black;
        foreach (int i in front)
        {
            var text = plot.Add.Text(points[i].Label, points[i].X, y(points[i].Y));
            text.LabelFontSize = 11;
            text.OffsetX = 6;
        }
        plot.Title(title);
        plot.XLabel(xLabel);
        plot.YLabel(logY ? yLabel + " (log10)" : yLabel);
        plot.ShowLegend();
        plot.SavePng(path, width, height);
    }
}
