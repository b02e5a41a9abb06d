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
    public static readonly Option<bool> Verbose = new("--verbose") { Description = $"On an internal error, print its stack trace to stderr (or set {VerboseVariable}=1)", Recursive = true };

    /// <summary>Environment variable that turns stack traces on for every run, for developers and scripts.</summary>
    public const string VerboseVariable = "PARE_VERBOSE";

    private static readonly JsonSerializerOptions Pretty = new() { WriteIndented = true };

    /// <summary>Runs a command body, printing its result object as JSON when asked and turning failures into a clear message and exit code 1.</summary>
    public static int Run(ParseResult parse, Func<IAnsiConsole, JsonObject> body, Action<IAnsiConsole, JsonObject>? render = null)
        => Run(parse, body, render, Console.Out, Console.Error);

    /// <summary>
    /// As <see cref="Run(ParseResult, Func{IAnsiConsole, JsonObject}, Action{IAnsiConsole, JsonObject}?)"/>, writing to
    /// the given streams. Every exception ends here: the errors a user can cause (bad files, bad options) as their
    /// message, anything else as an internal error with its type, so even an unknown bug keeps the one-line /
    /// one-JSON-object contract that scripts rely on.
    /// </summary>
    public static int Run(ParseResult parse, Func<IAnsiConsole, JsonObject> body, Action<IAnsiConsole, JsonObject>? render, TextWriter stdout, TextWriter stderr)
    {
        bool json = parse.GetValue(Json);
        var console = json
            ? AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(stderr) })
            : ReferenceEquals(stdout, Console.Out) ? AnsiConsole.Console : AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(stdout) });
        try
        {
            var result = body(console);
            if (json) stdout.WriteLine(result.ToJsonString(Pretty));
            else if (render != null) render(console, result);
            else console.WriteLine(result.ToJsonString(Pretty));
            return 0;
        }
        catch (Exception e)
        {
            var cause = Unwrap(e);
            bool expected = IsUserError(cause);
            string message = OneLine(expected ? cause.Message : $"internal error ({cause.GetType().Name}): {cause.Message}");
            if (!expected && !ShowStackTrace(parse))
                message += $" [run with --verbose or {VerboseVariable}=1 for the stack trace]";
            if (json)
            {
                var error = new JsonObject { ["error"] = message, ["kind"] = cause.GetType().Name };
                if (!expected) error["internal"] = true;
                stdout.WriteLine(error.ToJsonString(Pretty));
            }
            // Plain text on stderr: Spectre would wrap a long message at the console width, and stdout is for results.
            else stderr.WriteLine($"error: {message}");
            if (!expected && ShowStackTrace(parse))
                stderr.WriteLine(e.ToString());
            return 1;
        }
    }

    /// <summary>Errors that describe the user's input (files, options, the environment), reported by their message alone.</summary>
    public static bool IsUserError(Exception e)
        => e is PareFormatException or IOException or ArgumentException or InvalidOperationException or NotSupportedException or UnauthorizedAccessException;

    private static bool ShowStackTrace(ParseResult parse)
        => parse.GetValue(Verbose) || Environment.GetEnvironmentVariable(VerboseVariable) is { Length: > 0 } v && v != "0";

    // Spectre's progress display and parallel loops wrap the exception a command threw; the inner one is what happened.
    private static Exception Unwrap(Exception e)
    {
        while (e is AggregateException { InnerExceptions.Count: 1 } or System.Reflection.TargetInvocationException && e.InnerException != null)
            e = e.InnerException!;
        return e;
    }

    private static string OneLine(string s) => string.Join(' ', s.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));

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
