namespace Pare.Engine.Sampling;

/// <summary>How the next token is chosen. Temperature 0 means greedy (argmax).</summary>
public sealed record SamplingOptions
{
    public float Temperature { get; init; } = 1f;
    /// <summary>Keep only the K most likely tokens (0 = all).</summary>
    public int TopK { get; init; }
    /// <summary>Keep the smallest set of most likely tokens whose probability reaches P (1 = all).</summary>
    public float TopP { get; init; } = 1f;
    public ulong Seed { get; init; } = 42;

    public bool IsGreedy => Temperature <= 0f;

    public static SamplingOptions Greedy { get; } = new() { Temperature = 0f };
}
