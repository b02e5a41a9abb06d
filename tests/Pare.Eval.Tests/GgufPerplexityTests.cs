using Pare.Core.Formats;
using Pare.Core.Formats.Gguf;
using Pare.Core.Tokenizers;
using Pare.Engine;
using Pare.TestSupport;

namespace Pare.Eval.Tests;

/// <summary>A GGUF that Pare wrote, read back by Pare, has the perplexity of the model it came from.</summary>
public class GgufPerplexityTests
{
    [Fact]
    public void PareGgufHasTheLlama2cPerplexity()
    {
        using var dir = new TempDir();
        var original = ModelLoader.Load(Shared.Stories260K);
        GgufWriter.Write(original, dir.File("stories260K.gguf"), Llama2cVocabulary.Read(Shared.Stories260KTokenizer, 512));
        var gguf = ModelLoader.Load(dir.File("stories260K.gguf"));
        Assert.Equal("gguf", gguf.Format);
        Assert.NotNull(gguf.Vocabulary);

        var tokenizer = Llama2cTokenizer.Load(Shared.Stories260KTokenizer);
        var tokens = EvalText.Stories(File.ReadAllText(Shared.TinyStories)).Take(40).SelectMany(s => tokenizer.Encode(s, addBos: true)).ToArray();
        var expected = Perplexity.Evaluate(LlamaWeights.FromCheckpoint(original), tokens, 256, 8);
        var actual = Perplexity.Evaluate(LlamaWeights.FromCheckpoint(gguf), tokens, 256, 8);
        Assert.Equal(8, actual.Windows);
        Assert.Equal(expected.WindowNll, actual.WindowNll);
        Assert.Equal(expected.Perplexity, actual.Perplexity);
    }
}
