using System.Runtime.InteropServices;
using System.Text.Json.Nodes;
using Pare.Core.Formats.Safetensors;
using Pare.Core.Tensors;

namespace Pare.Core.Formats.CompressedTensors;

/// <summary>
/// Writes a quantised (and possibly pruned) checkpoint in the compressed-tensors layout that llm-compressor writes
/// and vLLM loads: a Hugging Face folder whose config.json carries a <c>quantization_config</c> with
/// <c>quant_method: compressed-tensors</c> and format <c>pack-quantized</c>, one config group targeting
/// <c>Linear</c> with symmetric int weights (strategy <c>group</c> with the group size, or <c>channel</c> for one
/// scale per row; no zero point, no activation quantisation: vLLM's W4A16 / W8A16 schemes), and, for a pruned model,
/// a <c>sparsity_config</c> of format <c>dense</c> naming the sparsity structure (the zeros are stored in place
/// inside the packed codes). Each quantised linear <c>P.weight</c> becomes <c>P.weight_packed</c> (I32 [rows,
/// ⌈cols/(32/b)⌉]: codes offset by 2^(b−1) to unsigned, column k·(32/b) + i in bits b·i of word k, zero padded),
/// <c>P.weight_scale</c> (F16 [rows, groups]: Pare's scales are f16 values) and <c>P.weight_shape</c> (I64 [2]).
/// q_proj/k_proj rows are in Hugging Face's rotate-half order, as <see cref="HfWriter"/> writes them. Linears whose
/// row is not a whole number of groups, or that were not quantised, are written dense and listed in <c>ignore</c>.
/// </summary>
public static class CompressedTensorsWriter
{
    public const string QuantMethod = "compressed-tensors";
    public const string PackQuantized = "pack-quantized";

    /// <param name="sparsityStructure">"2:4", "unstructured" (or a ratio, written as unstructured), null for a dense model.</param>
    public static void Write(Checkpoint checkpoint, string directory, IReadOnlyDictionary<string, GroupQuantizedMatrix> quantized, string? sparsityStructure)
    {
        checkpoint.Validate(scanValues: false);
        var c = checkpoint.Config;
        if (quantized.Count == 0)
        {
            if (sparsityStructure == null) throw new ArgumentException("compressed-tensors needs quantised or pruned linears; write a dense model with --format safetensors");
            WriteBitmask(checkpoint, directory, sparsityStructure);
            return;
        }
        var first = quantized.Values.First();
        if (quantized.Values.Any(q => q.Bits != first.Bits))
            throw new ArgumentException("compressed-tensors: all quantised linears must share one bit width (one config group)");
        int groupSize = quantized.Values.Where(q => q.GroupSize < q.Columns).Select(q => q.GroupSize).DefaultIfEmpty(0).Max();
        bool channel = groupSize == 0;

        var entries = new List<SafetensorsEntry>();
        var ignore = new JsonArray();
        foreach (var (name, _) in LlamaTensorNames.Expected(c))
        {
            var t = checkpoint[name];
            int heads = IsQuery(name, c) ? c.Heads : IsKey(name, c) ? c.KvHeads : 0;
            if (quantized.TryGetValue(name, out var q) && (channel ? q.Groups == 1 : q.GroupSize == groupSize && q.Columns % groupSize == 0))
            {
                string prefix = name[..^".weight".Length];
                var packed = Pack(q);
                var scales = MemoryMarshal.AsBytes(q.Scales.AsSpan()).ToArray();
                if (heads > 0)
                {
                    packed = PermuteRows(packed, q.Rows, heads);
                    scales = PermuteRows(scales, q.Rows, heads);
                }
                entries.Add(new SafetensorsEntry(prefix + ".weight_packed", "I32", [q.Rows, PackedColumns(q.Columns, q.Bits)], packed));
                entries.Add(new SafetensorsEntry(prefix + ".weight_scale", "F16", [q.Rows, q.Groups], scales));
                entries.Add(new SafetensorsEntry(prefix + ".weight_shape", "I64", [2], MemoryMarshal.AsBytes(new long[] { q.Rows, q.Columns }.AsSpan()).ToArray()));
                continue;
            }
            if (t.Type is not (DType.F32 or DType.F16 or DType.BF16))
                t = TensorData.FromFloat32(name, t.ToFloat32(), t.Shape);
            if (heads > 0) t = HfRopePermutation.ToHalfSplit(t, heads);
            if (name.EndsWith(".weight", StringComparison.Ordinal) && name.Contains(".layers.", StringComparison.Ordinal) && t.Shape.Length == 2)
                ignore.Add(name[..^".weight".Length]);
            entries.Add(new SafetensorsEntry(name, SafetensorsFile.DTypeName(t.Type), t.Shape, t.Data));
        }
        if (!c.TiedEmbeddings) ignore.Add("lm_head");

        var config = HfWriter.Config(c, DType.F32, checkpoint.Vocabulary);
        config["quantization_config"] = QuantizationConfig(first.Bits, groupSize, ignore, sparsityStructure, quantized);
        Directory.CreateDirectory(directory);
        SafetensorsWriter.WriteRaw(Path.Combine(directory, HfModelReader.WeightsFile), entries, new Dictionary<string, string> { ["format"] = "pt" });
        var json = config.ToJsonString(new() { WriteIndented = true });
        AtomicFile.Write(Path.Combine(directory, HfModelReader.ConfigFile), s => s.Write(System.Text.Encoding.UTF8.GetBytes(json + "\n")));
    }

