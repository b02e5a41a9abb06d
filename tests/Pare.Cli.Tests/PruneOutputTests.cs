using Pare.Core.Formats;
using Pare.Core.Formats.Gguf;
using Pare.TestSupport;

namespace Pare.Cli.Tests;

/// <summary>Every model `prune` writes can be run by the tools that read its format.</summary>
public class PruneOutputTests
{
    [Fact]
    public void PrunedGgufCarriesTheVocabularyAndRunsWithoutATokenizerFlag()
    {
        using var dir = new TempDir();
        var output = dir.File("pruned.gguf");
        var r = CliRunner.Run("prune", "--model", Shared.Stories260K, "--method", "magnitude", "--sparsity", "2:4",
            "--calibration", Shared.TinyStories, "--samples", "2", "--seqlen", "32", "--out", output, "--json");
        Assert.True(r.ExitCode == 0, r.Stdout + r.Stderr);
        var gguf = GgufFile.Open(output);
        // The vocabulary is tok512.bin's, found beside the model: llama.cpp needs tokenizer.ggml.model to load it.
        Assert.Equal("llama", gguf.Metadata.GetString(GgufVocabulary.ModelKey));
        var tokens = gguf.Metadata.GetStringArray(GgufVocabulary.TokensKey);
        Assert.Equal(512, tokens.Length);
        Assert.Equal("<0x0A>", tokens[13]); // llama2.c's byte tokens start at id 3: <0x00> … so 0x0A is id 13
        var gen = CliRunner.Run("generate", "--model", output, "--prompt", "Once upon a time", "--max-tokens", "8", "--temperature", "0", "--json");
        Assert.True(gen.ExitCode == 0, gen.Stdout + gen.Stderr);
        Assert.Equal(8, gen.Json().GetProperty("generated_ids").GetArrayLength());
    }

    [Fact]
    public void PrunedHfFolderIsWrittenWhole()
    {
        using var dir = new TempDir();
        var output = dir.File("pruned");
        var r = CliRunner.Run("prune", "--model", Shared.Stories260K, "--method", "magnitude", "--sparsity", "0.5",
            "--calibration", Shared.TinyStories, "--samples", "2", "--seqlen", "32", "--out", output, "--json");
        Assert.True(r.ExitCode == 0, r.Stdout + r.Stderr);
        Assert.Equal(["config.json", "model.safetensors"], Directory.GetFiles(output).Select(Path.GetFileName).Order());
        Assert.Equal([output], Directory.GetFileSystemEntries(dir.Path));
        Assert.Equal(512, ModelLoader.Load(output).Config.VocabSize);
    }
}
