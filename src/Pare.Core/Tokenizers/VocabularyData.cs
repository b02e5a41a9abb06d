namespace Pare.Core.Tokenizers;

/// <summary>The kind of tokenizer a vocabulary belongs to.</summary>
public enum VocabularyKind
{
    /// <summary>SentencePiece-style BPE by token scores with byte fallback (llama2.c, GGUF "llama").</summary>
    SentencePieceBpe,
    /// <summary>GPT-2 byte-level BPE with a merges list (GGUF "gpt2").</summary>
    ByteLevelBpe,
}

/// <summary>A vocabulary as stored in a model or tokenizer file, before a tokenizer is built from it.</summary>
public sealed record VocabularyData
{
    public required VocabularyKind Kind { get; init; }
    public required string[] Tokens { get; init; }
    public float[]? Scores { get; init; }
    /// <summary>GGUF token types (1 normal, 2 unknown, 3 control, 4 user defined, 5 unused, 6 byte).</summary>
    public int[]? TokenTypes { get; init; }
    public string[]? Merges { get; init; }
    public int BosId { get; init; } = 1;
    public int EosId { get; init; } = 2;
    public int UnknownId { get; init; } = 0;
    public bool AddBos { get; init; } = true;
    /// <summary>SentencePiece's dummy prefix: a space put in front of the text before encoding (GGUF tokenizer.ggml.add_space_prefix, default on).</summary>
    public bool AddSpacePrefix { get; init; } = true;
    /// <summary>GGUF tokenizer.ggml.pre (pre-tokenizer name), when given.</summary>
    public string? PreTokenizer { get; init; }
    public string Source { get; init; } = "";
}