    private static JsonObject QuantizationConfig(int bits, int groupSize, JsonArray ignore, string? sparsity, IReadOnlyDictionary<string, GroupQuantizedMatrix> quantized)
    {
        var weights = new JsonObject
        {
            ["num_bits"] = bits,
            ["type"] = "int",
            ["symmetric"] = true,
            ["strategy"] = groupSize == 0 ? "channel" : "group",
            ["group_size"] = groupSize == 0 ? null : groupSize,
            ["block_structure"] = null,
            ["dynamic"] = false,
            // Pare's groups are always runs of consecutive columns (its act-order fits them in column order), so no g_idx.
            ["actorder"] = null,
            ["observer"] = "minmax",
            ["observer_kwargs"] = new JsonObject(),
        };
        var q = new JsonObject
        {
            ["quant_method"] = QuantMethod,
            ["format"] = PackQuantized,
            ["quantization_status"] = "compressed",
            ["config_groups"] = new JsonObject
            {
                ["group_0"] = new JsonObject
                {
                    ["targets"] = new JsonArray("Linear"),
                    ["weights"] = weights,
                    ["input_activations"] = null,
                    ["output_activations"] = null,
                },
            },
            ["ignore"] = ignore,
            ["kv_cache_scheme"] = null,
            ["global_compression_ratio"] = null,
        };
        if (sparsity != null)
        {
            long zeros = 0, total = 0;
            foreach (var m in quantized.Values)
            {
                zeros += m.Codes.LongCount(v => v == 0);
                total += m.Codes.LongLength;
            }
            q["sparsity_config"] = new JsonObject
            {
                ["format"] = "dense",
                ["global_sparsity"] = total > 0 ? Math.Round((double)zeros / total, 6) : 0,
                ["sparsity_structure"] = sparsity.Contains(':') ? sparsity : "unstructured",
                ["targets"] = new JsonArray("Linear"),
                ["ignore"] = ignore.DeepClone(),
                ["registry_requires_subclass"] = false,
            };
        }
        return q;
    }

