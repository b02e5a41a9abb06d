using Pare.Engine.Sampling;

namespace Pare.Engine.Speculative;

/// <summary>
/// A measuring instrument, not a usable drafter: proposes a continuation known in advance (the target's own greedy
/// output, from a plain run). Under greedy verification every proposal is accepted, so τ = k + 1 at no drafting
/// cost, and its speed-up is the ceiling any drafter can reach with this target, k and machine —
/// (k + 1) / c(k + 1), set only by what verifying k + 1 tokens costs.
/// </summary>
public sealed class OracleDrafter : IDrafter
{
    private int[] _expected = [];

    public string Name => "oracle";

    /// <summary>The sequence the next generation will produce: its prompt followed by the generated tokens.</summary>
    public void Expect(ReadOnlySpan<int> prompt, ReadOnlySpan<int> generated)
    {
        _expected = new int[prompt.Length + generated.Length];
        prompt.CopyTo(_expected);
        generated.CopyTo(_expected.AsSpan(prompt.Length));
    }

    public void Reset(ReadOnlySpan<int> prompt) { }

    public Draft Propose(ReadOnlySpan<int> context, int k, Sampler sampler, Span<int> tokens, Span<float> distributions)
    {
        int from = context.Length;
        if (from > _expected.Length || !context.SequenceEqual(_expected.AsSpan(0, from))) return default;
        int count = Math.Min(k, _expected.Length - from);
        _expected.AsSpan(from, count).CopyTo(tokens);
        return new Draft(count, false);
    }

    public void Accept(int accepted, int correction) { }
}
