using System.Text.Json;
using System.Text.Json.Nodes;
using Pare.Core.Formats;
using Pare.Core.Formats.CompressedTensors;
using Pare.Core.Formats.Gguf;
using Pare.Core.Formats.Safetensors;
using Pare.Core.Tensors;
using Pare.TestSupport;

namespace Pare.Core.Tests.Formats;

/// <summary>
/// compressed-tensors folders Pare writes: they read back with the same codes, scales and other tensors; their
/// layout follows the published format (checked here by decoding the packed words and bitmasks by hand); and bad
/// metadata or shapes give one clear error each. GGUF q8_0/q4_0 files written from codes read back bit for bit.
/// </summary>
public class CompressedTensorsTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "pare-ct-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    private static Checkpoint Tiny() => ModelLoader.Load(Shared.PathOf("models", "synthetic-tiny", "synthetic-tiny.bin"));

    /// <summary>Every decoder linear rounded to nearest on the grid, with every third weight of v_proj/down_proj set to zero first (a pruned model).</summary>
    private static (Checkpoint Model, Dictionary<string, GroupQuantizedMatrix> Codes) Quantized(int bits, int group)
    {
        var ck = Tiny();
        var tensors = new Dictionary<string, TensorData>(ck.Tensors);
        var codes = new Dictionary<string, GroupQuantizedMatrix>();
        for (int l = 0; l < ck.Config.Layers; l++)
        {
            foreach (var name in LlamaTensorNames.Linears(l))
            {
                var t = ck[name];
                var w = t.ToFloat32();
                if (name.Contains("v_proj") || name.Contains("down_proj"))
                    for (int i = 0; i < w.Length; i += 3) w[i] = 0;
                var q = SymmetricGrid.RoundToNearest(w, t.Rows, t.Columns, bits, group);
                codes[name] = q;
                tensors[name] = q.ToTensorData(name);
            }
        }
        return (ck.With(tensors), codes);
    }

    [Theory]
    [InlineData(4, 32)]
    [InlineData(8, 32)]
    [InlineData(4, 128)]
    [InlineData(3, 64)]
    [InlineData(8, 0)]
    public void RoundTripsCodesScalesAndTensors(int bits, int group)
    {
        var (model, codes) = Quantized(bits, group);
        CompressedTensorsWriter.Write(model, _dir, codes, "unstructured");
        var back = CompressedTensorsReader.Read(_dir, out var codesBack);
        Assert.True(ModelLoader.Load(_dir).Tensors.Count >= model.Tensors.Count - 1);
        Assert.Equal(codes.Keys.Order(), codesBack.Keys.Order());
        foreach (var (name, q) in codes)
        {
            var r = codesBack[name];
            Assert.Equal(q.Codes, r.Codes);
            Assert.Equal(q.Scales, r.Scales);
            Assert.Equal(q.GroupSize, r.GroupSize);
            // The stored tensor: q8_0/q4_0 blocks byte for byte where the grid is GGML's, the grid values otherwise.
            Assert.Equal(model[name].Type, back[name].Type);
            Assert.True(model[name].Data.Span.SequenceEqual(back[name].Data.Span), name);
        }
        foreach (var name in new[] { LlamaTensorNames.Embedding, LlamaTensorNames.FinalNorm, LlamaTensorNames.AttentionNorm(1) })
            Assert.True(model[name].Data.Span.SequenceEqual(back[name].Data.Span), name);
    }

    /// <summary>The layout, decoded here from the format's description rather than through the reader.</summary>
    [Fact]
    public void LayoutFollowsTheCompressedTensorsSpec()
    {
        var (model, codes) = Quantized(4, 32);
        CompressedTensorsWriter.Write(model, _dir, codes, "2:4");
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(_dir, "config.json")))!;
        var q = config["quantization_config"]!;
        Assert.Equal("compressed-tensors", (string?)q["quant_method"]);
        Assert.Equal("pack-quantized", (string?)q["format"]);
        Assert.Equal("compressed", (string?)q["quantization_status"]);
        var w = q["config_groups"]!["group_0"]!["weights"]!;
        Assert.Equal(4, (int)w["num_bits"]!);
        Assert.Equal("int", (string?)w["type"]);
        Assert.True((bool)w["symmetric"]!);
        Assert.Equal("group", (string?)w["strategy"]);
        Assert.Equal(32, (int)w["group_size"]!);
        Assert.Equal("Linear", (string?)q["config_groups"]!["group_0"]!["targets"]![0]);
        Assert.Null(q["config_groups"]!["group_0"]!["input_activations"]);
        Assert.Equal("dense", (string?)q["sparsity_config"]!["format"]);
        Assert.Equal("2:4", (string?)q["sparsity_config"]!["sparsity_structure"]);

        var st = SafetensorsFile.Open(Path.Combine(_dir, "model.safetensors"), integers: true);
        const string prefix = "model.layers.0.self_attn.v_proj"; // v_proj keeps its row order in HF layout
        var packed = st.Integers[prefix + ".weight_packed"];
        Assert.Equal("I32", packed.DType);
        var shape = st.Integers[prefix + ".weight_shape"].ToInt64();
        var q0 = codes[prefix + ".weight"];
        Assert.Equal(new long[] { q0.Rows, q0.Columns }, shape);
        Assert.Equal(new long[] { q0.Rows, q0.Columns / 8 }, packed.Shape);
        var words = packed.ToInt64();
        for (int r = 0; r < q0.Rows; r++)
            for (int c = 0; c < q0.Columns; c++)
            {
                // Eight 4-bit values per int32, column 8k + i in bits 4i..4i+3 of word k, stored as code + 8.
                long word = words[r * (q0.Columns / 8) + c / 8] & 0xFFFFFFFF;
                Assert.Equal(q0.Codes[r * q0.Columns + c] + 8, (int)((word >> (4 * (c % 8))) & 0xF));
            }
        var scale = st.Tensors[prefix + ".weight_scale"];
        Assert.Equal(DType.F16, scale.Type);
        Assert.Equal(new long[] { q0.Rows, q0.Columns / 32 }, scale.Shape);
        // q_proj rows are in Hugging Face's rotate-half order: HF row j·half + i of a head is Pare's row 2i + j.
        var qp = codes["model.layers.0.self_attn.q_proj.weight"];
        var hfScales = st.Tensors["model.layers.0.self_attn.q_proj.weight_scale"].ToFloat32();
        int headDim = qp.Rows / model.Config.Heads, half = headDim / 2;
        Assert.Equal(qp.Scale(2 * 3 + 1, 0), hfScales[(1 * half + 3) * qp.Groups]);
        Assert.Equal(qp.Scale(headDim + 2 * 5, 0), hfScales[(headDim + 5) * qp.Groups]);
    }

    [Fact]
    public void SparseBitmaskRoundTripsAndFollowsTheSpec()
    {
        var ck = Tiny();
        var tensors = new Dictionary<string, TensorData>(ck.Tensors);
        for (int l = 0; l < ck.Config.Layers; l++)
            foreach (var name in LlamaTensorNames.Linears(l))
            {
                var w = ck[name].ToFloat32();
                for (int i = 0; i < w.Length; i++) if (i % 4 < 2) w[i] = 0; // 2:4
                tensors[name] = TensorData.FromFloat32(name, w, ck[name].Shape);
            }
        var model = ck.With(tensors);
        CompressedTensorsWriter.Write(model, _dir, new Dictionary<string, GroupQuantizedMatrix>(), "2:4");
        var back = ModelLoader.Load(_dir);
        foreach (var (name, t) in model.Tensors)
            Assert.Equal(t.ToFloat32(), back[name].ToFloat32());
        var q = JsonNode.Parse(File.ReadAllText(Path.Combine(_dir, "config.json")))!["quantization_config"]!;
        Assert.Equal("sparse-bitmask", (string?)q["sparsity_config"]!["format"]);
        var st = SafetensorsFile.Open(Path.Combine(_dir, "model.safetensors"), integers: true);
        const string prefix = "model.layers.1.mlp.down_proj";
        var mask = st.Integers[prefix + ".bitmask"];
        Assert.Equal("U8", mask.DType);
        var t0 = model[prefix + ".weight"];
        Assert.Equal(new long[] { t0.Rows, (t0.Columns + 7) / 8 }, mask.Shape);
        // numpy packbits(bitorder="little"): column c is bit c % 8 of byte c / 8; 2:4 with the first two zeroed → 0b11001100.
        Assert.All(mask.ToInt64(), b => Assert.Equal(0b1100_1100, b));
        var offsets = st.Integers[prefix + ".row_offsets"].ToInt64();
        Assert.Equal(Enumerable.Range(0, t0.Rows).Select(r => (long)r * t0.Columns / 2), offsets);
        Assert.Equal(t0.ElementCount / 2, st.Tensors[prefix + ".compressed"].ElementCount);
    }

    [Fact]
    public void MalformedMetadataShapesAndGroupsGiveOneClearErrorEach()
    {
        var (model, codes) = Quantized(4, 32);
        CompressedTensorsWriter.Write(model, _dir, codes, null);
        var configPath = Path.Combine(_dir, "config.json");
        var good = File.ReadAllText(configPath);
        void Edit(Action<JsonNode> change)
        {
            var n = JsonNode.Parse(good)!;
            change(n["quantization_config"]!);
            File.WriteAllText(configPath, n.ToJsonString());
        }
        string Error() => Assert.Throws<PareFormatException>(() => CompressedTensorsReader.Read(_dir)).Problem;

        Edit(q => q["format"] = "marlin-24");
        Assert.Contains("quantization_config.format is 'marlin-24'", Error());
        Edit(q => q["config_groups"] = "none");
        Assert.Contains("config_groups is missing or not an object", Error());
        Edit(q => q["config_groups"]!["group_0"]!["weights"]!["symmetric"] = false);
        Assert.Contains("symmetric is not true", Error());
        Edit(q => q["config_groups"]!["group_0"]!["weights"]!["num_bits"] = 16);
        Assert.Contains("num_bits is not an integer from 2 to 8", Error());
        Edit(q => q["config_groups"]!["group_0"]!["weights"]!["group_size"] = 48);
        Assert.Contains("group size 48 does not divide the 128 columns", Error());
        Edit(q => q["config_groups"]!["group_0"]!["weights"]!["num_bits"] = 8);
        Assert.Contains("q_proj.weight_packed' is I32 [128, 16]; 8-bit codes of [128, 128] pack into I32 [128, 32]", Error());
        File.WriteAllText(configPath, "{ not json");
        Assert.Contains("malformed JSON", Assert.Throws<PareFormatException>(() => CompressedTensorsReader.Read(_dir)).Problem);

        // A bitmask one byte short per row.
        Directory.Delete(_dir, recursive: true);
        var ck = Tiny();
        var tensors = new Dictionary<string, TensorData>(ck.Tensors);
        var v = ck[LlamaTensorNames.Value(0)].ToFloat32();
        v[0] = 0;
        tensors[LlamaTensorNames.Value(0)] = TensorData.FromFloat32(LlamaTensorNames.Value(0), v, ck[LlamaTensorNames.Value(0)].Shape);
        CompressedTensorsWriter.Write(ck.With(tensors), _dir, new Dictionary<string, GroupQuantizedMatrix>(), "0.01");
        var weights = Path.Combine(_dir, "model.safetensors");
        var st = SafetensorsFile.Open(weights, integers: true);
        var entries = new List<SafetensorsEntry>();
        foreach (var name in st.Names)
        {
            if (st.Integers.TryGetValue(name, out var i))
            {
                if (name.EndsWith(".bitmask", StringComparison.Ordinal))
                {
                    long rows = i.Shape[0], bytes = i.Shape[1] - 1;
                    var data = new byte[rows * bytes];
                    entries.Add(new SafetensorsEntry(name, i.DType, [rows, bytes], data));
                }
                else entries.Add(new SafetensorsEntry(name, i.DType, i.Shape, i.Data.ToArray()));
            }
            else entries.Add(new SafetensorsEntry(name, SafetensorsFile.DTypeName(st.Tensors[name].Type), st.Tensors[name].Shape, st.Tensors[name].Data.ToArray()));
        }
        SafetensorsWriter.WriteRaw(weights + ".tmp", entries);
        File.Move(weights + ".tmp", weights, overwrite: true);
        Assert.Contains("v_proj.bitmask' is U8 [64, 15]; a [64, 128] weight needs U8 [64, 16]", Error());
    }

    /// <summary>GGUF q8_0/q4_0 written from codes (not re-quantised) reads back with the same blocks, codes and scales.</summary>
    [Theory]
    [InlineData(8)]
    [InlineData(4)]
    public void GgufBlocksFromCodesRoundTripBitForBit(int bits)
    {
        var (model, codes) = Quantized(bits, 32);
        Directory.CreateDirectory(_dir);
        var path = Path.Combine(_dir, "m.gguf");
        GgufWriter.Write(model, path);
        var back = ModelLoader.Load(path);
        foreach (var (name, q) in codes)
        {
            Assert.Equal(bits == 8 ? DType.Q8_0 : DType.Q4_0, back[name].Type);
            Assert.True(model[name].Data.Span.SequenceEqual(back[name].Data.Span), name);
            var r = GroupQuantizedMatrix.FromGgml(back[name]);
            Assert.Equal(q.Codes, r.Codes);
            Assert.Equal(q.Scales, r.Scales);
            Assert.Equal(q.Dequantize(), back[name].ToFloat32());
        }
    }
}
