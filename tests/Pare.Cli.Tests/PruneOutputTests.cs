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
    public void PrunedGgufRunsInLlamaCppWithPareGreedyTokens()
    {
        // The check: a Wanda 2:4 stories260K written as GGUF (f32) must load in llama.cpp, which refused
        // Pare's GGUF before it carried tokenizer.ggml.model, and decode greedily to the tokens Pare decodes.
        using var dir = new TempDir();
        var output = dir.File("wanda24.gguf");
        var r = CliRunner.Run("prune", "--model", Shared.Stories260K, "--method", "wanda", "--sparsity", "2:4",
            "--calibration", Shared.TinyStories, "--calibration-slice", "0:0.5", "--samples", "8", "--seqlen", "64", "--out", output, "--json");
        Assert.True(r.ExitCode == 0, r.Stdout + r.Stderr);
        const string prompt = "Once upon a time";
        var pare = CliRunner.Run("generate", "--model", output, "--prompt", prompt, "--max-tokens", "48", "--temperature", "0", "--json").Json();
        var pareIds = Shared.Ints(pare.GetProperty("generated_ids"));
        var (promptIds, llamaIds) = LlamaCppGreedy.Run(output, prompt, 48);
        Assert.Equal(Shared.Ints(pare.GetProperty("prompt_ids")), promptIds);
        // Pare stops before a BOS (a new story); llama.cpp runs on: compare what Pare generated.
        Assert.True(pareIds.Length >= 16, $"Pare generated only {pareIds.Length} tokens");
        Assert.Equal(pareIds, llamaIds[..pareIds.Length]);
    }

    [Fact]
    public void LlamaCppReadsTheReferenceGgufAsRunCDecodes()
    {
        // The harness itself, against an independent pair: llama.cpp's own conversion of stories260K and run.c's tokens.
        var reference = Shared.ReadJsonLines(Shared.Reference("stories260K.greedy.jsonl")).First();
        var expected = Shared.Ints(reference.GetProperty("generated_ids"));
        var (promptIds, ids) = LlamaCppGreedy.Run(Shared.Stories260KGguf, reference.GetProperty("prompt").GetString()!, 32);
        Assert.Equal(Shared.Ints(reference.GetProperty("prompt_ids")), promptIds);
        Assert.Equal(expected[..32], ids);
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
