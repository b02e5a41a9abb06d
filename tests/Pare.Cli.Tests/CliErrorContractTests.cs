using System.CommandLine;
using System.Text.Json;
using Pare.TestSupport;

namespace Pare.Cli.Tests;

/// <summary>Every failure, an unknown bug included, ends as one line (or one JSON object) and a non-zero exit code.</summary>
public class CliErrorContractTests
{
    private static (int Code, string Stdout, string Stderr) RunThrowing(Exception e, params string[] args)
    {
        var root = new RootCommand();
        root.Options.Add(CliContext.Json);
        root.Options.Add(CliContext.Verbose);
        var parse = root.Parse(args);
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = CliContext.Run(parse, _ => throw e, null, stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }

    private static Exception Thrown<T>(T e) where T : Exception
    {
        // A thrown exception carries a stack trace, as a real bug's would.
        try { throw e; }
        catch (T caught) { return caught; }
    }

    [Fact]
    public void AnUnexpectedExceptionIsOneJsonObjectWithoutAStackTrace()
    {
        var (code, stdout, stderr) = RunThrowing(Thrown(new NullReferenceException("Object reference not set")), "--json");
        Assert.Equal(1, code);
        using var doc = JsonDocument.Parse(stdout);
        var error = doc.RootElement.GetProperty("error").GetString()!;
        Assert.Contains("internal error (NullReferenceException): Object reference not set", error);
        Assert.Contains("--verbose", error);
        Assert.True(doc.RootElement.GetProperty("internal").GetBoolean());
        Assert.Equal("NullReferenceException", doc.RootElement.GetProperty("kind").GetString());
        Assert.DoesNotContain(" at ", stderr);
    }

    [Fact]
    public void VerbosePrintsTheStackTraceToStderrOnly()
    {
        var (code, stdout, stderr) = RunThrowing(Thrown(new IndexOutOfRangeException("boom")), "--json", "--verbose");
        Assert.Equal(1, code);
        using var doc = JsonDocument.Parse(stdout);
        Assert.Contains("boom", doc.RootElement.GetProperty("error").GetString());
        Assert.Contains("System.IndexOutOfRangeException: boom", stderr);
        Assert.Contains("   at ", stderr);
    }

    [Fact]
    public void HumanOutputIsOneLine()
    {
        var (code, stdout, stderr) = RunThrowing(Thrown(new OverflowException("a long message that a console would wrap at eighty columns, line one\nline two")));
        Assert.Equal(1, code);
        Assert.Equal("", stdout);
        var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("error: internal error (OverflowException):", line);
        Assert.Contains("line one line two", line);
    }

    [Fact]
    public void AFormatErrorIsReportedByItsMessageAlone()
    {
        var (code, stdout, _) = RunThrowing(new Pare.Core.PareFormatException("/m.bin", "truncated"), "--json");
        Assert.Equal(1, code);
        using var doc = JsonDocument.Parse(stdout);
        Assert.Equal("/m.bin: truncated", doc.RootElement.GetProperty("error").GetString());
        Assert.False(doc.RootElement.TryGetProperty("internal", out _));
    }

    [Fact]
    public void SpeculativeCostOfLookupIsZeroInsteadOfACrash()
    {
        var r = CliRunner.Run("bench", "speculative-cost", "--synthetic", "stories260k", "--drafters", "lookup,layers=1", "--max-k", "2", "--repeats", "1", "--json");
        Assert.True(r.ExitCode == 0, r.Stdout + r.Stderr);
        var cost = r.Json().GetProperty("draft_cost");
        Assert.Equal(0, cost.GetProperty("lookup").GetDouble());
        Assert.True(cost.GetProperty("layers=1").GetDouble() > 0);
    }

    [Fact]
    public void AdaptiveTakesAnOptionalThresholdInEveryCommand()
    {
        var ok = CliRunner.Run("generate", "--model", Shared.Stories260K, "--prompt", "Once upon a time", "--max-tokens", "8", "--temperature", "0", "--draft-self", "layers=2", "--adaptive", "--json");
        Assert.True(ok.ExitCode == 0, ok.Stdout + ok.Stderr);
        var bad = CliRunner.Run("generate", "--model", Shared.Stories260K, "--prompt", "Hi", "--lookup", "--adaptive", "1.5", "--json");
        Assert.Equal(2, bad.ExitCode);
        Assert.Contains("--adaptive", bad.Json().GetProperty("error").GetString());
        var bench = CliRunner.Run("bench", "speculative", "--model", Shared.Stories260K, "--prompts", Shared.PathOf("data", "prompts", "story-openings.jsonl"),
            "--limit", "1", "--max-tokens", "8", "--repeats", "1", "--drafters", "layers=2", "--adaptive", "0.5", "--json");
        Assert.True(bench.ExitCode == 0, bench.Stdout + bench.Stderr);
    }
}
