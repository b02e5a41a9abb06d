using Pare.Engine.Sampling;

namespace Pare.Engine.Speculative;

/// <summary>
/// Proposes tokens for <see cref="SpeculativeDecoder"/> to verify. The decoder owns the context (prompt plus every
/// accepted token); a drafter keeps whatever state it needs (a KV cache, n-gram tables, a head's hidden state) and
/// re-synchronises through <see cref="Accept"/>. Trained modules (Medusa/EAGLE-style heads) implement this too.
/// </summary>
public interface IDrafter
{
    /// <summary>Short description for reports ("lookup", "layers=2", "model:stories15M").</summary>
    string Name { get; }

    /// <summary>Starts a new sequence; <paramref name="prompt"/> is the whole prompt (BOS first).</summary>
    void Reset(ReadOnlySpan<int> prompt);

    /// <summary>
    /// Proposes up to <paramref name="k"/> tokens continuing <paramref name="context"/> into <paramref name="tokens"/>.
    /// When it samples (sampler not greedy) a drafter that has distributions writes the filtered draft distribution
    /// q_i of token i to distributions[i·vocab, (i+1)·vocab) using <paramref name="sampler"/>'s filtering, and says so
    /// in the result; otherwise each q_i is taken as a point mass on token i (valid for speculative sampling).
    /// </summary>
    Draft Propose(ReadOnlySpan<int> context, int k, Sampler sampler, Span<int> tokens, Span<float> distributions);

    /// <summary>
    /// The target kept the first <paramref name="accepted"/> proposed tokens and then emitted
    /// <paramref name="correction"/> (its own token: the correction after a rejection, or the bonus token).
    /// </summary>
    void Accept(int accepted, int correction);
}

/// <summary>What a drafter proposed: how many tokens, and whether their distributions were written.</summary>
public readonly record struct Draft(int Count, bool HasDistributions);
