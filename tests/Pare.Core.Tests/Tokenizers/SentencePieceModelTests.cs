using Microsoft.ML.Tokenizers;
using Pare.Core.Formats.Gguf;
using Pare.Core.Tokenizers;
using Pare.TestSupport;

namespace Pare.Core.Tests.Tokenizers;

/// <summary>
/// The Llama 2 SentencePiece model (tokenizer.model), its llama2.c export (tokenizer.bin) and llama.cpp's GGUF of the
/// same vocabulary (ggml-vocab-llama-spm.gguf): same vocabulary, same encodings, and the GGUF's vectors for all three.
/// </summary>
public class SentencePieceModelTests
{
    private static string Llama2(string file) => Shared.PathOf("tokenizers", "llama2", file);

    private static readonly Lazy<VocabularyData> ModelVocab = new(() => SentencePieceModelReader.Read(Llama2("tokenizer.model")));
    private static readonly Lazy<SentencePieceBpeTokenizer> Model = new(() => new SentencePieceBpeTokenizer(ModelVocab.Value));
    private static readonly Lazy<Llama2cTokenizer> Bin = new(() => Llama2cTokenizer.Load(Llama2("tokenizer.bin")));

    private static IEnumerable<string> Stories() =>
        Shared.ReadJsonLines(Shared.Reference("stories260K.tokenize.jsonl")).Select(e => e.GetProperty("text").GetString()!);

    [Fact]
    public void ModelFileHoldsTheVocabularyOfLlamaCppsLlamaSpmGguf()
    {
        var gguf = GgufVocabulary.Read(GgufFile.Open(VocabTestVectors.VocabPath("llama-spm")))!;
        var model = ModelVocab.Value;
        Assert.Equal(32000, model.Tokens.Length);
        Assert.Equal(gguf.Tokens, model.Tokens);
        Assert.Equal(gguf.Scores, model.Scores);
        Assert.Equal(gguf.TokenTypes, model.TokenTypes);
        Assert.Equal((gguf.BosId, gguf.EosId, gguf.UnknownId), (model.BosId, model.EosId, model.UnknownId));
        Assert.True(model.AddSpacePrefix);
    }

    [Fact]
    public void ModelFileEncodesEveryLlamaSpmVector()
    {
        var vectors = VocabTestVectors.Read("llama-spm");
        var bad = VocabTestVectors.Mismatches(vectors, s => Model.Value.Encode(s, addBos: false));
        Assert.True(bad.Count == 0, $"{vectors.Count - bad.Count}/{vectors.Count} match\n{string.Join('\n', bad)}");
        foreach (var (text, _) in vectors)
            Assert.Equal(text, Model.Value.Decode(Model.Value.Encode(text, addBos: true)));
    }

    [Fact]
    public void Llama2cExportEncodesEveryLlamaSpmVector()
    {
        // llama2.c's run.c algorithm on the exported vocabulary gives SentencePiece's ids, whitespace and emoji included.
        var vectors = VocabTestVectors.Read("llama-spm");
        var bad = VocabTestVectors.Mismatches(vectors, s => Bin.Value.Encode(s, addBos: false));
        Assert.True(bad.Count == 0, $"{vectors.Count - bad.Count}/{vectors.Count} match\n{string.Join('\n', bad)}");
    }

    [Fact]
    public void ModelFileAndLlama2cExportAgreeOnEveryStory()
    {
        foreach (var story in Stories())
        {
            var ids = Model.Value.Encode(story, addBos: true);
            Assert.Equal(Bin.Value.Encode(story, addBos: true), ids);
            Assert.Equal(story, Model.Value.Decode(ids));
        }
    }

    [Fact]
    public void MicrosoftMlTokenizersAgreesOnEveryStory()
    {
        // An independent SentencePiece implementation reading the same file.
        using var stream = File.OpenRead(Llama2("tokenizer.model"));
        var ml = LlamaTokenizer.Create(stream, addBeginOfSentence: true, addEndOfSentence: false);
        Assert.Equal(32000, ml.Vocabulary.Count);
        foreach (var story in Stories())
            Assert.Equal(ml.EncodeToIds(story).ToArray(), Model.Value.Encode(story, addBos: true));
    }

    [Fact]
    public void MicrosoftMlTokenizersBreaksEqualScoreTiesUnlikeSentencePiece()
    {
        // Why Pare encodes tokenizer.model itself: Microsoft.ML.Tokenizers 2.0.1 merges a run of equal-score pairs in
        // another order than SentencePiece (and llama.cpp), whose ids are in llama.cpp's llama-spm vectors.
        using var stream = File.OpenRead(Llama2("tokenizer.model"));
        var ml = LlamaTokenizer.Create(stream, addBeginOfSentence: false, addEndOfSentence: false);
        var expected = VocabTestVectors.Read("llama-spm").Single(v => v.Text == "!!!!!!").Ids;
        Assert.Equal([1738, 6824, 21004], expected); // "▁!" "!!" "!!!"
        Assert.Equal(expected, Model.Value.Encode("!!!!!!", addBos: false));
        Assert.NotEqual(expected, ml.EncodeToIds("!!!!!!").ToArray());
    }

    [Theory]
    [InlineData("<s>")]
    [InlineData("</s>")]
    [InlineData("<unk>")]
    [InlineData("<0x41>")]
    public void ControlAndBytePieceNamesInTextEncodeAsPlainText(string text)
    {
        // SentencePiece never forms control or byte pieces by merging; Microsoft.ML.Tokenizers and llama2.c's export agree.
        using var stream = File.OpenRead(Llama2("tokenizer.model"));
        var ml = LlamaTokenizer.Create(stream, addBeginOfSentence: false, addEndOfSentence: false);
        var ids = Model.Value.Encode(text, addBos: false);
        Assert.DoesNotContain(ids, id => ModelVocab.Value.TokenTypes![id] is 2 or 3 or 6);
        Assert.Equal(ml.EncodeToIds(text).ToArray(), ids);
        Assert.Equal(Bin.Value.Encode(text, addBos: false), ids);
        Assert.Equal(text, Model.Value.Decode(ids));
    }
}
