namespace Pare.Engine;

/// <summary>
/// Decides, block by block, which tokens compute a decoder block (FTP's token routing). The Engine computes the
/// factors a router reads: each token's position, the attention weight the token's query put on its own key in the
/// last block it computed (1 before the first), and that weight's rank among the sequence's earlier tokens at this
/// layer (the share of them with a smaller weight). All three are causal, so a token's decision is the same whether
/// it runs in a prefill batch or alone in decoding.
/// </summary>
public interface ITokenRouter
{
    /// <summary>Writes, for each token, true when it computes block <paramref name="layer"/>.</summary>
    void Route(int layer, ReadOnlySpan<int> positions, ReadOnlySpan<float> attention, ReadOnlySpan<float> rank, Span<bool> active);
}