    /// <summary>
    /// A pruned, unquantised model with compressed-tensors' sparse-bitmask compressor: each decoder linear with zeros
    /// becomes <c>P.shape</c> (I64 [2]), <c>P.compressed</c> (its non-zero values in row-major order, 1-D, the stored
    /// float type), <c>P.bitmask</c> (U8 [rows, ⌈cols/8⌉], bit j % 8 of byte j / 8 set where column j is kept: numpy's
    /// packbits with little bit order) and <c>P.row_offsets</c> (I64 [rows], index of each row's first value).
    /// </summary>
    private static void WriteBitmask(Checkpoint checkpoint, string directory, string sparsityStructure)
    {
        var c = checkpoint.Config;
        var entries = new List<SafetensorsEntry>();
        var ignore = new JsonArray();
        long zeros = 0, total = 0;
        foreach (var (name, _) in LlamaTensorNames.Expected(c))
        {
            var t = checkpoint[name];
            if (t.Type is not (DType.F32 or DType.F16 or DType.BF16))
                t = TensorData.FromFloat32(name, t.ToFloat32(), t.Shape);
            int heads = IsQuery(name, c) ? c.Heads : IsKey(name, c) ? c.KvHeads : 0;
            if (heads > 0) t = HfRopePermutation.ToHalfSplit(t, heads);
            bool linear = name.Contains(".layers.", StringComparison.Ordinal) && t.Shape.Length == 2;
            var values = t.ToFloat32();
            if (!linear || !values.Any(v => v == 0))
            {
                if (linear) ignore.Add(name[..^".weight".Length]);
                entries.Add(new SafetensorsEntry(name, SafetensorsFile.DTypeName(t.Type), t.Shape, t.Data));
                continue;
            }
            int rows = t.Rows, cols = t.Columns, bytesPerRow = (cols + 7) / 8, size = t.Type == DType.F32 ? 4 : 2;
            var bitmask = new byte[(long)rows * bytesPerRow];
            var offsets = new long[rows];
            var kept = new MemoryStream();
            var raw = t.Data.Span;
            long count = 0;
            for (int r = 0; r < rows; r++)
            {
                offsets[r] = count;
                for (int col = 0; col < cols; col++)
                {
                    long i = (long)r * cols + col;
                    if (values[i] == 0) { zeros++; continue; }
                    bitmask[(long)r * bytesPerRow + col / 8] |= (byte)(1 << (col % 8));
                    kept.Write(raw.Slice((int)(i * size), size));
                    count++;
                }
            }
            total += values.LongLength;
            string prefix = name[..^".weight".Length];
            entries.Add(new SafetensorsEntry(prefix + ".shape", "I64", [2], MemoryMarshal.AsBytes(new long[] { rows, cols }.AsSpan()).ToArray()));
            entries.Add(new SafetensorsEntry(prefix + ".compressed", SafetensorsFile.DTypeName(t.Type), [count], kept.ToArray()));
            entries.Add(new SafetensorsEntry(prefix + ".bitmask", "U8", [rows, bytesPerRow], bitmask));
            entries.Add(new SafetensorsEntry(prefix + ".row_offsets", "I64", [rows], MemoryMarshal.AsBytes(offsets.AsSpan()).ToArray()));
        }
        if (!c.TiedEmbeddings) ignore.Add("lm_head");
        var config = HfWriter.Config(c, DType.F32, checkpoint.Vocabulary);
        config["quantization_config"] = new JsonObject
        {
            ["quant_method"] = QuantMethod,
            ["format"] = "dense",
            ["quantization_status"] = "compressed",
            ["config_groups"] = new JsonObject(),
            ["ignore"] = new JsonArray(),
            ["sparsity_config"] = new JsonObject
            {
                ["format"] = SparseBitmask,
                ["global_sparsity"] = total > 0 ? Math.Round((double)zeros / total, 6) : 0,
                ["sparsity_structure"] = sparsityStructure.Contains(':') ? sparsityStructure : "unstructured",
                ["targets"] = new JsonArray("Linear"),
                ["ignore"] = ignore,
                ["registry_requires_subclass"] = false,
            },
        };
        Directory.CreateDirectory(directory);
        SafetensorsWriter.WriteRaw(Path.Combine(directory, HfModelReader.WeightsFile), entries, new Dictionary<string, string> { ["format"] = "pt" });
        var json = config.ToJsonString(new() { WriteIndented = true });
        AtomicFile.Write(Path.Combine(directory, HfModelReader.ConfigFile), s => s.Write(System.Text.Encoding.UTF8.GetBytes(json + "\n")));
    }

    public const string SparseBitmask = "sparse-bitmask";

    public static int PackedColumns(int columns, int bits) => (columns + 32 / bits - 1) / (32 / bits);

    /// <summary>Codes packed into int32 words as compressed-tensors' pack_to_int32 lays them out.</summary>
    public static byte[] Pack(GroupQuantizedMatrix q)
    {
        int factor = 32 / q.Bits, words = PackedColumns(q.Columns, q.Bits), offset = 1 << (q.Bits - 1);
        uint mask = (1u << q.Bits) - 1;
        var packed = new uint[(long)q.Rows * words];
        for (int r = 0; r < q.Rows; r++)
            for (int col = 0; col < q.Columns; col++)
                packed[(long)r * words + col / factor] |= ((uint)(q.Codes[(long)r * q.Columns + col] + offset) & mask) << (q.Bits * (col % factor));
        return MemoryMarshal.AsBytes(packed.AsSpan()).ToArray();
    }

    /// <summary>Interleaved (Pare/GGUF) → Hugging Face half-split row order of a raw row-major buffer.</summary>
    private static byte[] PermuteRows(byte[] data, int rows, int heads)
    {
        // HfRopePermutation moves whole rows of bytes; an f32 stand-in of the same byte size carries raw rows.
        if (data.Length % (rows * 4) == 0)
            return HfRopePermutation.ToHalfSplit(new TensorData("rows", [rows, data.Length / rows / 4 * 1L], DType.F32, data), heads).Data.ToArray();
        var halves = new TensorData("rows", [rows, data.Length / rows / 2 * 1L], DType.F16, data);
        return HfRopePermutation.ToHalfSplit(halves, heads).Data.ToArray();
    }

    internal static bool IsQuery(string name, ModelConfig c) => Enumerable.Range(0, c.Layers).Any(l => LlamaTensorNames.Query(l) == name);
    internal static bool IsKey(string name, ModelConfig c) => Enumerable.Range(0, c.Layers).Any(l => LlamaTensorNames.Key(l) == name);
}
