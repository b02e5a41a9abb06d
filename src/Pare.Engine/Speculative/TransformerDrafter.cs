using Pare.Engine.Kernels;
using Pare.Engine.Sampling;

namespace Pare.Engine.Speculative;

/// <summary>
/// Drafts autoregressively with a (smaller or compressed) LLaMA model that shares the target's vocabulary: a
/// separate draft model, or a self-draft built from the target (<see cref="SelfDraft"/>). Keeps its own KV cache,
/// cut back after each round to the accepted prefix and caught up at the next proposal.
/// </summary>
public sealed class TransformerDrafter : IDrafter
{
    private readonly Transformer _model;
    private readonly KvCache _cache;
    private readonly float[] _logits;
    private int _proposedAt;

    /// <param name="stopBelowConfidence">Adaptive draft length: stop drafting when the draft's most likely token has
    /// probability below this (0 = always draft k).</param>
    public TransformerDrafter(Transformer model, string name, float stopBelowConfidence = 0f)
    {
        _model = model;
        Name = name;
        StopBelowConfidence = stopBelowConfidence;
        _cache = model.NewCache();
        _logits = new float[model.Config.VocabSize];
    }

    public string Name { get; }
    public float StopBelowConfidence { get; }
    public Transformer Model => _model;

    /// <summary>A drafter for <paramref name="target"/>, refusing a model whose vocabulary differs.</summary>
    public static TransformerDrafter For(Transformer target, Transformer draft, string name, float stopBelowConfidence = 0f)
    {
        if (draft.Config.VocabSize != target.Config.VocabSize)
            throw new ArgumentException($"draft model {name} has a vocabulary of {draft.Config.VocabSize} tokens, the target's has {target.Config.VocabSize}; speculative decoding needs the same vocabulary");
        return new TransformerDrafter(draft, name, stopBelowConfidence);
    }

    public void Reset(ReadOnlySpan<int> prompt)
    {
        _cache.Truncate(0);
        _proposedAt = 0;
    }

    public Draft Propose(ReadOnlySpan<int> context, int k, Sampler sampler, Span<int> tokens, Span<float> distributions)
    {
        int len = context.Length;
        _proposedAt = len;
        // Token i is fed at position len + i - 1 for i < k - 1; stay inside the draft model's context.
        k = Math.Min(k, _model.Config.MaxSeqLen - len + 1);
        bool sampling = !sampler.Options.IsGreedy;
        if (k <= 0) return new Draft(0, sampling);
        // The cache holds a prefix of the context (what survived the last round); feed the rest.
        _model.Forward(context[_cache.Length..], _cache, _logits);
        int vocab = _logits.Length;
        for (int i = 0; i < k; i++)
        {
            int token;
            float confidence;
            if (sampling)
            {
                var q = distributions.Slice(i * vocab, vocab);
                sampler.Distribution(_logits, q);
                confidence = StopBelowConfidence > 0 ? Max(q) : 1f;
                token = confidence < StopBelowConfidence ? -1 : sampler.Draw(q);
            }
            else
            {
                token = Simd.ArgMax(_logits);
                confidence = StopBelowConfidence > 0 ? TopProbability(_logits, token) : 1f;
            }
            if (confidence < StopBelowConfidence) return new Draft(i, sampling);
            tokens[i] = token;
            if (i + 1 < k) _model.Forward(new ReadOnlySpan<int>(in token), _cache, _logits);
        }
        return new Draft(k, sampling);
    }

    public void Accept(int accepted, int correction)
    {
        int valid = _proposedAt + accepted;
        if (_cache.Length > valid) _cache.Truncate(valid);
    }

    private static float Max(ReadOnlySpan<float> x)
    {
        float m = 0;
        foreach (var v in x) if (v > m) m = v;
        return m;
    }

    /// <summary>softmax(logits)[best] without writing the softmax.</summary>
    private static float TopProbability(ReadOnlySpan<float> logits, int best)
    {
        float max = logits[best], sum = 0;
        foreach (var v in logits) sum += MathF.Exp(v - max);
        return 1f / sum;
    }
}
