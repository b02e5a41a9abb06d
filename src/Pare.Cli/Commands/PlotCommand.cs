using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using Pare.Plot;
using Spectre.Console;

namespace Pare.Cli.Commands;

/// <summary>pare plot pareto: a PNG of quality against size from a JSON-lines file of points, Pareto front marked.</summary>
public static class PlotCommand
{
    public static Command Create()
    {
        var points = new Option<string>("--points") { Description = "JSON lines, one object per model: label, series, x, y", Required = true };
        var output = new Option<string>("--out") { Description = "PNG file to write", Required = true };
        var title = new Option<string>("--title") { Description = "Plot title", DefaultValueFactory = _ => "Compression trade-off" };
        var xLabel = new Option<string>("--x-label") { Description = "x axis label", DefaultValueFactory = _ => "bytes per parameter" };
        var yLabel = new Option<string>("--y-label") { Description = "y axis label", DefaultValueFactory = _ => "perplexity" };
        var pareto = new Command("pareto", "Plot quality against size with the Pareto front");
        foreach (var o in new Option[] { points, output, title, xLabel, yLabel }) pareto.Options.Add(o);
        pareto.SetAction(parse => CliContext.Run(parse, _ =>
        {
            var path = parse.GetValue(points)!;
            if (!File.Exists(path)) throw new ArgumentException($"{path}: points file not found");
            var list = new List<ParetoPoint>();
            foreach (var (line, n) in File.ReadLines(path).Select((l, i) => (l, i + 1)).Where(x => x.l.Trim().Length > 0))
            {
                try
                {
                    var e = JsonDocument.Parse(line).RootElement;
                    list.Add(new ParetoPoint(e.GetProperty("label").GetString()!, e.GetProperty("series").GetString()!, e.GetProperty("x").GetDouble(), e.GetProperty("y").GetDouble()));
                }
                catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException)
                {
                    throw new ArgumentException($"{path}:{n}: expected {{\"label\", \"series\", \"x\", \"y\"}}: {ex.Message}");
                }
            }
            ParetoPlot.Write(list, parse.GetValue(output)!, parse.GetValue(title)!, parse.GetValue(xLabel)!, parse.GetValue(yLabel)!);
            return new JsonObject
            {
                ["out"] = parse.GetValue(output),
                ["points"] = list.Count,
                ["front"] = new JsonArray(ParetoPlot.Front(list).Select(i => (JsonNode)list[i].Label).ToArray()),
            };
        }, (console, r) => console.MarkupLineInterpolated($"wrote {r["out"]}: {r["points"]} points, front {r["front"]!.ToJsonString()}")));
        var cmd = new Command("plot", "Plots of measurements");
        cmd.Subcommands.Add(pareto);
        return cmd;
    }
}
