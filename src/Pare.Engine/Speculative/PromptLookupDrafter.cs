using Pare.Engine.Sampling;

namespace Pare.Engine.Speculative;

/// <summary>
/// Prompt lookup decoding (Saxena 2023): find the last n context tokens (n = 3, then 2, then 1) earlier in the
/// context and propose the tokens that followed that earlier occurrence. As the reference implementation, the
/// earliest occurrence wins and it must end before the trailing n-gram starts. Proposals are deterministic, so
/// each q is a point mass on the proposed token — exact under speculative sampling too. Costs no model evaluation.
/// </summary>
public sealed class PromptLookupDrafter(int maxNgram = 3, int maxProposal = 10) : IDrafter
{
    public string Name => "lookup";

    public void Reset(ReadOnlySpan<int> prompt) { }

    public Draft Propose(ReadOnlySpan<int> context, int k, Sampler sampler, Span<int> tokens, Span<float> distributions)
    {
        int len = context.Length;
        k = Math.Min(k, maxProposal);
        if (k <= 0) return default;
        for (int n = Math.Min(maxNgram, len - 1); n >= 1; n--)
        {
            var tail = context[(len - n)..];
            // A match at i is followed by context[i + n ..]; the reference requires i + n < len - n.
            for (int i = 0; i + n < len - n; i++)
            {
                if (!context.Slice(i, n).SequenceEqual(tail)) continue;
                int from = i + n, count = Math.Min(k, len - from);
                context.Slice(from, count).CopyTo(tokens);
                return new Draft(count, false);
            }
        }
        return default;
    }

    public void Accept(int accepted, int correction) { }
}
