using Pare.Engine.Kernels;

namespace Pare.Engine.Sampling;

/// <summary>
/// Turns logits into the distribution actually sampled from (temperature, then top-k, then top-p, renormalised)
/// and draws from it with a seeded xorshift generator. Speculative sampling uses <see cref="Distribution"/> for
/// both target and draft so that p and q are filtered the same way.
/// </summary>
public sealed class Sampler
{
    private readonly int[] _order;
    private readonly float[] _keys;
    private ulong _state;

    public Sampler(int vocabSize, SamplingOptions options)
    {
        Options = options;
        _order = new int[vocabSize];
        _keys = new float[vocabSize];
        _state = options.Seed == 0 ? 0x9E3779B97F4A7C15UL : options.Seed;
    }

    public SamplingOptions Options { get; }

    /// <summary>Uniform float in [0, 1) (xorshift64*, as llama2.c's random_f32).</summary>
    public float NextFloat()
    {
        _state ^= _state >> 12;
        _state ^= _state << 25;
        _state ^= _state >> 27;
        return ((uint)((_state * 0x2545F4914F6CDD1DUL) >> 32) >> 8) / 16777216.0f;
    }

    /// <summary>The next token for these logits (greedy when temperature is 0).</summary>
    public int Sample(ReadOnlySpan<float> logits, Span<float> scratch)
    {
        if (Options.IsGreedy) return Simd.ArgMax(logits);
        Distribution(logits, scratch);
        return Draw(scratch);
    }

    /// <summary>Draws an index from a normalised distribution.</summary>
    public int Draw(ReadOnlySpan<float> probs)
    {
        float r = NextFloat(), cdf = 0;
        int last = 0;
        for (int i = 0; i < probs.Length; i++)
        {
            if (probs[i] <= 0) continue;
            cdf += probs[i];
            last = i;
            if (r < cdf) return i;
        }
        return last; // rounding left the total a hair under r
    }

    /// <summary>Writes the filtered, normalised sampling distribution for <paramref name="logits"/> into <paramref name="probs"/>.</summary>
    public void Distribution(ReadOnlySpan<float> logits, Span<float> probs)
    {
        int n = logits.Length;
        if (Options.IsGreedy)
        {
            probs[..n].Clear();
            probs[Simd.ArgMax(logits)] = 1f;
            return;
        }
        float invT = 1f / Options.Temperature;
        for (int i = 0; i < n; i++) probs[i] = logits[i] * invT;
        Simd.Softmax(probs[..n]);
        bool topK = Options.TopK > 0 && Options.TopK < n;
        bool topP = Options.TopP > 0f && Options.TopP < 1f;
        if (!topK && !topP) return;

        var order = _order.AsSpan(0, n);
        var keys = _keys.AsSpan(0, n);
        for (int i = 0; i < n; i++)
        {
            order[i] = i;
            keys[i] = -probs[i];
        }
        keys.Sort(order); // most likely first
        int keep = topK ? Options.TopK : n;
        if (topP)
        {
            float cum = 0;
            for (int i = 0; i < keep; i++)
            {
                cum += probs[order[i]];
                if (cum >= Options.TopP) { keep = i + 1; break; }
            }
        }
        float kept = 0;
        for (int i = 0; i < keep; i++) kept += probs[order[i]];
        float inv = 1f / kept;
        for (int i = keep; i < n; i++) probs[order[i]] = 0f;
        for (int i = 0; i < keep; i++) probs[order[i]] *= inv;
    }
}
