using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Pare.Core.Tensors;

namespace Pare.Core.Formats;

/// <summary>
/// llama2.c versioned exports (export.py): a 256-byte header — magic "ak42", int32 version, seven int32
/// (dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len), uint8 shared_classifier and, in v2, an
/// (unaligned) int32 group size — then the weights.
/// v1 (f32): norms (rms_att of every layer, rms_ffn of every layer, rms_final), embedding, wq, wk, wv, wo, w1, w2,
/// w3 (each for every layer), [wcls].
/// v2 (int8): the same norms in f32, then for each of embedding, wq…w3 (every layer), [wcls]: its int8 values followed
/// by its f32 scales, one per group of group_size consecutive values (flattened order). That is the layout runq.c's
/// init_quantized_tensors reads and stories260K-q8.bin has (an older export.py wrote all scales after all values).
/// v2 weights are dequantised to f32 (value = int8 · scale, as llama2.c's runq.c does): its groups (size 8 for
/// stories260K, f32 scales) are not GGML's q8_0 blocks, so Pare has no storage type that holds them as they are.
/// </summary>
internal static class Llama2cVersionedReader
{
    public const int HeaderBytes = 256;

    public static Checkpoint Read(MappedFile file)
    {
        string path = file.Path;
        if (file.Length < HeaderBytes)
            throw new PareFormatException(path, $"truncated llama2.c ak42 checkpoint: {file.Length} bytes, the header alone needs {HeaderBytes}");
        var h = file.Slice(0, HeaderBytes, "header");
        int Int(int offset) => BinaryPrimitives.ReadInt32LittleEndian(h.Span[offset..]);
        int version = Int(4);
        if (version is not (1 or 2))
            throw new PareFormatException(path, $"unsupported llama2.c ak42 version {version} (Pare reads 1 and 2)");
        bool shared = h.Span[36] != 0;
        var config = new ModelConfig
        {
            Dim = Int(8),
            HiddenDim = Int(12),
            Layers = Int(16),
            Heads = Int(20),
            KvHeads = Int(24),
            VocabSize = Int(28),
            MaxSeqLen = Int(32),
            TiedEmbeddings = shared,
        };
        config.Validate(path);
        int groupSize = version == 2 ? Int(37) : 0;
        if (version == 2 && (groupSize <= 0 || groupSize > 1 << 20))
            throw new PareFormatException(path, $"implausible quantization group size {groupSize}");

        var shapes = QuantizableShapes(config).ToList();
        int L = config.Layers, D = config.Dim;
        long normFloats = 2L * L * D + D;
        long weightElements = shapes.Sum(s => s.Shape[0] * s.Shape[1]);
        if (version == 2)
            foreach (var (name, shape) in shapes)
                if (shape[0] * shape[1] % groupSize != 0)
                    throw new PareFormatException(path, $"tensor '{name}' has {shape[0] * shape[1]} values, not a multiple of the group size {groupSize}");
        long needed = HeaderBytes + 4 * normFloats + (version == 1 ? 4 * weightElements : weightElements + 4 * (weightElements / groupSize));
        // export.py pads only the header (to 256 bytes); the weights end the file.
        if (file.Length != needed)
            throw new PareFormatException(path, file.Length < needed
                ? $"truncated llama2.c ak42 v{version} checkpoint: the header describes {needed} bytes, the file has {file.Length}"
                : $"llama2.c ak42 v{version} checkpoint size mismatch: the header (dim {D}, hidden {config.HiddenDim}, {L} layers, vocab {config.VocabSize}) describes {needed} bytes, the file has {file.Length}");

        var tensors = new Dictionary<string, TensorData>();
        long offset = HeaderBytes;
        void Norm(string name)
        {
            tensors[name] = new TensorData(name, [D], DType.F32, file.Slice(offset, 4L * D, $"tensor {name}"));
            offset += 4L * D;
        }
        for (int l = 0; l < L; l++) Norm(LlamaTensorNames.AttentionNorm(l));
        for (int l = 0; l < L; l++) Norm(LlamaTensorNames.FfnNorm(l));
        Norm(LlamaTensorNames.FinalNorm);

        if (version == 1)
        {
            foreach (var (name, shape) in shapes)
            {
                long bytes = 4 * shape[0] * shape[1];
                tensors[name] = new TensorData(name, shape, DType.F32, file.Slice(offset, bytes, $"tensor {name}"));
                offset += bytes;
            }
        }
        else
        {
            foreach (var (name, shape) in shapes)
            {
                long n = shape[0] * shape[1];
                var q = MemoryMarshal.Cast<byte, sbyte>(file.Slice(offset, n, $"int8 values of {name}").Span);
                offset += n;
                var s = MemoryMarshal.Cast<byte, float>(file.Slice(offset, 4 * (n / groupSize), $"scales of {name}").Span);
                offset += 4 * (n / groupSize);
                var values = new float[n];
                for (int i = 0; i < values.Length; i++) values[i] = q[i] * s[i / groupSize];
                tensors[name] = TensorData.FromFloat32(name, values, shape);
            }
        }
        return new Checkpoint(config, tensors, path, "llama2c");
    }

    /// <summary>The matrices in export order: embedding, then each kind for every layer, then the classifier if separate.</summary>
    private static IEnumerable<(string Name, long[] Shape)> QuantizableShapes(ModelConfig c)
    {
        long D = c.Dim, H = c.HiddenDim, KV = c.KvDim;
        yield return (LlamaTensorNames.Embedding, [c.VocabSize, D]);
        foreach (var (name, shape) in new (Func<int, string>, long[])[]
        {
            (LlamaTensorNames.Query, [D, D]),
            (LlamaTensorNames.Key, [KV, D]),
            (LlamaTensorNames.Value, [KV, D]),
            (LlamaTensorNames.Output, [D, D]),
            (LlamaTensorNames.Gate, [H, D]),
            (LlamaTensorNames.Down, [D, H]),
            (LlamaTensorNames.Up, [H, D]),
        })
            for (int l = 0; l < c.Layers; l++)
                yield return (name(l), shape);
        if (!c.TiedEmbeddings)
            yield return (LlamaTensorNames.Classifier, [c.VocabSize, D]);
    }
}
