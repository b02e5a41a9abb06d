using System.Runtime.InteropServices;
using Pare.Core.Formats;
using Pare.Core.Formats.Gguf;
using Pare.Core.Tensors;
using Pare.TestSupport;

namespace Pare.Core.Tests.Formats;

/// <summary>llama2.c's versioned (ak42) exports and Pare's legacy v0 writer, against the original stories260K.bin.</summary>
public class Llama2cFormatsTests
{
    [Fact]
    public void Int8ExportDequantisesWithinHalfAStepOfTheF32Weights()
    {
        var f32 = Llama2cReader.Read(Shared.Stories260K);
        var q8 = ModelLoader.Load(Shared.Stories260KQ8);
        Assert.Equal(f32.Config, q8.Config);
        const int group = 8; // the group size stories260K-q8.bin was exported with (MANIFEST)
        foreach (var (name, t) in f32.Tensors)
        {
            var x = t.ToFloat32();
            var y = q8[name].ToFloat32();
            if (t.Shape.Length == 1)
            {
                Assert.Equal(x, y); // norms stay f32
                continue;
            }
            // export.py: scale = max|w|/127 per group of consecutive values, q = round(w/scale): |w − q·scale| ≤ scale/2.
            for (int g = 0; g < x.Length / group; g++)
            {
                float scale = x.AsSpan(g * group, group).ToArray().Max(Math.Abs) / 127f;
                for (int i = g * group; i < (g + 1) * group; i++)
                    Assert.True(Math.Abs(x[i] - y[i]) <= scale / 2 * (1 + 1e-5f), $"{name}[{i}]: {x[i]} vs {y[i]}, scale {scale}");
            }
        }
    }

    [Fact]
    public void ASymbolicLinkToACheckpointLoadsTheFileItPointsTo()
    {
        // Users link models into place; the link's own size (a few bytes) must not be taken for the file's.
        using var dir = new TempDir();
        var link = dir.File("linked.bin");
        File.CreateSymbolicLink(link, Path.GetFullPath(Shared.Stories260K));
        var direct = Llama2cReader.Read(Shared.Stories260K);
        var linked = ModelLoader.Load(link);
        Assert.Equal(direct.Config, linked.Config);
        foreach (var (name, t) in direct.Tensors) Assert.Equal(t.ToFloat32(), linked[name].ToFloat32());
    }

    [Fact]
    public void F32VersionOneExportReadsLikeTheLegacyFile()
    {
        using var dir = new TempDir();
        var legacy = Llama2cReader.Read(Shared.Stories260K);
        var c = legacy.Config;
        // Lay out a v1 file as export.py's version1_export does.
        using (var w = new BinaryWriter(File.Create(dir.File("v1.bin"))))
        {
            w.Write(0x616b3432u);
            w.Write(1);
            foreach (var v in new[] { c.Dim, c.HiddenDim, c.Layers, c.Heads, c.KvHeads, c.VocabSize, c.MaxSeqLen }) w.Write(v);
            w.Write((byte)1);
            w.Write(new byte[256 - 37]);
            var order = Enumerable.Range(0, c.Layers).Select(LlamaTensorNames.AttentionNorm)
                .Concat(Enumerable.Range(0, c.Layers).Select(LlamaTensorNames.FfnNorm))
                .Append(LlamaTensorNames.FinalNorm).Append(LlamaTensorNames.Embedding);
            foreach (var kind in new Func<int, string>[] { LlamaTensorNames.Query, LlamaTensorNames.Key, LlamaTensorNames.Value, LlamaTensorNames.Output, LlamaTensorNames.Gate, LlamaTensorNames.Down, LlamaTensorNames.Up })
                order = order.Concat(Enumerable.Range(0, c.Layers).Select(kind));
            foreach (var name in order) w.Write(legacy[name].Data.Span);
        }
        var v1 = ModelLoader.Load(dir.File("v1.bin"));
        Assert.Equal(c, v1.Config);
        foreach (var (name, t) in legacy.Tensors)
            Assert.True(t.Data.Span.SequenceEqual(v1[name].Data.Span), name);
    }

    [Fact]
    public void LegacyWriterReproducesStories260KBin()
    {
        using var dir = new TempDir();
        Llama2cWriter.Write(Llama2cReader.Read(Shared.Stories260K), dir.File("out.bin"));
        var expected = File.ReadAllBytes(Shared.Stories260K);
        var actual = File.ReadAllBytes(dir.File("out.bin"));
        Assert.Equal(expected.Length, actual.Length);
        // Everything but the RoPE tables is byte-identical; the tables (computed by PyTorch in export.py) agree to f32 rounding.
        var h = Llama2cFileFacts.Header(Shared.Stories260K);
        int tableFloats = h[6] * h[0] / h[3]; // two tables of seq_len × head_dim/2
        int tableStart = expected.Length - 4 * tableFloats;
        Assert.True(expected.AsSpan(0, tableStart).SequenceEqual(actual.AsSpan(0, tableStart)));
        var e = MemoryMarshal.Cast<byte, float>(expected.AsSpan(tableStart));
        var a = MemoryMarshal.Cast<byte, float>(actual.AsSpan(tableStart));
        for (int i = 0; i < e.Length; i++)
            Assert.True(Math.Abs(e[i] - a[i]) <= 2e-5f, $"table value {i}: {e[i]} vs {a[i]}");
    }

    [Fact]
    public void LegacyWriterWritesSeparateClassifiersAndDequantises()
    {
        using var dir = new TempDir();
        var q8 = GgufModelReader.Read(Shared.PathOf("models", "synthetic-tiny", "synthetic-tiny.q8_0.gguf"));
        Assert.False(q8.Config.TiedEmbeddings);
        Llama2cWriter.Write(q8, dir.File("out.bin"));
        Assert.True(Llama2cFileFacts.Header(dir.File("out.bin"))[5] < 0); // negative vocab: separate classifier
        var back = Llama2cReader.Read(dir.File("out.bin"));
        Assert.Equal(q8.Config, back.Config);
        foreach (var (name, t) in q8.Tensors)
        {
            Assert.Equal(DType.F32, back[name].Type);
            Assert.Equal(t.ToFloat32(), back[name].ToFloat32());
        }
    }
}
