using Pare.Core;
using Pare.Core.Formats;
using Pare.TestSupport;

namespace Pare.Cli.Tests;

/// <summary>pare train and the re-training prune methods (sds, mgpp, gmp): small runs end to end and every bad input refused.</summary>
public sealed class TrainingCliTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("pare-train-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Out(string name) => Path.Combine(_dir, name);

    [Fact]
    public void TrainLowersThePerplexityOfItsTextAsTheEngineMeasuresIt()
    {
        // A few stories, trained on for 30 steps: the Engine's perplexity on that same text must fall.
        var r = CliRunner.Run("train", "--model", Shared.Stories260K, "--data", Shared.TinyStories, "--data-slice", "0:0.01", "--steps", "30",
            "--lr", "1e-3", "--seqlen", "64", "--batch", "8", "--out", Out("t.bin"), "--json");
        Assert.True(r.ExitCode == 0, r.Stdout + r.Stderr);
        Assert.Equal(30, r.Json().GetProperty("losses").GetArrayLength());
        double Ppl(string model)
        {
            var e = CliRunner.Run("eval", "ppl", "--model", model, "--tokenizer", Shared.Stories260KTokenizer, "--data", Shared.TinyStories,
                "--format", "tinystories", "--slice", "0:0.01", "--window", "64", "--json");
            Assert.True(e.ExitCode == 0, e.Stdout + e.Stderr);
            return e.Json().GetProperty("ppl").GetDouble();
        }
        double before = Ppl(Shared.Stories260K), after = Ppl(Out("t.bin"));
        Assert.True(after < before, $"perplexity on the training text {before:F4} → {after:F4}");
    }

    [Fact]
    public void MgppReachesItsSparsityAndReportsItsSchedule()
    {
        var r = CliRunner.Run("prune", "--model", Shared.Stories260K, "--method", "mgpp", "--sparsity", "0.8", "--train", Shared.TinyStories,
            "--train-slice", "0:0.2", "--steps", "20", "--seqlen", "32", "--batch", "2", "--prune-every", "4", "--out", Out("m.bin"), "--json");
        Assert.True(r.ExitCode == 0, r.Stdout + r.Stderr);
        var json = r.Json();
        Assert.Equal(0.8, json.GetProperty("sparsity").GetDouble(), 4);
        Assert.True(json.GetProperty("schedule").GetArrayLength() >= 2);
        Assert.True(json.GetProperty("prior").GetProperty("data_size").GetInt64() > 1000);
        var written = ModelLoader.Load(Out("m.bin"));
        var q = written[LlamaTensorNames.Query(0)].ToFloat32();
        Assert.True(q.Count(v => v == 0) > 0.5 * q.Length);
    }

    [Fact]
    public void SdsReportsEachLayersReconstructionAndAValidPattern()
    {
        var r = CliRunner.Run("prune", "--model", Shared.Stories260K, "--method", "sds", "--base", "wanda", "--sparsity", "2:4", "--calibration", Shared.TinyStories,
            "--calibration-slice", "0:0.2", "--samples", "4", "--seqlen", "32", "--sds-steps", "3", "--out", Out("s.bin"), "--json");
        Assert.True(r.ExitCode == 0, r.Stdout + r.Stderr);
        var json = r.Json();
        Assert.Equal("sds(wanda)", json.GetProperty("method").GetString());
        Assert.True(json.GetProperty("nm_valid").GetBoolean());
        Assert.Equal(3, json.GetProperty("sds").GetProperty("steps").GetInt32());
        foreach (var layer in json.GetProperty("layers").EnumerateArray())
            Assert.True(layer.GetProperty("sds").GetProperty("first_prune_mse").GetDouble() > 0);
    }

    public static readonly TheoryData<string, string[]> BadInputs = new()
    {
        { "fewer than one window", ["train", "--data", "{short}", "--steps", "5", "--seqlen", "256"] },
        { "--steps must be at least 1", ["train", "--data", "{data}", "--steps", "0"] },
        { "--steps must be at least 1", ["prune", "--method", "gmp", "--sparsity", "0.8", "--train", "{data}", "--steps", "0"] },
        { "fewer than one window", ["prune", "--method", "mgpp", "--sparsity", "0.8", "--train", "{short}", "--steps", "30", "--seqlen", "256"] },
        { "got 1.5", ["prune", "--method", "mgpp", "--sparsity", "1.5", "--train", "{data}"] },
        { "in (0, 1)", ["prune", "--method", "gmp", "--sparsity", "0", "--train", "{data}"] },
        { "not 2:4", ["prune", "--method", "mgpp", "--sparsity", "2:4", "--train", "{data}"] },
        { "--base must be sparsegpt or wanda", ["prune", "--method", "sds", "--base", "magnitude", "--sparsity", "2:4", "--calibration", "{data}"] },
        { "--sds-steps must be at least 1", ["prune", "--method", "sds", "--sds-steps", "0", "--sparsity", "2:4", "--calibration", "{data}"] },
        { "--train is required", ["prune", "--method", "mgpp", "--sparsity", "0.8"] },
    };

    [Theory]
    [MemberData(nameof(BadInputs))]
    public void BadInputIsOneClearErrorAndWritesNothing(string expected, string[] args)
    {
        var shortText = Out("short.txt");
        File.WriteAllText(shortText, "Once upon a time there was a cat.");
        var output = Out("never.bin");
        var full = args.Select(a => a.Replace("{short}", shortText).Replace("{data}", Shared.TinyStories))
            .Concat(["--model", Shared.Stories260K, "--out", output, "--json"]).ToArray();
        var r = CliRunner.Run(full);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains(expected, r.Json().GetProperty("error").GetString());
        Assert.False(File.Exists(output) || Directory.Exists(output), "an output was written");
    }
}
