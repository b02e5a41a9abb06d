using Pare.Core.Formats;
using Pare.Core.Formats.Gguf;
using Pare.Core.Tokenizers;
using Pare.TestSupport;

namespace Pare.Core.Tests.Tokenizers;

/// <summary>Which tokenizer a file or model gets, and the errors for files that do not fit.</summary>
public class TokenizerLoaderTests
{
    [Fact]
    public void PicksTheImplementationByFileKind()
    {
        Assert.IsType<Llama2cTokenizer>(TokenizerLoader.Load(Shared.Stories260KTokenizer, 512));
        Assert.IsType<SentencePieceBpeTokenizer>(TokenizerLoader.Load(Shared.PathOf("tokenizers", "llama2", "tokenizer.model"), 32000));
        Assert.IsType<SentencePieceBpeTokenizer>(TokenizerLoader.Load(VocabTestVectors.VocabPath("llama-spm"), 32000));
        Assert.IsType<ByteLevelBpeTokenizer>(TokenizerLoader.Load(VocabTestVectors.VocabPath("gpt-2"), 50257));
    }

    [Fact]
    public void VocabularyEmbeddedInLlamaCppsStoriesGgufEncodesLikeRunC()
    {
        // stories260K.f32.gguf carries tok512.bin's vocabulary as llama.cpp's converter wrote it ('▁' for spaces, token types).
        var model = ModelLoader.Load(Shared.Stories260KGguf);
        var tokenizer = Assert.IsType<SentencePieceBpeTokenizer>(TokenizerLoader.FindFor(model));
        foreach (var e in Shared.ReadJsonLines(Shared.Reference("stories260K.tokenize.jsonl")))
        {
            var text = e.GetProperty("text").GetString()!;
            var ids = tokenizer.Encode(text, addBos: true);
            Assert.Equal(Shared.Ints(e.GetProperty("ids")), ids);
            Assert.Equal(text, tokenizer.Decode(ids));
        }
    }

    [Fact]
    public void FindsTok512BesideTheLlama2cModel()
    {
        var model = ModelLoader.Load(Shared.Stories260K);
        var tokenizer = Assert.IsType<Llama2cTokenizer>(TokenizerLoader.FindFor(model));
        Assert.Equal(512, tokenizer.VocabSize);
    }

    [Theory]
    [InlineData("stories")]
    [InlineData("model")]
    [InlineData("gguf")]
    public void VocabularySizeDifferentFromTheModelsIsAClearError(string kind)
    {
        var path = kind switch
        {
            "stories" => Shared.Stories260KTokenizer,
            "model" => Shared.PathOf("tokenizers", "llama2", "tokenizer.model"),
            _ => VocabTestVectors.VocabPath("gpt-2"),
        };
        var e = Assert.Throws<PareFormatException>(() => TokenizerLoader.Load(path, 1000));
        Assert.Equal(path, e.FilePath);
        Assert.Contains("1000", e.Message);
    }

    [Fact]
    public void TruncatedOrForeignModelFilesAreClearErrors()
    {
        using var dir = new TempDir();
        var source = File.ReadAllBytes(Shared.PathOf("tokenizers", "llama2", "tokenizer.model"));
        var truncated = dir.File("truncated.model");
        File.WriteAllBytes(truncated, source[..(source.Length / 2)]);
        var e = Assert.Throws<PareFormatException>(() => TokenizerLoader.Load(truncated));
        Assert.Equal(truncated, e.FilePath);

        var text = dir.File("notes.model");
        File.WriteAllText(text, "this is not a protobuf\n");
        Assert.Equal(text, Assert.Throws<PareFormatException>(() => TokenizerLoader.Load(text)).FilePath);

        var json = dir.File("tokenizer.json");
        File.WriteAllText(json, "{}");
        Assert.Contains("tokenizer.json is not supported", Assert.Throws<PareFormatException>(() => TokenizerLoader.Load(json)).Message);

        var missing = dir.File("absent.model");
        Assert.Equal(missing, Assert.Throws<PareFormatException>(() => TokenizerLoader.Load(missing)).FilePath);
    }

    [Fact]
    public void SpacePrefixSettingSurvivesAGgufWrittenByPare()
    {
        var model = ModelLoader.Load(Shared.Stories260KGguf);
        var vocab = model.Vocabulary! with { AddSpacePrefix = false };
        using var dir = new TempDir();
        var path = dir.File("no-prefix.gguf");
        GgufWriter.Write(model, path, vocab);
        var tokenizer = Assert.IsType<SentencePieceBpeTokenizer>(TokenizerLoader.FindFor(ModelLoader.Load(path)));
        Assert.False(tokenizer.AddSpacePrefix);
        var withPrefix = TokenizerLoader.FindFor(model)!;
        // Without the dummy prefix, "time" is encoded as it would be mid-word; with it, as after a space (" time").
        Assert.Equal(withPrefix.Encode(" time", addBos: false)[1..], withPrefix.Encode("time", addBos: false));
        Assert.NotEqual(withPrefix.Encode("time", addBos: false), tokenizer.Encode("time", addBos: false));
        Assert.Equal("time", tokenizer.Decode(tokenizer.Encode("time", addBos: true)));
    }
}
