using Pare.TestSupport;

namespace Pare.Cli.Tests;

public class ConvertCommandTests
{
    [Fact]
    public void ConvertedChainGeneratesWhatRunCGenerates()
    {
        using var dir = new TempDir();
        var hops = new[] { ("safetensors", dir.File("hf")), ("gguf", dir.File("m.gguf")), ("llama2c", dir.File("m.bin")) };
        string input = Shared.Stories260K;
        foreach (var (format, output) in hops)
        {
            // The HF folder keeps no tokenizer, so the GGUF hop is given the one its vocabulary comes from.
            string[] tokenizer = format == "gguf" ? ["--tokenizer", Shared.Stories260KTokenizer] : [];
            var r = CliRunner.Run(["convert", "--model", input, "--to", format, "--out", output, .. tokenizer, "--json"]);
            Assert.True(r.ExitCode == 0, r.Stdout + r.Stderr);
            var json = r.Json();
            Assert.Equal(format, json.GetProperty("output_format").GetString());
            Assert.Equal(Path.GetFullPath(output), json.GetProperty("output").GetString());
            Assert.True(json.GetProperty("bytes").GetInt64() > 0);
            input = output;
        }
        // The llama2.c → safetensors hop has no vocabulary to embed; the tokenizer beside the original is passed for generation.
        var reference = Shared.ReadJsonLines(Shared.Reference("stories260K.greedy.jsonl")).First();
        var gen = CliRunner.Run("generate", "--model", dir.File("m.bin"), "--tokenizer", Shared.Stories260KTokenizer,
            "--prompt", reference.GetProperty("prompt").GetString()!, "--max-tokens", "200", "--temperature", "0", "--json");
        Assert.Equal(0, gen.ExitCode);
        Assert.Equal(Shared.Ints(reference.GetProperty("generated_ids")), Shared.Ints(gen.Json().GetProperty("generated_ids")));
    }

    [Fact]
    public void GgufWithoutAVocabularyIsRefusedAndSaysHowToGiveOne()
    {
        using var dir = new TempDir();
        var hf = CliRunner.Run("convert", "--model", Shared.Stories260K, "--to", "safetensors", "--out", dir.File("hf"), "--json");
        Assert.Equal(0, hf.ExitCode);
        var r = CliRunner.Run("convert", "--model", dir.File("hf"), "--to", "gguf", "--out", dir.File("m.gguf"), "--json");
        Assert.Equal(1, r.ExitCode);
        var error = r.Json().GetProperty("error").GetString()!;
        Assert.Contains("vocabulary", error);
        Assert.Contains("--tokenizer", error);
        Assert.False(File.Exists(dir.File("m.gguf")));
    }

    [Fact]
    public void SynthGgufNeedsATokenizerAndEmbedsIt()
    {
        using var dir = new TempDir();
        var refused = CliRunner.Run("synth", "--shape", "stories260k", "--format", "gguf", "--out", dir.File("s.gguf"), "--json");
        Assert.Equal(1, refused.ExitCode);
        Assert.Contains("--tokenizer", refused.Json().GetProperty("error").GetString());
        var r = CliRunner.Run("synth", "--shape", "stories260k", "--format", "gguf", "--tokenizer", Shared.Stories260KTokenizer, "--out", dir.File("s.gguf"), "--json");
        Assert.True(r.ExitCode == 0, r.Stdout + r.Stderr);
        var vocab = Pare.Core.Formats.Gguf.GgufVocabulary.Read(Pare.Core.Formats.Gguf.GgufFile.Open(dir.File("s.gguf")))!;
        Assert.Equal(512, vocab.Tokens.Length);
    }

    [Fact]
    public void GgufFromLlama2cEmbedsTheTokenizerBesideIt()
    {
        using var dir = new TempDir();
        var r = CliRunner.Run("convert", "--model", Shared.Stories260K, "--to", "gguf", "--out", dir.File("s.gguf"), "--json");
        Assert.Equal(0, r.ExitCode);
        Assert.True(r.Json().GetProperty("vocabulary_embedded").GetBoolean());
        Assert.Equal(["s.gguf"], Directory.GetFiles(dir.Path).Select(Path.GetFileName));
    }

    [Fact]
    public void UnreadableInputIsAClearJsonErrorAndWritesNothing()
    {
        using var dir = new TempDir();
        File.WriteAllBytes(dir.File("bad.gguf"), "GGUF\u0003\0\0\0"u8.ToArray());
        var r = CliRunner.Run("convert", "--model", dir.File("bad.gguf"), "--to", "safetensors", "--out", dir.File("out"), "--json");
        Assert.Equal(1, r.ExitCode);
        var error = r.Json().GetProperty("error").GetString()!;
        Assert.Contains(dir.File("bad.gguf"), error);
        Assert.Contains("truncated", error);
        Assert.False(Directory.Exists(dir.File("out")));
    }

    [Fact]
    public void TokenizerOfAnotherSizeIsRefusedForGguf()
    {
        using var dir = new TempDir();
        var r = CliRunner.Run("convert", "--model", Shared.Stories260K, "--to", "gguf", "--out", dir.File("s.gguf"),
            "--tokenizer", Shared.PathOf("tokenizers", "llama2", "tokenizer.model"), "--json");
        Assert.Equal(1, r.ExitCode);
        var error = r.Json().GetProperty("error").GetString()!;
        Assert.Contains("32000 tokens", error);
        Assert.Contains("tokenizer.model", error);
        Assert.Empty(Directory.GetFiles(dir.Path));
    }
}
