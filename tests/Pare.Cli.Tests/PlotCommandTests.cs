using Pare.TestSupport;

namespace Pare.Cli.Tests;

/// <summary>pare plot pareto: a PNG, and the front is the set of points no other point beats in both size and perplexity.</summary>
public class PlotCommandTests
{
    [Fact]
    public void WritesPngAndNamesTheFront()
    {
        using var dir = new TempDir();
        File.WriteAllLines(dir.File("p.jsonl"),
        [
            """{"label":"dense","series":"dense","x":4.0,"y":4.5}""",
            """{"label":"q8","series":"rtn","x":1.1,"y":4.6}""",
            """{"label":"q4","series":"rtn","x":0.6,"y":5.0}""",
            """{"label":"q4-worse","series":"gptq","x":0.6,"y":5.5}""",
            """{"label":"big-bad","series":"gptq","x":2.0,"y":6.0}""",
        ]);
        var r = CliRunner.Run("plot", "pareto", "--points", dir.File("p.jsonl"), "--out", dir.File("p.png"), "--json");
        Assert.Equal(0, r.ExitCode);
        Assert.Equal(["q4", "q8", "dense"], r.Json().GetProperty("front").EnumerateArray().Select(e => e.GetString()!).ToArray());
        var png = File.ReadAllBytes(dir.File("p.png"));
        Assert.True(png.Length > 1000);
        Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, png.Take(4).ToArray());

        File.WriteAllText(dir.File("bad.jsonl"), """{"label":"x"}""");
        var bad = CliRunner.Run("plot", "pareto", "--points", dir.File("bad.jsonl"), "--out", dir.File("b.png"), "--json");
        Assert.NotEqual(0, bad.ExitCode);
        Assert.Contains("bad.jsonl:1", bad.Json().GetProperty("error").GetString());
    }
}
