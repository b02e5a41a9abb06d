namespace Pare.Core;

/// <summary>Hyper-parameters of a decoder-only LLaMA-architecture model.</summary>
public sealed record ModelConfig
{
    public string Architecture { get; init; } = "llama";
    public required int Dim { get; init; }
    public required int HiddenDim { get; init; }
    public required int Layers { get; init; }
    public required int Heads { get; init; }
    public required int KvHeads { get; init; }
    public required int VocabSize { get; init; }
    public required int MaxSeqLen { get; init; }
    public float NormEps { get; init; } = 1e-5f;
    public float RopeTheta { get; init; } = 10000f;
    /// <summary>True when the classifier reuses the token embedding matrix.</summary>
    public bool TiedEmbeddings { get; init; } = true;

    public int HeadDim => Dim / Heads;
    public int KvDim => KvHeads * HeadDim;

    /// <summary>Throws when the numbers cannot describe a working model.</summary>
    public void Validate(string source)
    {
        static bool Bad(long v, long max) => v <= 0 || v > max;
        if (Bad(Dim, 1 << 20) || Bad(HiddenDim, 1 << 22) || Bad(Layers, 4096) || Bad(Heads, 4096) || Bad(KvHeads, 4096)
            || Bad(VocabSize, 1 << 24) || Bad(MaxSeqLen, 1 << 24))
            throw new PareFormatException(source, $"implausible model dimensions (dim {Dim}, hidden {HiddenDim}, layers {Layers}, heads {Heads}, kv heads {KvHeads}, vocab {VocabSize}, seq_len {MaxSeqLen})");
        if (Dim % Heads != 0)
            throw new PareFormatException(source, $"dim {Dim} is not a multiple of the head count {Heads}");
        if (Heads % KvHeads != 0)
            throw new PareFormatException(source, $"head count {Heads} is not a multiple of the kv head count {KvHeads}");
        if (HeadDim % 2 != 0)
            throw new PareFormatException(source, $"head size {HeadDim} is odd; rotary embeddings need pairs");
    }
}
