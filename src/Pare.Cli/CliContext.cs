using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using Pare.Core;
using Spectre.Console;

namespace Pare.Cli;

/// <summary>
/// What every command shares: the --json switch (exactly one JSON object on stdout, nothing else there), human
/// output through Spectre.Console otherwise, and uniform error reporting.
/// </summary>
public static class CliContext
{
    public static readonly Option<bool> Json = new("--json") { Description = "Print exactly one JSON object on stdout", Recursive = true };

    private static readonly JsonSerializerOptions Pretty = new() { WriteIndented = true };

    /// <summary>Console for human-readable output; in JSON mode it writes to stderr so stdout stays one object.</summary>
    public static IAnsiConsole Human(ParseResult parse) => parse.GetValue(Json)
        ? AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) })
        : AnsiConsole.Console;

    /// <summary>Runs a command body, printing its result object as JSON when asked and turning failures into a clear message and exit code 1.</summary>
    public static int Run(ParseResult parse, Func<IAnsiConsole, JsonObject> body, Action<IAnsiConsole, JsonObject>? render = null)
    {
        bool json = parse.GetValue(Json);
        var console = Human(parse);
        try
        {
            var result = body(console);
            if (json) Console.Out.WriteLine(result.ToJsonString(Pretty));
            else if (render != null) render(console, result);
            else console.WriteLine(result.ToJsonString(Pretty));
            return 0;
        }
        catch (Exception e) when (e is PareFormatException or IOException or ArgumentException or InvalidOperationException or NotSupportedException or UnauthorizedAccessException)
        {
            if (json) Console.Out.WriteLine(new JsonObject { ["error"] = e.Message, ["kind"] = e.GetType().Name }.ToJsonString(Pretty));
            else console.MarkupLineInterpolated($"[red]error:[/] {e.Message}");
            return 1;
        }
    }

    public static int ReportParseErrors(ParseResult parse)
    {
        var messages = parse.Errors.Select(e => (JsonNode)e.Message).ToArray();
        Console.Out.WriteLine(new JsonObject
        {
            ["error"] = string.Join("; ", parse.Errors.Select(e => e.Message)),
            ["kind"] = "UsageError",
            ["errors"] = new JsonArray(messages),
        }.ToJsonString(Pretty));
        return 2;
    }

    public static JsonArray ToJsonArray(IEnumerable<int> values) => new(values.Select(v => (JsonNode)v).ToArray());
}
