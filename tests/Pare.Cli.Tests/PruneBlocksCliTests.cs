using Pare.Core.Formats;
using Pare.Engine;
using Pare.TestSupport;

namespace Pare.Cli.Tests;

/// <summary>pare prune-blocks end to end: the written model loads in every format, with the same logits; bad input.</summary>
public class PruneBlocksCliTests
{
    private static readonly int[] Prompt = [1, 403, 407, 261, 378, 300, 268, 426];

    private static float[] Logits(string path)
    {
        var w = LlamaWeights.FromCheckpoint(ModelLoader.Load(path));
        using var model = new Transformer(w);
        var logits = new float[Prompt.Length * w.Config.VocabSize];
        model.Forward(Prompt, model.NewCache(), logits);
        return logits;
    }

    [Theory]
    [InlineData("shortgpt", "0.4", 3)]
    [InlineData("blockpruner", "0.3", 5)]
    public void OutputLoadsInEveryFormat(string method, string sparsity, int minLayers)
    {
        using var dir = new TempDir();
        float[]? first = null;
        foreach (var file in new[] { "m.bin", "m.gguf", "m-hf" })
        {
            var r = CliRunner.Run("prune-blocks", "--model", Shared.Stories260K, "--method", method, "--sparsity", sparsity, "--calibration", Shared.TinyStories,
                "--samples", "8", "--seqlen", "128", "--out", dir.File(file), "--json");
            Assert.True(r.ExitCode == 0, r.Stdout + r.Stderr);
            var json = r.Json();
            Assert.Equal(double.Parse(sparsity, System.Globalization.CultureInfo.InvariantCulture), json.GetProperty("block_compute_sparsity").GetDouble(), 9);
            var loaded = ModelLoader.Load(dir.File(file));
            Assert.True(loaded.Config.Layers >= minLayers - 2 && loaded.Config.Layers <= minLayers);
            var logits = Logits(dir.File(file));
            if (first == null) first = logits;
            else Assert.Equal(first, logits);
        }
    }

    [Theory]
    [InlineData("--sparsity", "1", "--sparsity must be in [0, 1)")]
    [InlineData("--sparsity", "-0.1", "--sparsity must be in [0, 1)")]
    [InlineData("--remove", "5", "--remove must be in 0..4")]
    public void BadAmountsFailWithOneClearError(string option, string value, string message)
    {
        using var dir = new TempDir();
        var r = CliRunner.Run("prune-blocks", "--model", Shared.Stories260K, "--method", "shortgpt", option, value, "--calibration", Shared.TinyStories, "--out", dir.File("m.bin"), "--json");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains(message, r.Json().GetProperty("error").GetString());
    }
}
