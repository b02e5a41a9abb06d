using System.Text;
using Pare.Core.Tensors;
using Pare.Core.Tokenizers;

namespace Pare.Core.Formats.Gguf;

/// <summary>
/// Writes a LLaMA checkpoint as GGUF v3 with the keys and tensor names llama.cpp's own converters write, tensors in
/// their stored element type, data aligned to 32 bytes. A tied model gets no output.weight (llama.cpp then uses
/// token_embd).
/// </summary>
public static class GgufWriter
{
    /// <summary>llama_ftype values for general.file_type.</summary>
    private static int FileType(DType type) => type switch
    {
        DType.F32 => 0,
        DType.F16 => 1,
        DType.Q4_0 => 2,
        DType.Q8_0 => 7,
        DType.BF16 => 32,
        _ => throw new ArgumentOutOfRangeException(nameof(type)),
    };

    /// <summary>Writes <paramref name="checkpoint"/>; <paramref name="vocabulary"/> is embedded when the checkpoint carries none.</summary>
    public static void Write(Checkpoint checkpoint, string path, VocabularyData? vocabulary = null, string? name = null)
    {
        checkpoint.Validate(scanValues: false);
        var c = checkpoint.Config;
        var tensors = LlamaTensorNames.Expected(c)
            .Select(e => (Gguf: GgufTensorNames.FromCanonical(e.Name, c.Layers), Data: checkpoint[e.Name]))
            .ToList();
        foreach (var extra in checkpoint.Tensors.Keys.Except(tensors.Select(t => t.Data.Name)))
            throw new ArgumentException($"{checkpoint.Source}: tensor '{extra}' is not part of a LLaMA model and has no GGUF name");

        var metadata = Metadata(checkpoint, path, vocabulary ?? checkpoint.Vocabulary, name);
        AtomicFile.Write(path, stream => WriteFile(stream, metadata, tensors));
    }

    /// <summary>The metadata llama.cpp writes for a LLaMA model (plus rope.freq_base and vocab_size, which it reads).</summary>
    public static GgufMetadata Metadata(Checkpoint checkpoint, string path, VocabularyData? vocabulary, string? name = null)
    {
        var c = checkpoint.Config;
        var m = new GgufMetadata(path);
        m.Add("general.architecture", GgufValue.Of("llama"));
        m.Add("general.name", GgufValue.Of(name ?? Path.GetFileNameWithoutExtension(checkpoint.Source)));
        // The file type names the encoding of the bulk of the weights: that of the layers' linear matrices.
        var bulk = checkpoint[LlamaTensorNames.Query(0)].Type;
        m.Add("general.file_type", GgufValue.Of((uint)FileType(bulk)));
        m.Add("general.quantization_version", GgufValue.Of(2u)); // GGML_QNT_VERSION; llama.cpp's tools write it for every file type
        m.Add("llama.vocab_size", GgufValue.Of((uint)c.VocabSize));
        m.Add("llama.context_length", GgufValue.Of((uint)c.MaxSeqLen));
        m.Add("llama.embedding_length", GgufValue.Of((uint)c.Dim));
        m.Add("llama.feed_forward_length", GgufValue.Of((uint)c.HiddenDim));
        m.Add("llama.attention.head_count", GgufValue.Of((uint)c.Heads));
        m.Add("llama.attention.head_count_kv", GgufValue.Of((uint)c.KvHeads));
        m.Add("llama.block_count", GgufValue.Of((uint)c.Layers));
        m.Add("llama.rope.dimension_count", GgufValue.Of((uint)c.HeadDim));
        m.Add("llama.rope.freq_base", GgufValue.Of(c.RopeTheta));
        m.Add("llama.attention.layer_norm_rms_epsilon", GgufValue.Of(c.NormEps));
        if (vocabulary != null)
            AddVocabulary(m, vocabulary, c.VocabSize, checkpoint.Source);
        return m;
    }

