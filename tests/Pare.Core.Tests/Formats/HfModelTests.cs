using System.Text.Json.Nodes;
using Pare.Core.Formats;
using Pare.Core.Formats.Safetensors;
using Pare.Core.Tensors;
using Pare.TestSupport;

namespace Pare.Core.Tests.Formats;

/// <summary>Hugging Face layout: config.json + safetensors, with HF's rotate_half q/k row order.</summary>
public class HfModelTests
{
    [Fact]
    public void WritingAndReadingBackKeepsEveryTensor()
    {
        using var dir = new TempDir();
        var original = Llama2cReader.Read(Shared.Stories260K);
        HfWriter.Write(original, dir.Path);
        Assert.Equal(["config.json", "model.safetensors"], Directory.GetFiles(dir.Path).Select(Path.GetFileName).Order());

        var back = ModelLoader.Load(dir.Path);
        Assert.Equal("safetensors", back.Format);
        Assert.Equal(original.Config, back.Config);
        foreach (var (name, t) in original.Tensors)
            Assert.True(t.Data.Span.SequenceEqual(back[name].Data.Span), name);
        // The file itself holds HF names, and q/k in HF order (different from the interleaved order).
        var file = SafetensorsFile.Open(dir.File("model.safetensors"));
        Assert.Equal(LlamaTensorNames.Expected(original.Config).Select(e => e.Name).Order(), file.Names.Order());
        Assert.False(file[LlamaTensorNames.Query(0)].Data.Span.SequenceEqual(original[LlamaTensorNames.Query(0)].Data.Span));
        Assert.True(file[LlamaTensorNames.Value(0)].Data.Span.SequenceEqual(original[LlamaTensorNames.Value(0)].Data.Span));
        // Reading through any file of the folder gives the same model.
        Assert.Equal(original.Config, ModelLoader.Load(dir.File("model.safetensors")).Config);
        Assert.Equal(original.Config, ModelLoader.Load(dir.File("config.json")).Config);
    }

    [Fact]
    public void HfRowOrderWithRotateHalfRopeGivesTheSameAttentionScoresAsInterleavedRope()
    {
        // Independent check of the permutation's direction: q·k after RoPE must not depend on the convention when
        // each convention is applied to the weights in its own row order (head size 8, as stories260K).
        var ck = Llama2cReader.Read(Shared.Stories260K);
        int heads = ck.Config.Heads, hd = ck.Config.HeadDim, dim = ck.Config.Dim;
        var wq = ck[LlamaTensorNames.Query(1)];
        var wqHf = HfRopePermutation.ToHalfSplit(wq, heads).ToFloat32();
        var wqInt = wq.ToFloat32();
        var rng = new Random(3);
        var x = Enumerable.Range(0, dim).Select(_ => (float)rng.NextDouble() - 0.5f).ToArray();
        var y = Enumerable.Range(0, dim).Select(_ => (float)rng.NextDouble() - 0.5f).ToArray();
        for (int h = 0; h < heads; h++)
        {
            double Score(float[] w, bool interleaved, int m, int n)
            {
                var q = Rope(MatVec(w, x, h * hd, hd, dim), m, interleaved);
                var k = Rope(MatVec(w, y, h * hd, hd, dim), n, interleaved);
                return q.Zip(k, (a, b) => a * b).Sum();
            }
            foreach (var (m, n) in new[] { (5, 2), (17, 0), (3, 3) })
                Assert.Equal(Score(wqInt, true, m, n), Score(wqHf, false, m, n), 1e-9);
        }
    }

    private static double[] MatVec(float[] w, float[] x, int row0, int rows, int cols)
        => Enumerable.Range(row0, rows).Select(r => Enumerable.Range(0, cols).Sum(c => (double)w[r * cols + c] * x[c])).ToArray();

