using Pare.Core.Tensors;

namespace Pare.Core.Formats.Gguf;

/// <summary>
/// LLaMA-architecture models stored as GGUF. GGUF's q/k rows are already in the interleaved rotary order Pare
/// uses (llama.cpp's converters permute Hugging Face weights on the way in), so tensors are taken as stored.
/// </summary>
public static class GgufModelReader
{
    public static Checkpoint Read(string path) => Read(GgufFile.Open(path));

    public static Checkpoint Read(GgufFile file)
    {
        var m = file.Metadata;
        string arch = m.GetString("general.architecture");
        if (arch != "llama")
            throw new PareFormatException(file.Path, $"unsupported architecture '{arch}' (Pare reads 'llama')");
        if (!file.HasTensor(GgufTensorNames.Embedding))
            throw new PareFormatException(file.Path, $"no tensors: {GgufTensorNames.Embedding} is missing (a vocabulary-only file?)");

        int heads = m.GetInt32("llama.attention.head_count");
        // A tensor of a type Pare cannot size escapes the placement checks; its shape is still only a claim.
        long rows = file.TensorInfo(GgufTensorNames.Embedding).Shape[0];
        if (rows > int.MaxValue)
            throw new PareFormatException(file.Path, $"{GgufTensorNames.Embedding} claims {rows} rows, more than any vocabulary");
        var config = new ModelConfig
        {
            Architecture = arch,
            Dim = m.GetInt32("llama.embedding_length"),
            HiddenDim = m.GetInt32("llama.feed_forward_length"),
            Layers = m.GetInt32("llama.block_count"),
            Heads = heads,
            KvHeads = m.FindInt32("llama.attention.head_count_kv") ?? heads,
            MaxSeqLen = m.GetInt32("llama.context_length"),
            NormEps = (float)(m.FindFloat("llama.attention.layer_norm_rms_epsilon") ?? 1e-5),
            RopeTheta = (float)(m.FindFloat("llama.rope.freq_base") ?? 10000),
            VocabSize = (int)rows,
            TiedEmbeddings = !file.HasTensor(GgufTensorNames.Classifier),
        };
        config.Validate(file.Path);
        CheckUnsupportedFeatures(file, config);

        var tensors = new Dictionary<string, TensorData>();
        foreach (var info in file.Tensors)
        {
            var canonical = GgufTensorNames.ToCanonical(info.Name)
                ?? throw new PareFormatException(file.Path, $"tensor '{info.Name}' is not part of a LLaMA model Pare knows");
            tensors[canonical] = file.ReadTensor(info.Name, canonical);
        }

        var vocabulary = GgufVocabulary.Read(file);
        if (vocabulary != null && vocabulary.Tokens.Length != config.VocabSize)
            throw new PareFormatException(file.Path, $"the embedded vocabulary has {vocabulary.Tokens.Length} tokens, the embedding has {config.VocabSize} rows");
        var checkpoint = new Checkpoint(config, tensors, file.Path, "gguf", vocabulary);
        checkpoint.Validate(scanValues: false);
        return checkpoint;
    }

    /// <summary>Refuses settings that change the computation in ways the engine does not implement.</summary>
    private static void CheckUnsupportedFeatures(GgufFile file, ModelConfig config)
    {
        var m = file.Metadata;
        if (m.FindInt64("llama.vocab_size") is { } vocab && vocab != config.VocabSize)
            throw new PareFormatException(file.Path, $"llama.vocab_size = {vocab}, but {GgufTensorNames.Embedding} has {config.VocabSize} rows");
        if (m.FindInt64("llama.rope.dimension_count") is { } ropeDims && ropeDims != config.HeadDim)
            throw new PareFormatException(file.Path, $"llama.rope.dimension_count = {ropeDims} (partial rotary embeddings) is not supported; the head size is {config.HeadDim}");
        if (m.FindString("llama.rope.scaling.type") is { } scaling && scaling != "none")
            throw new PareFormatException(file.Path, $"RoPE scaling '{scaling}' is not supported");
        if (m.FindInt64("llama.expert_count") is > 0)
            throw new PareFormatException(file.Path, "mixture-of-experts LLaMA models are not supported");
    }
}
