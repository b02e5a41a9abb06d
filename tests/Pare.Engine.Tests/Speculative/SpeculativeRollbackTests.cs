using Pare.Engine.Sampling;
using Pare.Engine.Speculative;

namespace Pare.Engine.Tests.Speculative;

/// <summary>After every round the target's KV cache must equal that of plain decoding of the kept tokens.</summary>
public class SpeculativeRollbackTests
{
    [Theory]
    [InlineData(0f)]
    [InlineData(1f)]
    public void TargetCacheEqualsPlainDecodingOfTheAcceptedTokensAfterEveryRound(float temperature)
    {
        var weights = SpeculativeFixture.Target;
        var target = new Transformer(weights);
        var reference = new Transformer(weights);
        var drafter = new TransformerDrafter(new Transformer(SelfDraft.EarlyExit(weights, 2)), "layers=2");
        var decoder = new SpeculativeDecoder(target, drafter, 5);
        var prompt = SpeculativeFixture.Prompts()[3];
        decoder.Start(prompt, new SamplingOptions { Temperature = temperature, Seed = 11 });
        Span<int> emitted = stackalloc int[6];
        var logits = new float[weights.Config.VocabSize];
        int partialRounds = 0;
        for (int round = 0; round < 25; round++)
        {
            int got = decoder.Round(100, emitted);
            if (got < 6) partialRounds++;
            var context = decoder.Context;
            var cache = decoder.TargetCache;
            Assert.Equal(context.Length - 1, cache.Length);
            // Plain decoding: one token at a time, as Generator does.
            var plain = reference.NewCache();
            for (int i = 0; i < context.Length - 1; i++) reference.Forward(context.Slice(i, 1), plain, logits);
            for (int l = 0; l < weights.Config.Layers; l++)
            {
                int n = cache.Length * cache.KvDim;
                AssertClose(plain.Keys[l].AsSpan(0, n), cache.Keys[l].AsSpan(0, n), $"keys, layer {l}, round {round}");
                AssertClose(plain.Values[l].AsSpan(0, n), cache.Values[l].AsSpan(0, n), $"values, layer {l}, round {round}");
            }
        }
        Assert.True(partialRounds > 0, "no round rejected a draft; rollback was not exercised");
    }

    [Fact]
    public void VerificationLogitsAreBitwiseThoseOfOneTokenAtATime()
    {
        // Greedy speculative output equals plain greedy output only if scoring k tokens in one batch gives exactly the
        // logits of scoring them one by one; a kernel that reorders sums could flip a near-tie.
        var weights = SpeculativeFixture.Target;
        var model = new Transformer(weights);
        var tokens = SpeculativeFixture.Prompts()[5];
        int vocab = weights.Config.VocabSize, n = Math.Min(9, tokens.Length - 1);
        var batched = new float[n * vocab];
        var cache = model.NewCache();
        model.Forward(tokens.AsSpan(0, tokens.Length - n), cache, batched.AsSpan(0, vocab));
        model.Forward(tokens.AsSpan(tokens.Length - n), cache, batched);
        var single = new float[vocab];
        cache = model.NewCache();
        model.Forward(tokens.AsSpan(0, tokens.Length - n), cache, single);
        for (int t = 0; t < n; t++)
        {
            model.Forward(tokens.AsSpan(tokens.Length - n + t, 1), cache, single);
            Assert.True(single.AsSpan().SequenceEqual(batched.AsSpan(t * vocab, vocab)), $"token {t} of the batch");
        }
    }

    private static void AssertClose(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, string what)
    {
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-5f, $"{what}: [{i}] {actual[i]} vs {expected[i]}");
    }
}
