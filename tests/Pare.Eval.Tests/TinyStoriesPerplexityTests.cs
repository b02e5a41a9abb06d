using System.Text.Json;
using Pare.Core.Formats;
using Pare.Core.Tokenizers;
using Pare.Engine;
using Pare.TestSupport;

namespace Pare.Eval.Tests;

/// <summary>TinyStories-protocol perplexity of stories260K against the per-window NLLs llama2.c-based tooling recorded.</summary>
public class TinyStoriesPerplexityTests
{
    private static readonly Lazy<LlamaWeights> Weights = new(() => LlamaWeights.FromCheckpoint(ModelLoader.Load(Shared.Stories260K)));
    private static readonly Lazy<Llama2cTokenizer> Tokenizer = new(() => Llama2cTokenizer.Load(Shared.Stories260KTokenizer));

    private static int[] LeadingTokens(int needed)
    {
        var tokens = new List<int>();
        foreach (var story in EvalText.Stories(File.ReadAllText(Shared.TinyStories)))
        {
            tokens.AddRange(Tokenizer.Value.Encode(story, addBos: true));
            if (tokens.Count >= needed) break;
        }
        return tokens.ToArray();
    }

    [Theory]
    [InlineData(256, 48)]
    [InlineData(512, 24)]
    public void FirstWindowsMatchReference(int window, int windows)
    {
        var reference = JsonDocument.Parse(File.ReadAllText(Shared.Reference("stories260K.ppl.json"))).RootElement
            .GetProperty("windows").GetProperty(window.ToString());
        var expected = reference.GetProperty("window_nll").EnumerateArray().Take(windows).Select(e => e.GetDouble()).ToArray();

        var result = Perplexity.Evaluate(Weights.Value, LeadingTokens(window * windows), window, windows, threads: 2);

        Assert.Equal(windows, result.Windows);
        for (int w = 0; w < windows; w++)
            Assert.True(Math.Abs(result.WindowNll[w] - expected[w]) < 5e-5, $"window {w}: {result.WindowNll[w]} vs {expected[w]}");
        double expectedPpl = Math.Exp(expected.Average());
        Assert.True(Math.Abs(result.Perplexity / expectedPpl - 1) < 1e-3, $"ppl {result.Perplexity} vs {expectedPpl}");
    }

    [Fact]
    public void TokenStreamStartsLikeTheReferenceTokenization()
    {
        // The reference tokenization file lists BOS + llama2.c ids of the first stories of the same slice.
        var first = Shared.ReadJsonLines(Shared.Reference("stories260K.tokenize.jsonl")).Take(3).SelectMany(r => Shared.Ints(r.GetProperty("ids"))).ToArray();
        var ours = LeadingTokens(first.Length).Take(first.Length).ToArray();
        Assert.Equal(first, ours);
    }

    [Fact]
    public void NllOfAUniformModelIsLogVocab()
    {
        // Identity: equal logits give every token probability 1/V.
        const int vocab = 7;
        var logits = new float[4 * vocab];
        var nll = Perplexity.MeanNextTokenNll(logits, [1, 2, 3, 4], vocab);
        Assert.Equal(Math.Log(vocab), nll, 12);
    }
}
