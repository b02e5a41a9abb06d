using Pare.Core;
using Pare.Core.Formats;
using Pare.TestSupport;

namespace Pare.Engine.Tests;

/// <summary>The Engine's token-routing seam: per block, only the routed tokens compute it.</summary>
public class TokenRoutingTests
{
    private static readonly Lazy<Checkpoint> Model = new(() => ModelLoader.Load(Shared.Stories260K));
    private static readonly int[] Prompt = [1, 403, 407, 261, 378, 300, 268, 426, 297, 288, 379, 344, 264, 312, 402, 270, 429, 265, 380, 311];

    private sealed class Rule(Func<int, int, float, float, bool> decide) : ITokenRouter
    {
        public void Route(int layer, ReadOnlySpan<int> positions, ReadOnlySpan<float> attention, ReadOnlySpan<float> rank, Span<bool> active)
        {
            for (int t = 0; t < positions.Length; t++) active[t] = decide(layer, positions[t], attention[t], rank[t]);
        }
    }

    private static float[] Logits(LlamaWeights w, ITokenRouter? router, int[] tokens, bool oneByOne = false)
    {
        using var model = new Transformer(w) { Router = router };
        var cache = model.NewCache();
        int v = w.Config.VocabSize;
        var logits = new float[tokens.Length * v];
        if (!oneByOne) model.Forward(tokens, cache, logits);
        else
            for (int t = 0; t < tokens.Length; t++) model.Forward(tokens.AsSpan(t, 1), cache, logits.AsSpan(t * v, v));
        return logits;
    }

    [Fact]
    public void RoutingEveryTokenEqualsTheDenseModelBitForBit()
    {
        var w = LlamaWeights.FromCheckpoint(Model.Value);
        Assert.Equal(Logits(w, null, Prompt), Logits(w, new Rule((_, _, _, _) => true), Prompt));
    }

    [Fact]
    public void RoutingNoTokenEqualsRemovingTheBlock()
    {
        var w = LlamaWeights.FromCheckpoint(Model.Value);
        var removed = LlamaWeights.FromCheckpoint(BlockRemoval.RemoveLayers(Model.Value, [2]));
        Assert.Equal(4, removed.Config.Layers);
        Assert.Equal(Logits(removed, null, Prompt), Logits(w, new Rule((l, _, _, _) => l != 2), Prompt));
    }

    [Fact]
    public void RoutedPrefillEqualsRoutedDecodingBitForBit()
    {
        // The routing factors are causal, so a token takes the same path in a batch as alone.
        var w = LlamaWeights.FromCheckpoint(Model.Value);
        var router = new Rule((l, p, a, r) => l == 0 || p == 0 || r > 0.3f || a > 0.6f);
        var batch = Logits(w, router, Prompt);
        var single = Logits(w, router, Prompt, oneByOne: true);
        Assert.Equal(batch, single);
        Assert.NotEqual(Logits(w, null, Prompt), batch);
    }

    [Fact]
    public void SkippedTokensLeaveNoCacheEntriesAndRollBack()
    {
        var w = LlamaWeights.FromCheckpoint(Model.Value);
        using var model = new Transformer(w) { Router = new Rule((l, p, _, _) => l != 1 || p % 2 == 0) };
        var cache = model.NewCache();
        var logits = new float[w.Config.VocabSize];
        model.Forward(Prompt, cache, logits);
        Assert.Equal(Prompt.Length, cache.LayerLength(0));
        Assert.Equal(Prompt.Length / 2, cache.LayerLength(1));
        Assert.Equal(Enumerable.Range(0, Prompt.Length / 2).Select(i => 2 * i), cache.Positions[1].Take(cache.LayerLength(1)));
        Assert.Equal(Prompt.Length / 2, model.TokensComputed[1]);
        cache.Truncate(7);
        Assert.Equal(7, cache.LayerLength(0));
        Assert.Equal(4, cache.LayerLength(1));
    }

    [Fact]
    public void ZeroOutputProjectionsMarkRemovedSubBlocks()
    {
        var pruned = BlockRemoval.Remove(Model.Value, [(1, SubBlock.Attention), (3, SubBlock.Mlp)]);
        var w = LlamaWeights.FromCheckpoint(pruned);
        Assert.Equal(5, w.Config.Layers);
        Assert.True(w.Layers[1].AttentionRemoved);
        Assert.False(w.Layers[1].MlpRemoved);
        Assert.True(w.Layers[3].MlpRemoved);
        Assert.DoesNotContain(LlamaWeights.FromCheckpoint(Model.Value).Layers, l => l.AttentionRemoved || l.MlpRemoved);
        Assert.All(Logits(w, null, Prompt), v => Assert.True(float.IsFinite(v)));
    }
}
