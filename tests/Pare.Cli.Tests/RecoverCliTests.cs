using Pare.Core;
using Pare.Core.Formats;
using Pare.TestSupport;

namespace Pare.Cli.Tests;

/// <summary>pare recover end to end on a pruned stories260K, and its bad inputs.</summary>
public sealed class RecoverCliTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("pare-recover-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Out(string name) => Path.Combine(_dir, name);

    private string Pruned()
    {
        var r = CliRunner.Run("prune", "--model", Shared.Stories260K, "--method", "magnitude", "--sparsity", "2:4", "--calibration", Shared.TinyStories, "--samples", "8", "--seqlen", "64", "--out", Out("p.bin"), "--json");
        Assert.True(r.ExitCode == 0, r.Stdout + r.Stderr);
        return Out("p.bin");
    }

    private string Questions()
    {
        var path = Out("q.jsonl");
        File.WriteAllLines(path, Enumerable.Range(0, 20).Select(i => $"{{\"question\": \"Tom has {i} apples and gets {i + 2} more. How many does he have?\", \"answer\": \"He has {2 * i + 2} apples.\"}}"));
        return path;
    }

    [Fact]
    public void PaserRecoveryMeetsTheBudgetReportsWhyAndKeepsThePruningPattern()
    {
        var pruned = Pruned();
        var r = CliRunner.Run("recover", "--model", pruned, "--tokenizer", Shared.Stories260KTokenizer, "--teacher", Shared.Stories260K,
            "--data", $"stories={Shared.TinyStories},math={Questions()}", "--select", "paser", "--budget", "0.5", "--clusters", "2", "--encoder", "hidden",
            "--max-samples", "10", "--steps", "4", "--seqlen", "64", "--batch", "2", "--lora-rank", "2", "--eval-window", "32", "--eval-windows", "2",
            "--out", Out("r.bin"), "--json");
        Assert.True(r.ExitCode == 0, r.Stdout + r.Stderr);
        var json = r.Json();
        Assert.Equal(20, json.GetProperty("samples").GetInt32());
        Assert.Equal(10, json.GetProperty("chosen_count").GetInt32());
        Assert.Equal(10, json.GetProperty("chosen").GetArrayLength());
        Assert.True(json.GetProperty("lora").GetProperty("masked_to_pruning").GetBoolean());
        Assert.All(json.GetProperty("chosen").EnumerateArray(), c => Assert.False(string.IsNullOrEmpty(c.GetProperty("reason").GetString())));
        Assert.Equal(2, json.GetProperty("domains").GetArrayLength());
        // Every weight the pruning removed is still exactly zero after the merged LoRA update.
        var before = ModelLoader.Load(pruned);
        var after = ModelLoader.Load(Out("r.bin"));
        bool changed = false;
        for (int l = 0; l < before.Config.Layers; l++)
        {
            var a = before[LlamaTensorNames.Up(l)].ToFloat32();
            var b = after[LlamaTensorNames.Up(l)].ToFloat32();
            for (int i = 0; i < a.Length; i++)
            {
                if (a[i] == 0) Assert.Equal(0f, b[i]);
                changed |= a[i] != b[i];
            }
        }
        Assert.True(changed, "the recovery changed no kept weight");
    }

    [Theory]
    [InlineData("0")]
    [InlineData("1.5")]
    [InlineData("-0.1")]
    public void ABudgetOutsideZeroOneIsOneJsonError(string budget)
    {
        var r = CliRunner.Run("recover", "--model", Shared.Stories260K, "--teacher", Shared.Stories260K, "--data", Shared.TinyStories,
            "--select", "random", "--budget", budget, "--steps", "1", "--out", Out("x.bin"), "--json");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("--budget", r.Json().GetProperty("error").GetString());
        Assert.False(File.Exists(Out("x.bin")));
    }

    [Fact]
    public void ADataFileWithNoUsableSamplesIsOneJsonError()
    {
        var empty = Out("empty.jsonl");
        File.WriteAllText(empty, "{\"unrelated\": 1}\n");
        var r = CliRunner.Run("recover", "--model", Shared.Stories260K, "--teacher", Shared.Stories260K, "--data", empty,
            "--steps", "1", "--out", Out("x.bin"), "--json");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("no usable samples", r.Json().GetProperty("error").GetString());
    }

    [Fact]
    public void ATeacherOfAnotherShapeIsOneJsonError()
    {
        var r = CliRunner.Run("recover", "--model", Shared.Stories260K, "--teacher", Shared.PathOf("models", "synthetic-tiny", "synthetic-tiny.bin"),
            "--tokenizer", Shared.Stories260KTokenizer, "--data", Shared.TinyStories, "--steps", "1", "--out", Out("x.bin"), "--json");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("dense model the pruned one came from", r.Json().GetProperty("error").GetString());
    }
}