    private static void AddVocabulary(GgufMetadata m, VocabularyData v, int vocabSize, string source)
    {
        if (v.Tokens.Length != vocabSize)
            throw new ArgumentException($"{source}: the vocabulary has {v.Tokens.Length} tokens, the model {vocabSize}");
        m.Add(GgufVocabulary.ModelKey, GgufValue.Of(v.Kind == VocabularyKind.SentencePieceBpe ? "llama" : "gpt2"));
        if (v.PreTokenizer != null) m.Add(GgufVocabulary.PreKey, GgufValue.Of(v.PreTokenizer));
        m.Add(GgufVocabulary.TokensKey, GgufValue.Of(v.Tokens));
        if (v.Scores != null) m.Add(GgufVocabulary.ScoresKey, GgufValue.Of(v.Scores));
        if (v.TokenTypes != null) m.Add(GgufVocabulary.TokenTypesKey, GgufValue.Of(v.TokenTypes));
        if (v.Merges != null) m.Add(GgufVocabulary.MergesKey, GgufValue.Of(v.Merges));
        m.Add(GgufVocabulary.UnknownKey, TokenId(v.UnknownId));
        m.Add(GgufVocabulary.BosKey, TokenId(v.BosId));
        m.Add(GgufVocabulary.EosKey, TokenId(v.EosId));
        // llama.cpp writes these two (the first with its historical spelling) as "none" when the vocabulary has no such token.
        m.Add("tokenizer.ggml.seperator_token_id", GgufValue.Of(uint.MaxValue));
        m.Add("tokenizer.ggml.padding_token_id", GgufValue.Of(uint.MaxValue));
        m.Add(GgufVocabulary.AddBosKey, GgufValue.Of(v.AddBos));
        if (v.Kind == VocabularyKind.SentencePieceBpe)
            m.Add(GgufVocabulary.AddSpacePrefixKey, GgufValue.Of(v.AddSpacePrefix));
    }

    private static GgufValue TokenId(int id) => GgufValue.Of(id < 0 ? uint.MaxValue : (uint)id);

    private static void WriteFile(Stream stream, GgufMetadata metadata, List<(string Gguf, TensorData Data)> tensors)
    {
        var w = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true);
        w.Write(GgufFile.Magic);
        w.Write(3u);
        w.Write((ulong)tensors.Count);
        w.Write((ulong)metadata.Count);
        foreach (var (key, value) in metadata)
        {
            WriteString(w, key);
            w.Write((uint)value.Type);
            WriteValue(w, value);
        }
        long offset = 0;
        foreach (var (name, t) in tensors)
        {
            WriteString(w, name);
            w.Write((uint)t.Shape.Length);
            for (int d = t.Shape.Length - 1; d >= 0; d--) w.Write((ulong)t.Shape[d]); // ne[0] is the fastest-varying (last) dimension
            w.Write((uint)GgmlTypeInfo.FromDType(t.Type));
            w.Write((ulong)offset);
            offset = GgufFile.AlignUp(offset + t.Data.Length, GgufFile.DefaultAlignment);
        }
        w.Flush();
        Pad(stream);
        foreach (var (_, t) in tensors)
        {
            stream.Write(t.Data.Span);
            Pad(stream);
        }
    }

    private static void Pad(Stream stream)
    {
        long padding = GgufFile.AlignUp(stream.Position, GgufFile.DefaultAlignment) - stream.Position;
        for (long i = 0; i < padding; i++) stream.WriteByte(0);
    }

    private static void WriteString(BinaryWriter w, string s)
    {
        var bytes = Encoding.UTF8.GetBytes(s);
        w.Write((ulong)bytes.Length);
        w.Write(bytes);
    }

    private static void WriteValue(BinaryWriter w, GgufValue v)
    {
        switch (v.Type)
        {
            case GgufValueType.Array:
                var array = (Array)v.Value;
                w.Write((uint)v.ElementType);
                w.Write((ulong)array.Length);
                foreach (var element in array) WriteScalar(w, v.ElementType, element!);
                break;
            default:
                WriteScalar(w, v.Type, v.Value);
                break;
        }
    }

    private static void WriteScalar(BinaryWriter w, GgufValueType type, object value)
    {
        switch (type)
        {
            case GgufValueType.UInt8: w.Write((byte)value); break;
            case GgufValueType.Int8: w.Write((sbyte)value); break;
            case GgufValueType.UInt16: w.Write((ushort)value); break;
            case GgufValueType.Int16: w.Write((short)value); break;
            case GgufValueType.UInt32: w.Write((uint)value); break;
            case GgufValueType.Int32: w.Write((int)value); break;
            case GgufValueType.Float32: w.Write((float)value); break;
            case GgufValueType.Bool: w.Write((bool)value ? (byte)1 : (byte)0); break;
            case GgufValueType.String: WriteString(w, (string)value); break;
            case GgufValueType.UInt64: w.Write((ulong)value); break;
            case GgufValueType.Int64: w.Write((long)value); break;
            case GgufValueType.Float64: w.Write((double)value); break;
            default: throw new ArgumentOutOfRangeException(nameof(type), type, "not a scalar GGUF type");
        }
    }
}
