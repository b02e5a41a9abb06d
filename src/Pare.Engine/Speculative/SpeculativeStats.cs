namespace Pare.Engine.Speculative;

/// <summary>
/// Counts of one speculative generation. τ counts the target's own token in every round (the EAGLE/Spec-Bench
/// convention): a round that accepts n drafts yields n + 1 tokens.
/// </summary>
public sealed record SpeculativeStats(int Rounds, long Drafted, long Accepted)
{
    /// <summary>Mean tokens per target forward pass: (accepted + rounds) / rounds.</summary>
    public double Tau => Rounds == 0 ? 0 : (double)(Accepted + Rounds) / Rounds;

    /// <summary>Share of drafted tokens the target accepted.</summary>
    public double AcceptanceRate => Drafted == 0 ? 0 : (double)Accepted / Drafted;

    public static SpeculativeStats operator +(SpeculativeStats a, SpeculativeStats b) =>
        new(a.Rounds + b.Rounds, a.Drafted + b.Drafted, a.Accepted + b.Accepted);

    public static SpeculativeStats Zero { get; } = new(0, 0, 0);
}

/// <summary>A speculative generation: the same result as plain decoding plus the drafting statistics.</summary>
public sealed record SpeculativeResult(GenerationResult Generation, SpeculativeStats Stats)
{
    public int[] GeneratedIds => Generation.GeneratedIds;

    /// <summary>Generated tokens per second of the whole call (prefill included), comparable across decoders.</summary>
    public double TokensPerSecond => Generation.GeneratedIds.Length / Math.Max(Generation.PrefillSeconds + Generation.DecodeSeconds, 1e-12);
}