    /// <summary>Interleaved: dims (2i, 2i+1) rotate by pos·θ_i. rotate_half: dims (i, i+d/2). θ_i = 10000^(−2i/d).</summary>
    private static double[] Rope(double[] v, int pos, bool interleaved)
    {
        int d = v.Length;
        var r = (double[])v.Clone();
        for (int i = 0; i < d / 2; i++)
        {
            double a = pos * Math.Pow(10000, -2.0 * i / d), cos = Math.Cos(a), sin = Math.Sin(a);
            var (p, q) = interleaved ? (2 * i, 2 * i + 1) : (i, i + d / 2);
            r[p] = v[p] * cos - v[q] * sin;
            r[q] = v[p] * sin + v[q] * cos;
        }
        return r;
    }

    [Fact]
    public void ShardedModelWithIndexReadsLikeASingleFile()
    {
        using var single = new TempDir();
        using var sharded = new TempDir();
        var original = Llama2cReader.Read(Shared.Stories260K);
        HfWriter.Write(original, single.Path);
        var file = SafetensorsFile.Open(single.File("model.safetensors"));
        var names = file.Names.ToList();
        var parts = new[] { names.Take(names.Count / 2).ToList(), names.Skip(names.Count / 2).ToList() };
        var map = new JsonObject();
        for (int s = 0; s < 2; s++)
        {
            var shard = $"model-{s + 1:00000}-of-00002.safetensors";
            SafetensorsWriter.Write(sharded.File(shard), parts[s].Select(n => file[n]).ToList());
            foreach (var n in parts[s]) map[n] = shard;
        }
        File.WriteAllText(sharded.File("model.safetensors.index.json"), new JsonObject { ["metadata"] = new JsonObject(), ["weight_map"] = map }.ToJsonString());
        File.Copy(single.File("config.json"), sharded.File("config.json"));

        var back = ModelLoader.Load(sharded.File("model.safetensors.index.json"));
        foreach (var (name, t) in original.Tensors)
            Assert.True(t.Data.Span.SequenceEqual(back[name].Data.Span), name);
    }

    [Fact]
    public void HalfPrecisionTensorsKeepTheirDType()
    {
        using var dir = new TempDir();
        var values = new float[] { 1, -2.5f, 0.1f, 65504, 1e-8f, float.NegativeInfinity };
        var f16 = new TensorData("a", [2, 3], DType.F16, values.SelectMany(v => BitConverter.GetBytes(BitConverter.HalfToUInt16Bits((Half)v))).ToArray());
        var bf16 = new TensorData("b", [3, 2], DType.BF16, values.SelectMany(v => BitConverter.GetBytes(TensorCodec.FloatToBFloat16(v))).ToArray());
        SafetensorsWriter.Write(dir.File("x.safetensors"), [f16, bf16], new Dictionary<string, string> { ["format"] = "pt" });
        var file = SafetensorsFile.Open(dir.File("x.safetensors"));
        Assert.Equal("pt", file.Metadata["format"]);
        Assert.Equal(DType.F16, file["a"].Type);
        Assert.Equal(DType.BF16, file["b"].Type);
        Assert.Equal(new long[] { 3, 2 }, file["b"].Shape);
        Assert.Equal(f16.ToFloat32(), file["a"].ToFloat32());
        Assert.Equal(bf16.ToFloat32(), file["b"].ToFloat32());
        // The header length is a multiple of 8, so data starts aligned.
        Assert.Equal(0, BitConverter.ToInt64(File.ReadAllBytes(dir.File("x.safetensors")), 0) % 8);
    }

    [Fact]
    public void UnsupportedModelTypeIsRefusedByName()
    {
        using var dir = new TempDir();
        HfWriter.Write(Llama2cReader.Read(Shared.Stories260K), dir.Path);
        var config = JsonNode.Parse(File.ReadAllText(dir.File("config.json")))!;
        config["model_type"] = "mistral";
        File.WriteAllText(dir.File("config.json"), config.ToJsonString());
        var e = Assert.Throws<PareFormatException>(() => ModelLoader.Load(dir.Path));
        Assert.Contains("unsupported model_type 'mistral'", e.Message);
        Assert.Contains("config.json", e.Message);
    }
}
