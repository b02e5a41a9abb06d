using Pare.Engine.Sampling;
using Pare.Engine.Speculative;

namespace Pare.Engine.Tests.Speculative;

/// <summary>Greedy speculative decoding must reproduce plain greedy decoding token for token.</summary>
public class SpeculativeGreedyTests
{
    [Fact]
    public void EveryDrafterAndDraftLengthReproducesPlainGreedy()
    {
        var target = new Transformer(SpeculativeFixture.Target);
        var plain = new Generator(target);
        var prompts = SpeculativeFixture.Prompts();
        const int maxTokens = 40;
        var expected = prompts.Select(p => plain.Generate(p, maxTokens, SamplingOptions.Greedy).GeneratedIds).ToArray();
        Assert.Contains(expected, e => e.Length == maxTokens);
        foreach (var make in SpeculativeFixture.Drafters())
        {
            var drafter = make(target);
            var total = SpeculativeStats.Zero;
            for (int k = 1; k <= 8; k++)
            {
                var decoder = new SpeculativeDecoder(target, drafter, k);
                for (int i = 0; i < prompts.Length; i++)
                {
                    var result = decoder.Generate(prompts[i], maxTokens, SamplingOptions.Greedy);
                    Assert.True(expected[i].SequenceEqual(result.GeneratedIds), $"{drafter.Name}, k = {k}, prompt {i}: [{string.Join(",", result.GeneratedIds)}] vs plain [{string.Join(",", expected[i])}]");
                    total += result.Stats;
                }
            }
            // The round count must match the tokens emitted (τ counts the target's own token in each round).
            Assert.True(total.Rounds > 0 && total.Accepted <= total.Drafted, drafter.Name);
        }
    }

    [Fact]
    public void TauCountsTheTargetTokenOfEveryRound()
    {
        // A draft identical to the target accepts everything: each round of k drafts yields k + 1 tokens.
        var target = new Transformer(SpeculativeFixture.Target);
        var decoder = new SpeculativeDecoder(target, new TransformerDrafter(new Transformer(SpeculativeFixture.Target), "self"), 3);
        var prompt = SpeculativeFixture.Prompts()[0];
        var plain = new Generator(target).Generate(prompt, 200, SamplingOptions.Greedy, stopToken: null);
        var result = decoder.Generate(prompt, 200, SamplingOptions.Greedy, stopToken: null);
        Assert.Equal(plain.GeneratedIds, result.GeneratedIds);
        Assert.Equal(1.0, result.Stats.AcceptanceRate);
        Assert.Equal(50, result.Stats.Rounds); // 200 tokens in rounds of 4
        Assert.Equal(4.0, result.Stats.Tau);
    }

    [Fact]
    public void OracleReplayingPlainOutputIsAlwaysAccepted()
    {
        // The ceiling instrument: fed the target's own greedy output, every proposal passes verification.
        var target = new Transformer(SpeculativeFixture.Target);
        var prompt = SpeculativeFixture.Prompts()[1];
        var plain = new Generator(target).Generate(prompt, 60, SamplingOptions.Greedy, stopToken: null);
        var oracle = new OracleDrafter();
        foreach (int k in new[] { 1, 4, 5 })
        {
            oracle.Expect(prompt, plain.GeneratedIds);
            var result = new SpeculativeDecoder(target, oracle, k).Generate(prompt, 60, SamplingOptions.Greedy, stopToken: null);
            Assert.Equal(plain.GeneratedIds, result.GeneratedIds);
            Assert.Equal(1.0, result.Stats.AcceptanceRate);
            Assert.Equal((60 + k) / (k + 1), result.Stats.Rounds); // full rounds of k + 1, then the remainder
        }
        // A context that left the expected path gets no proposal.
        oracle.Expect(prompt, plain.GeneratedIds);
        var tokens = new int[4];
        var wrong = prompt.Append(plain.GeneratedIds[0] + 1).ToArray();
        Assert.Equal(0, oracle.Propose(wrong, 4, new Sampler(SpeculativeFixture.Target.Config.VocabSize, SamplingOptions.Greedy), tokens, []).Count);
    }

    [Fact]
    public void PromptLookupProposesWhatFollowedTheEarliestMatchOfTheLongestNgram()
    {
        var lookup = new PromptLookupDrafter();
        var tokens = new int[10];
        var sampler = new Sampler(16, SamplingOptions.Greedy);
        // Trailing 3-gram [5,6,7] occurs at 1 → propose what followed it.
        var d = lookup.Propose([9, 5, 6, 7, 8, 4, 5, 6, 7], 10, sampler, tokens, []);
        Assert.Equal([8, 4, 5, 6, 7], tokens[..d.Count]);
        Assert.False(d.HasDistributions);
        // No 3-gram or 2-gram match; the 1-gram [6] first occurs at 1.
        d = lookup.Propose([3, 6, 2, 1, 6], 2, sampler, tokens, []);
        Assert.Equal([2, 1], tokens[..d.Count]);
        d = lookup.Propose([3, 4, 5], 4, sampler, tokens, []);
        Assert.Equal(0, d.Count);
    }

    [Fact]
    public void DraftModelWithAnotherVocabularyIsRefused()
    {
        var t = SpeculativeFixture.Synthetic;
        var other = new LlamaWeights { Config = t.Config with { VocabSize = 256 }, Embedding = t.Embedding, Layers = t.Layers, FinalNorm = t.FinalNorm, Classifier = t.Classifier };
        var e = Assert.Throws<ArgumentException>(() => TransformerDrafter.For(new Transformer(SpeculativeFixture.Target), new Transformer(other), "other"));
        Assert.Contains("vocabulary", e.Message);
    }
}
