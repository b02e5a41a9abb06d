using System.Buffers.Binary;
using Pare.Core.Tensors;

namespace Pare.Core.Formats;

/// <summary>
/// karpathy/llama2.c checkpoints. Legacy v0: seven int32 (dim, hidden_dim, n_layers, n_heads, n_kv_heads,
/// vocab_size — negative when the classifier is separate —, seq_len) then f32 tensors. Versioned exports start
/// with the magic "ak42" (0x616b3432).
/// </summary>
public static class Llama2cReader
{
    public const uint Magic = 0x616b3432;

    public static bool LooksVersioned(ReadOnlySpan<byte> head) => head.Length >= 4 && BinaryPrimitives.ReadUInt32LittleEndian(head) == Magic;

    public static Checkpoint Read(string path)
    {
        var file = MappedFile.Open(path);
        if (file.Length < 28)
            throw new PareFormatException(path, $"truncated llama2.c checkpoint: {file.Length} bytes, the header alone needs 28");
        var head = file.Slice(0, 28, "header");
        if (LooksVersioned(head.Span))
            return Llama2cVersionedReader.Read(file);

        int Int(int i) => BinaryPrimitives.ReadInt32LittleEndian(head.Span[(4 * i)..]);
        int vocab = Int(5);
        // The sign only says whether the classifier is separate; int.MinValue has no magnitude an int can hold.
        if (vocab == int.MinValue)
            throw new PareFormatException(path, $"implausible vocab_size {vocab} in the llama2.c header");
        var config = new ModelConfig
        {
            Dim = Int(0),
            HiddenDim = Int(1),
            Layers = Int(2),
            Heads = Int(3),
            KvHeads = Int(4),
            VocabSize = Math.Abs(vocab),
            MaxSeqLen = Int(6),
            TiedEmbeddings = vocab > 0,
        };
        config.Validate(path);

        var tensors = new Dictionary<string, TensorData>();
        long offset = 28;
        int L = config.Layers, D = config.Dim, H = config.HiddenDim, KV = config.KvDim, V = config.VocabSize;

        TensorData Take(string name, params long[] shape)
        {
            long n = 1;
            foreach (var s in shape) n *= s;
            var t = new TensorData(name, shape, DType.F32, file.Slice(offset, n * 4, $"tensor {name}"));
            offset += n * 4;
            return t;
        }

        void Stacked(Func<int, string> name, params long[] shape)
        {
            for (int l = 0; l < L; l++)
            {
                var t = Take(name(l), shape);
                tensors[t.Name] = t;
            }
        }

        long needed = 4L * ((long)V * D + L * (2L * D + 2L * D * D + 2L * KV * D + 3L * D * H) + D + (long)config.MaxSeqLen * config.HeadDim + (config.TiedEmbeddings ? 0 : (long)V * D));
        // llama2.c's exporters write exactly this much, so any other length means the header and the data disagree
        // (an edited dimension reads every later tensor from the wrong offset and "works", producing garbage).
        if (file.Length - 28 != needed)
            throw new PareFormatException(path, file.Length - 28 < needed
                ? $"truncated llama2.c checkpoint: the header describes {needed + 28} bytes, the file has {file.Length}"
                : $"llama2.c checkpoint size mismatch: the header (dim {D}, hidden {H}, {L} layers, vocab {V}, seq_len {config.MaxSeqLen}) describes {needed + 28} bytes, the file has {file.Length}");

        var emb = Take(LlamaTensorNames.Embedding, V, D);
        tensors[emb.Name] = emb;
        Stacked(LlamaTensorNames.AttentionNorm, D);
        Stacked(LlamaTensorNames.Query, D, D);
        Stacked(LlamaTensorNames.Key, KV, D);
        Stacked(LlamaTensorNames.Value, KV, D);
        Stacked(LlamaTensorNames.Output, D, D);
        Stacked(LlamaTensorNames.FfnNorm, D);
        Stacked(LlamaTensorNames.Gate, H, D);
        Stacked(LlamaTensorNames.Down, D, H);
        Stacked(LlamaTensorNames.Up, H, D);
        var norm = Take(LlamaTensorNames.FinalNorm, D);
        tensors[norm.Name] = norm;
        offset += 4L * config.MaxSeqLen * config.HeadDim; // legacy RoPE tables (freq_cis_real, freq_cis_imag): recomputed
        if (!config.TiedEmbeddings)
        {
            var cls = Take(LlamaTensorNames.Classifier, V, D);
            tensors[cls.Name] = cls;
        }
        return new Checkpoint(config, tensors, path, "llama2c");
    }
}
