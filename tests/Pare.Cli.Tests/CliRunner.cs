using System.Diagnostics;
using System.Text.Json;

namespace Pare.Cli.Tests;

/// <summary>Runs the built CLI (pare.dll beside the tests) as a separate process, as users and scripts do.</summary>
public static class CliRunner
{
    public sealed record Result(int ExitCode, string Stdout, string Stderr)
    {
        /// <summary>Stdout parsed as exactly one JSON object (fails the test otherwise).</summary>
        public JsonElement Json()
        {
            var reader = new Utf8JsonReader(System.Text.Encoding.UTF8.GetBytes(Stdout));
            using var doc = JsonDocument.ParseValue(ref reader);
            Assert.Equal(JsonValueKind.Object, doc.RootElement.ValueKind);
            Assert.True(string.IsNullOrWhiteSpace(Stdout[(int)reader.BytesConsumed..]), "stdout holds more than one JSON object: " + Stdout);
            return doc.RootElement.Clone();
        }
    }

    public static Result Run(params string[] args)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "pare.dll");
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(dll);
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(120_000))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException("pare " + string.Join(' ', args) + " did not finish in 120 s");
        }
        return new Result(p.ExitCode, stdout.Result, stderr.Result);
    }
}
