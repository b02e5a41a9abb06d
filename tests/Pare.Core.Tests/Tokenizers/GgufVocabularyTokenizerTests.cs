using Pare.Core.Tokenizers;

namespace Pare.Core.Tests.Tokenizers;

/// <summary>Tokenizers built from vocabulary-only GGUF files against llama.cpp's own test vectors for them.</summary>
public class GgufVocabularyTokenizerTests
{
    private static ITokenizer Open(string name) => TokenizerLoader.Load(VocabTestVectors.VocabPath(name));

    [Theory]
    [InlineData("llama-spm", typeof(SentencePieceBpeTokenizer))]
    [InlineData("gpt-2", typeof(ByteLevelBpeTokenizer))]
    public void EncodesEveryLlamaCppVectorExactly(string vocab, Type kind)
    {
        var tokenizer = Open(vocab);
        Assert.IsType(kind, tokenizer);
        var vectors = VocabTestVectors.Read(vocab);
        Assert.Equal(46, vectors.Count);
        var bad = VocabTestVectors.Mismatches(vectors, s => tokenizer.Encode(s, addBos: false));
        Assert.True(bad.Count == 0, $"{vocab}: {vectors.Count - bad.Count}/{vectors.Count} match\n{string.Join('\n', bad)}");
    }

    [Theory]
    [InlineData("llama-spm")]
    [InlineData("gpt-2")]
    [InlineData("gpt-neox")]
    public void DecodingTheEncodingGivesBackEveryVectorString(string vocab)
    {
        var tokenizer = Open(vocab);
        // gpt-neox has no vectors of its own; its strings are the same test inputs.
        foreach (var (text, _) in VocabTestVectors.Read(vocab == "gpt-neox" ? "gpt-2" : vocab))
            Assert.Equal(VocabTestVectors.Escape(text), VocabTestVectors.Escape(tokenizer.Decode(tokenizer.Encode(text, addBos: true))));
    }

    [Fact]
    public void BosIsPrependedOnlyWhenAsked()
    {
        var spm = Open("llama-spm");
        Assert.Equal([1], spm.Encode("", addBos: true));
        Assert.Equal([1, 15043, 3186], spm.Encode("Hello world", addBos: true)); // ids from the llama-spm .out
        Assert.Empty(spm.Encode("", addBos: false));
    }

    [Fact]
    public void GptNeoxVocabularyUsesLlamaCppsDefaultPreTokenizerAndItsUserDefinedSpaceTokens()
    {
        var neox = Assert.IsType<ByteLevelBpeTokenizer>(Open("gpt-neox"));
        Assert.Equal(50432, neox.VocabSize);
        Assert.Equal("default", neox.PreTokenizer); // the file has no tokenizer.ggml.pre
        // GPT-NeoX's runs of 2..24 spaces are user-defined tokens, cut out of the text before pre-tokenization.
        var ids = neox.Encode("a    b", addBos: false);
        Assert.Contains(ids, id => neox.Decode([id]) == "    ");
        Assert.Equal("a    b", neox.Decode(ids));
    }
}
