using System.Text.Json;
using Pare.Core.Formats.Safetensors;
using Pare.Core.Tensors;

namespace Pare.Core.Formats.CompressedTensors;

/// <summary>
/// Reads the compressed-tensors layout <see cref="CompressedTensorsWriter"/> writes (pack-quantized, symmetric int
/// weights, group or channel strategy, optional dense-format sparsity config): every packed linear is unpacked to
/// its codes and scales, which become q8_0/q4_0 blocks when the grid is GGML's (8/4 bits, groups of 32) and f32
/// values on the grid otherwise. Anything it does not support — another format, asymmetric or float weights,
/// activation quantisation, g_idx — is refused with the reason, as are packed tensors whose shapes disagree with
/// weight_shape or the group size.
/// </summary>
public static class CompressedTensorsReader
{
    /// <summary>True when <paramref name="directory"/>'s config.json declares compressed-tensors quantisation.</summary>
    public static bool IsCompressed(string directory)
    {
        var path = Path.Combine(directory, HfModelReader.ConfigFile);
        if (!File.Exists(path)) return false;
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
            return doc.RootElement.ValueKind == JsonValueKind.Object
                && doc.RootElement.TryGetProperty("quantization_config", out var q) && q.ValueKind == JsonValueKind.Object
                && q.TryGetProperty("quant_method", out var m) && m.ValueKind == JsonValueKind.String && m.GetString() == CompressedTensorsWriter.QuantMethod;
        }
        catch (JsonException)
        {
            return false; // the HF reader reports the malformed file
        }
    }

    public static Checkpoint Read(string directory) => Read(directory, out _);

    /// <summary>Reads the folder; <paramref name="quantized"/> gets each packed linear's codes and scales by tensor name.</summary>
    public static Checkpoint Read(string directory, out IReadOnlyDictionary<string, GroupQuantizedMatrix> quantized)
    {
        var configPath = Path.Combine(directory, HfModelReader.ConfigFile);
        var config = HfModelReader.ReadConfig(configPath);
        var scheme = ReadScheme(configPath);
        var weightsPath = Path.Combine(directory, HfModelReader.WeightsFile);
        if (!File.Exists(weightsPath)) throw new PareFormatException(directory, $"no {HfModelReader.WeightsFile} (sharded compressed-tensors folders are not read)");
        var file = SafetensorsFile.Open(weightsPath, integers: true);

        var tensors = new Dictionary<string, TensorData>(StringComparer.Ordinal);
        var codes = new Dictionary<string, GroupQuantizedMatrix>(StringComparer.Ordinal);
        foreach (var (name, shape) in LlamaTensorNames.Expected(config))
        {
            string prefix = name[..^".weight".Length];
            int heads = CompressedTensorsWriter.IsQuery(name, config) ? config.Heads : CompressedTensorsWriter.IsKey(name, config) ? config.KvHeads : 0;
            if (scheme.Bitmask && file.Integers.TryGetValue(prefix + ".bitmask", out var bitmask))
            {
                var t = Unmask(weightsPath, prefix, name, bitmask, file, shape);
                tensors[name] = heads > 0 ? HfRopePermutation.ToInterleaved(t, heads) : t;
                continue;
            }
            if (file.Integers.TryGetValue(prefix + ".weight_packed", out var packed))
            {
                var q = Unpack(weightsPath, prefix, packed, file, scheme, shape);
                var t = q.ToTensorData(name);
                // The file keeps Hugging Face's rotate-half row order for q/k; Pare's is interleaved.
                if (heads > 0)
                {
                    t = HfRopePermutation.ToInterleaved(t, heads);
                    q = t.Type is DType.Q8_0 or DType.Q4_0 ? GroupQuantizedMatrix.FromGgml(t) : Reorder(q, heads);
                }
                tensors[name] = t;
                codes[name] = q;
                continue;
            }
            if (!file.Tensors.TryGetValue(name, out var dense))
            {
                if (config.TiedEmbeddings && name == LlamaTensorNames.Classifier) continue;
                throw new PareFormatException(weightsPath, $"tensor '{name}' is missing (neither packed nor dense)");
            }
            tensors[name] = heads > 0 ? HfRopePermutation.ToInterleaved(dense, heads) : dense;
        }
        quantized = codes;
        var checkpoint = new Checkpoint(config, tensors, directory, "compressed-tensors");
        checkpoint.Validate(scanValues: false);
        return checkpoint;
    }

    /// <summary>What config.json's quantization_config asks for, checked against what Pare reads.</summary>
    /// <summary>Bits 0: not quantised (a sparse-bitmask model).</summary>
    public sealed record Scheme(int Bits, int GroupSize, string? SparsityStructure, bool Bitmask);

    public static Scheme ReadScheme(string configPath)
    {
        JsonDocument doc;
        try { doc = JsonDocument.Parse(File.ReadAllBytes(configPath)); }
        catch (JsonException e) { throw new PareFormatException(configPath, $"malformed JSON: {e.Message}", e); }
        using (doc)
        {
            string where = "quantization_config";
            if (!doc.RootElement.TryGetProperty("quantization_config", out var q) || q.ValueKind != JsonValueKind.Object)
                throw Bad(configPath, where, "is missing or not an object");
            if (Str(q, "quant_method") != CompressedTensorsWriter.QuantMethod)
                throw Bad(configPath, where + ".quant_method", $"is '{Str(q, "quant_method")}', not '{CompressedTensorsWriter.QuantMethod}'");
            if (Str(q, "format") == "dense")
            {
                // No quantisation: the sparsity compressor is all there is to read.
                if (!q.TryGetProperty("sparsity_config", out var sparse) || sparse.ValueKind != JsonValueKind.Object || Str(sparse, "format") != CompressedTensorsWriter.SparseBitmask)
                    throw Bad(configPath, where + ".sparsity_config.format", $"must be '{CompressedTensorsWriter.SparseBitmask}' when the quantisation format is 'dense'");
                if (q.TryGetProperty("config_groups", out var cg) && cg.ValueKind == JsonValueKind.Object && cg.EnumerateObject().Any())
                    throw Bad(configPath, where + ".config_groups", "is not empty although the format is 'dense' (no quantisation)");
                return new Scheme(0, 0, Str(sparse, "sparsity_structure"), Bitmask: true);
            }
            if (Str(q, "format") != CompressedTensorsWriter.PackQuantized)
                throw Bad(configPath, where + ".format", $"is '{Str(q, "format")}'; Pare reads '{CompressedTensorsWriter.PackQuantized}' and 'dense' with sparse-bitmask");
            if (!q.TryGetProperty("config_groups", out var groups) || groups.ValueKind != JsonValueKind.Object)
                throw Bad(configPath, where + ".config_groups", "is missing or not an object");
            var list = groups.EnumerateObject().ToList();
            if (list.Count != 1)
                throw Bad(configPath, where + ".config_groups", $"has {list.Count} groups; Pare reads exactly one");
            var g = list[0].Value;
            string gw = $"{where}.config_groups.{list[0].Name}";
            if (g.ValueKind != JsonValueKind.Object || !g.TryGetProperty("weights", out var w) || w.ValueKind != JsonValueKind.Object)
                throw Bad(configPath, gw + ".weights", "is missing or not an object");
            foreach (var act in new[] { "input_activations", "output_activations" })
                if (g.TryGetProperty(act, out var a) && a.ValueKind != JsonValueKind.Null)
                    throw Bad(configPath, $"{gw}.{act}", "is set; Pare reads weight-only quantisation");
            if (!w.TryGetProperty("num_bits", out var nb) || nb.ValueKind != JsonValueKind.Number || !nb.TryGetInt32(out int bits) || bits < 2 || bits > 8)
                throw Bad(configPath, gw + ".weights.num_bits", "is not an integer from 2 to 8");
            if (Str(w, "type") != "int") throw Bad(configPath, gw + ".weights.type", $"is '{Str(w, "type")}'; Pare reads int");
            if (!w.TryGetProperty("symmetric", out var sym) || sym.ValueKind != JsonValueKind.True)
                throw Bad(configPath, gw + ".weights.symmetric", "is not true; Pare reads symmetric weights (no zero point)");
            if (w.TryGetProperty("actorder", out var ao) && ao.ValueKind == JsonValueKind.String && ao.GetString() == "group")
                throw Bad(configPath, gw + ".weights.actorder", "is 'group' (g_idx); Pare reads groups of consecutive columns");
            int groupSize;
            switch (Str(w, "strategy"))
            {
                case "channel": groupSize = 0; break;
                case "group":
                    if (!w.TryGetProperty("group_size", out var gs) || gs.ValueKind != JsonValueKind.Number || !gs.TryGetInt32(out groupSize) || groupSize < 1)
                        throw Bad(configPath, gw + ".weights.group_size", "is not a positive integer for strategy 'group'");
                    break;
                default: throw Bad(configPath, gw + ".weights.strategy", $"is '{Str(w, "strategy")}'; Pare reads 'group' and 'channel'");
            }
            string? sparsity = null;
            if (q.TryGetProperty("sparsity_config", out var sc) && sc.ValueKind == JsonValueKind.Object)
            {
                if (Str(sc, "format") != "dense")
                    throw Bad(configPath, where + ".sparsity_config.format", $"is '{Str(sc, "format")}'; with pack-quantized Pare reads the 'dense' sparsity format");
                sparsity = Str(sc, "sparsity_structure");
            }
            return new Scheme(bits, groupSize, sparsity, Bitmask: false);
        }
    }

    private static GroupQuantizedMatrix Unpack(string path, string prefix, SafetensorsInteger packed, SafetensorsFile file, Scheme scheme, long[] expectedShape)
    {
        if (!file.Integers.TryGetValue(prefix + ".weight_shape", out var shapeTensor) || shapeTensor.ElementCount != 2)
            throw new PareFormatException(path, $"'{prefix}.weight_shape' is missing or not two integers");
        var shape = shapeTensor.ToInt64();
        if (shape[0] != expectedShape[0] || shape[1] != expectedShape[1])
            throw new PareFormatException(path, $"'{prefix}.weight_shape' is [{shape[0]}, {shape[1]}], the model configuration needs {TensorData.FormatShape(expectedShape)}");
        int rows = checked((int)shape[0]), cols = checked((int)shape[1]), bits = scheme.Bits;
        int words = CompressedTensorsWriter.PackedColumns(cols, bits);
        if (packed.DType != "I32" || packed.Shape.Length != 2 || packed.Shape[0] != rows || packed.Shape[1] != words)
            throw new PareFormatException(path, $"'{prefix}.weight_packed' is {packed.DType} {TensorData.FormatShape(packed.Shape)}; {bits}-bit codes of [{rows}, {cols}] pack into I32 [{rows}, {words}]");
        int groupSize = scheme.GroupSize == 0 ? cols : scheme.GroupSize;
        if (cols % groupSize != 0)
            throw new PareFormatException(path, $"group size {groupSize} does not divide the {cols} columns of '{prefix}' (compressed-tensors groups must tile the row)");
        int groups = cols / groupSize;
        if (!file.Tensors.TryGetValue(prefix + ".weight_scale", out var scale) || scale.Shape.Length != 2 || scale.Shape[0] != rows || scale.Shape[1] != groups)
            throw new PareFormatException(path, $"'{prefix}.weight_scale' is missing or not [{rows}, {groups}] (one scale per row and group of {groupSize})");
        if (file.Integers.ContainsKey(prefix + ".weight_zero_point") || file.Integers.ContainsKey(prefix + ".weight_g_idx"))
            throw new PareFormatException(path, $"'{prefix}' has a zero point or g_idx, which a symmetric group scheme does not");

        var scales = scale.ToFloat32().Select(GgmlQuants.FloatToHalfBits).ToArray();
        int factor = 32 / bits, offset = 1 << (bits - 1);
        uint mask = (1u << bits) - 1;
        var span = packed.Data.Span;
        var codes = new sbyte[(long)rows * cols];
        var (min, max) = SymmetricGrid.Range(bits);
        for (int r = 0; r < rows; r++)
        {
            for (int c = 0; c < cols; c++)
            {
                uint word = System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(span[(int)(4 * ((long)r * words + c / factor))..]);
                int code = (int)((word >> (bits * (c % factor))) & mask) - offset;
                if (code < min || code > max)
                    throw new PareFormatException(path, $"'{prefix}.weight_packed' holds the code {code} at [{r}, {c}], outside Pare's {bits}-bit grid {min}..{max}");
                codes[(long)r * cols + c] = (sbyte)code;
            }
        }
        return new GroupQuantizedMatrix(rows, cols, bits, groupSize, codes, scales);
    }

    private static TensorData Unmask(string path, string prefix, string name, SafetensorsInteger bitmask, SafetensorsFile file, long[] expectedShape)
    {
        if (!file.Integers.TryGetValue(prefix + ".shape", out var shapeTensor) || shapeTensor.ElementCount != 2)
            throw new PareFormatException(path, $"'{prefix}.shape' is missing or not two integers");
        var shape = shapeTensor.ToInt64();
        if (shape[0] != expectedShape[0] || shape[1] != expectedShape[1])
            throw new PareFormatException(path, $"'{prefix}.shape' is [{shape[0]}, {shape[1]}], the model configuration needs {TensorData.FormatShape(expectedShape)}");
        int rows = checked((int)shape[0]), cols = checked((int)shape[1]), bytesPerRow = (cols + 7) / 8;
        if (bitmask.DType != "U8" || bitmask.Shape.Length != 2 || bitmask.Shape[0] != rows || bitmask.Shape[1] != bytesPerRow)
            throw new PareFormatException(path, $"'{prefix}.bitmask' is {bitmask.DType} {TensorData.FormatShape(bitmask.Shape)}; a [{rows}, {cols}] weight needs U8 [{rows}, {bytesPerRow}]");
        if (!file.Tensors.TryGetValue(prefix + ".compressed", out var values) || values.Shape.Length != 1)
            throw new PareFormatException(path, $"'{prefix}.compressed' is missing or not one-dimensional");
        var mask = bitmask.Data.Span;
        long kept = 0;
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++)
                if ((mask[r * bytesPerRow + c / 8] >> (c % 8) & 1) != 0) kept++;
        if (kept != values.Shape[0])
            throw new PareFormatException(path, $"'{prefix}.bitmask' marks {kept} kept weights, '{prefix}.compressed' holds {values.Shape[0]}");
        var v = values.ToFloat32();
        var dense = new float[(long)rows * cols];
        long k = 0;
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++)
                if ((mask[r * bytesPerRow + c / 8] >> (c % 8) & 1) != 0) dense[(long)r * cols + c] = v[k++];
        return TensorData.FromFloat32(name, dense, rows, cols);
    }

    /// <summary>Codes and scales moved from Hugging Face's half-split row order to the interleaved one.</summary>
    private static GroupQuantizedMatrix Reorder(GroupQuantizedMatrix q, int heads)
    {
        int headDim = q.Rows / heads, half = headDim / 2;
        var codes = new sbyte[q.Codes.Length];
        var scales = new ushort[q.Scales.Length];
        for (int h = 0; h < heads; h++)
            for (int i = 0; i < half; i++)
                for (int j = 0; j < 2; j++)
                {
                    int to = h * headDim + 2 * i + j, from = h * headDim + j * half + i;
                    Array.Copy(q.Codes, (long)from * q.Columns, codes, (long)to * q.Columns, q.Columns);
                    Array.Copy(q.Scales, (long)from * q.Groups, scales, (long)to * q.Groups, q.Groups);
                }
        return new GroupQuantizedMatrix(q.Rows, q.Columns, q.Bits, q.GroupSize, codes, scales);
    }

    private static string? Str(JsonElement e, string key) => e.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    private static PareFormatException Bad(string path, string key, string problem) => new(path, $"compressed-tensors metadata: {key} {problem}");
}
