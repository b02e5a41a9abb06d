using Pare.Core.Tokenizers;
using Pare.TestSupport;

namespace Pare.Core.Tests.Tokenizers;

/// <summary>The llama2.c tokenizer against run.c's own encodings of TinyStories (reference/stories260K.tokenize.jsonl).</summary>
public class Llama2cTokenizerTests
{
    private static readonly Lazy<Llama2cTokenizer> Tok512 = new(() => Llama2cTokenizer.Load(Shared.Stories260KTokenizer));

    private static IEnumerable<(string Text, int[] Ids)> Stories() =>
        Shared.ReadJsonLines(Shared.Reference("stories260K.tokenize.jsonl"))
            .Select(e => (e.GetProperty("text").GetString()!, Shared.Ints(e.GetProperty("ids"))));

    [Fact]
    public void EncodesEveryReferenceStoryLikeRunC()
    {
        var stories = Stories().ToList();
        Assert.Equal(211, stories.Count);
        var bad = stories.Where(s => !Tok512.Value.Encode(s.Text, addBos: true).SequenceEqual(s.Ids)).Select(s => s.Text[..Math.Min(60, s.Text.Length)]).ToList();
        Assert.True(bad.Count == 0, $"{bad.Count}/{stories.Count} stories differ from run.c, first: {bad.FirstOrDefault()}");
    }

    [Fact]
    public void DecodingTheEncodingGivesBackEveryStory()
    {
        foreach (var (text, _) in Stories())
            Assert.Equal(text, Tok512.Value.Decode(Tok512.Value.Encode(text, addBos: true)));
    }
}
