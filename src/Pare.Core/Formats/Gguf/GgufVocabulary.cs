using Pare.Core.Tokenizers;

namespace Pare.Core.Formats.Gguf;

/// <summary>The tokenizer vocabulary embedded in a GGUF file (tokenizer.ggml.* keys), as <see cref="VocabularyData"/>.</summary>
public static class GgufVocabulary
{
    public const string ModelKey = "tokenizer.ggml.model";
    public const string TokensKey = "tokenizer.ggml.tokens";
    public const string ScoresKey = "tokenizer.ggml.scores";
    public const string TokenTypesKey = "tokenizer.ggml.token_type";
    public const string MergesKey = "tokenizer.ggml.merges";
    public const string BosKey = "tokenizer.ggml.bos_token_id";
    public const string EosKey = "tokenizer.ggml.eos_token_id";
    public const string UnknownKey = "tokenizer.ggml.unknown_token_id";
    public const string AddBosKey = "tokenizer.ggml.add_bos_token";
    public const string PreKey = "tokenizer.ggml.pre";
    public const string AddSpacePrefixKey = "tokenizer.ggml.add_space_prefix";

    /// <summary>The embedded vocabulary, or null when the file has none (no tokenizer.ggml.model).</summary>
    public static VocabularyData? Read(GgufFile file)
    {
        var m = file.Metadata;
        var model = m.FindString(ModelKey);
        if (model is null) return null;
        var kind = model switch
        {
            "llama" => VocabularyKind.SentencePieceBpe,
            "gpt2" => VocabularyKind.ByteLevelBpe,
            _ => throw new PareFormatException(file.Path, $"unsupported tokenizer model '{model}' ({ModelKey}); Pare reads 'llama' and 'gpt2'"),
        };
        var tokens = m.GetStringArray(TokensKey);
        if (tokens.Length == 0)
            throw new PareFormatException(file.Path, $"{TokensKey} is empty");
        var scores = m.Contains(ScoresKey) ? m.GetFloat32Array(ScoresKey) : null;
        var types = m.Contains(TokenTypesKey) ? m.GetInt32Array(TokenTypesKey) : null;
        if (scores != null && scores.Length != tokens.Length)
            throw new PareFormatException(file.Path, $"{ScoresKey} has {scores.Length} entries for {tokens.Length} tokens");
        if (types != null && types.Length != tokens.Length)
            throw new PareFormatException(file.Path, $"{TokenTypesKey} has {types.Length} entries for {tokens.Length} tokens");
        if (kind == VocabularyKind.SentencePieceBpe && scores is null)
            throw new PareFormatException(file.Path, $"a '{model}' vocabulary needs {ScoresKey}");
        var merges = m.Contains(MergesKey) ? m.GetStringArray(MergesKey) : null;
        if (kind == VocabularyKind.ByteLevelBpe && merges is null)
            throw new PareFormatException(file.Path, $"a '{model}' vocabulary needs {MergesKey}");

        var defaults = new VocabularyData { Kind = kind, Tokens = tokens };
        return new VocabularyData
        {
            Kind = kind,
            Tokens = tokens,
            Scores = scores,
            TokenTypes = types,
            Merges = merges,
            BosId = TokenId(file, BosKey, tokens.Length) ?? defaults.BosId,
            EosId = TokenId(file, EosKey, tokens.Length) ?? defaults.EosId,
            UnknownId = TokenId(file, UnknownKey, tokens.Length) ?? defaults.UnknownId,
            // Absent key: SentencePiece (LLaMA) vocabularies start with BOS; GPT-2 text has no BOS convention.
            AddBos = m.FindBool(AddBosKey) ?? kind == VocabularyKind.SentencePieceBpe,
            PreTokenizer = m.FindString(PreKey),
            // llama.cpp: on for SentencePiece vocabularies unless the key says otherwise; byte-level BPE never adds it.
            AddSpacePrefix = kind == VocabularyKind.SentencePieceBpe && (m.FindBool(AddSpacePrefixKey) ?? true),
            Source = file.Path,
        };
    }

    /// <summary>A special token id; -1 when the file marks it absent (llama.cpp writes 0xFFFFFFFF).</summary>
    private static int? TokenId(GgufFile file, string key, int vocabSize)
    {
        long? id = file.Metadata.FindInt64(key);
        if (id is null) return null;
        if (id is uint.MaxValue or -1) return -1;
        if (id < 0 || id >= vocabSize)
            throw new PareFormatException(file.Path, $"{key} = {id} is outside the vocabulary of {vocabSize} tokens");
        return (int)id;
    }
}
