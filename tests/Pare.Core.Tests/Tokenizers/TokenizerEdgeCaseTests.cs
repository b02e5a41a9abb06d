using System.Text;
using Pare.Core.Formats;
using Pare.Core.Tokenizers;
using Pare.TestSupport;

namespace Pare.Core.Tests.Tokenizers;

/// <summary>Behaviour shared by every tokenizer: streaming decode, text outside the vocabulary, malformed UTF-16.</summary>
public class TokenizerEdgeCaseTests
{
    private static readonly Lazy<Dictionary<string, ITokenizer>> All = new(() => new()
    {
        ["tok512.bin"] = TokenizerLoader.Load(Shared.Stories260KTokenizer),
        ["stories260K.f32.gguf"] = TokenizerLoader.FindFor(ModelLoader.Load(Shared.Stories260KGguf))!,
        ["llama2 tokenizer.model"] = TokenizerLoader.Load(Shared.PathOf("tokenizers", "llama2", "tokenizer.model")),
        ["gpt-2"] = TokenizerLoader.Load(VocabTestVectors.VocabPath("gpt-2")),
        ["gpt-neox"] = TokenizerLoader.Load(VocabTestVectors.VocabPath("gpt-neox")),
    });

    public static TheoryData<string> Names() => ["tok512.bin", "stories260K.f32.gguf", "llama2 tokenizer.model", "gpt-2", "gpt-neox"];

    [Theory]
    [MemberData(nameof(Names))]
    public void StreamingPiecesAddUpToTheDecodedText(string name)
    {
        var tokenizer = All.Value[name];
        // ASCII stories: no piece ends inside a multi-byte character, so each piece decodes on its own.
        foreach (var e in Shared.ReadJsonLines(Shared.Reference("stories260K.tokenize.jsonl")).Take(20))
        {
            var ids = tokenizer.Encode(e.GetProperty("text").GetString()!, addBos: true);
            var streamed = new StringBuilder();
            for (int i = 1; i < ids.Length; i++) streamed.Append(tokenizer.DecodePiece(ids[i - 1], ids[i]));
            Assert.Equal(tokenizer.Decode(ids), streamed.ToString());
        }
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void TextStreamJoinsCharactersSplitAcrossByteTokens(string name)
    {
        var tokenizer = All.Value[name];
        // The vector strings hold emoji, CJK and Khmer that byte-fallback or byte-level tokens cut into pieces.
        foreach (var (text, _) in VocabTestVectors.Read("llama-spm"))
        {
            var ids = tokenizer.Encode(text, addBos: true);
            var stream = new TokenTextStream(tokenizer, ids[0]);
            var streamed = new StringBuilder();
            foreach (var id in ids[1..])
            {
                var piece = stream.Append(id);
                Assert.DoesNotContain('\uFFFD', piece);
                streamed.Append(piece);
            }
            streamed.Append(stream.Flush());
            Assert.Equal(text, streamed.ToString());
        }
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void UnpairedSurrogatesEncodeAsTheReplacementCharacter(string name)
    {
        var tokenizer = All.Value[name];
        // Encoding.UTF8 writes U+FFFD for an unpaired surrogate; the tokenizers see those bytes and round-trip them.
        Assert.Equal("a\uFFFDb\uFFFD", tokenizer.Decode(tokenizer.Encode("a\uD800b\uDC00", addBos: true)));
    }

    [Fact]
    public void Tok512AndItsGgufConversionAgreeOnEveryVectorString()
    {
        // Same vocabulary, two algorithms (run.c's and llama.cpp's): tok512 lacks most characters, so this exercises
        // byte fallback for CJK, Khmer, Cyrillic and emoji on top of the stories.
        var runC = All.Value["tok512.bin"];
        var llamaCpp = All.Value["stories260K.f32.gguf"];
        foreach (var (text, _) in VocabTestVectors.Read("llama-spm"))
        {
            var ids = runC.Encode(text, addBos: true);
            Assert.Equal(ids, llamaCpp.Encode(text, addBos: true));
            Assert.Equal(text, runC.Decode(ids));
            Assert.Equal(text, llamaCpp.Decode(ids));
        }
    }
}
