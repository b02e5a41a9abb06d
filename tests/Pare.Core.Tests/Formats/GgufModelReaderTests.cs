using Pare.Core.Formats;
using Pare.Core.Formats.Gguf;
using Pare.Core.Tensors;
using Pare.TestSupport;

namespace Pare.Core.Tests.Formats;

/// <summary>GGUF models written by llama.cpp against the llama2.c files they were converted from.</summary>
public class GgufModelReaderTests
{
    private static string Tiny(string suffix) => Shared.PathOf("models", "synthetic-tiny", $"synthetic-tiny.{suffix}");

    [Fact]
    public void Stories260KGgufHasTheLlama2cConfigurationAndWeights()
    {
        var bin = Llama2cReader.Read(Shared.Stories260K);
        var gguf = GgufModelReader.Read(Shared.Stories260KGguf);
        Assert.Equal("gguf", gguf.Format);
        // llama.cpp's converter always writes output.weight, so the GGUF model is untied (with the embedding copied).
        Assert.Equal(bin.Config with { TiedEmbeddings = false }, gguf.Config);
        foreach (var (name, t) in bin.Tensors)
        {
            Assert.Equal(t.Shape, gguf[name].Shape);
            Assert.True(t.Data.Span.SequenceEqual(gguf[name].Data.Span), name);
        }
        Assert.True(bin[LlamaTensorNames.Embedding].Data.Span.SequenceEqual(gguf[LlamaTensorNames.Classifier].Data.Span));
        Assert.NotNull(gguf.Vocabulary);
        Assert.Equal(512, gguf.Vocabulary!.Tokens.Length);
    }

    [Fact]
    public void SyntheticTinyF32GgufEqualsTheLlama2cFile()
    {
        var bin = Llama2cReader.Read(Tiny("bin"));
        var gguf = GgufModelReader.Read(Tiny("f32.gguf"));
        Assert.Equal(bin.Config.Dim, gguf.Config.Dim);
        Assert.Equal(bin.Config.KvHeads, gguf.Config.KvHeads);
        foreach (var (name, t) in bin.Tensors)
            Assert.Equal(t.ToFloat32(), gguf[name].ToFloat32());
    }

    [Fact]
    public void F16IsTheNearestHalfOfEachF32Weight()
    {
        var (f32, q) = (GgufModelReader.Read(Tiny("f32.gguf")), GgufModelReader.Read(Tiny("f16.gguf")));
        int f16Tensors = 0;
        foreach (var (name, t) in q.Tensors)
        {
            var x = f32[name].ToFloat32();
            if (t.Type != DType.F16)
            {
                Assert.Equal(x, t.ToFloat32());
                continue;
            }
            f16Tensors++;
            var raw = t.Data.Span;
            for (int i = 0; i < x.Length; i++)
            {
                // Round to nearest: no f16 neighbour of the stored value is closer to the f32 value (half an ulp).
                ushort bits = BitConverter.ToUInt16(raw.Slice(2 * i, 2));
                double h = (double)BitConverter.UInt16BitsToHalf(bits), err = Math.Abs(h - x[i]);
                foreach (int step in new[] { -1, 1 })
                {
                    var neighbour = (double)BitConverter.UInt16BitsToHalf((ushort)(bits + step));
                    if (double.IsFinite(neighbour)) Assert.True(err <= Math.Abs(neighbour - x[i]), $"{name}[{i}]: {x[i]} stored as {h}");
                }
            }
        }
        Assert.True(f16Tensors >= 2 * 7, "every linear weight should be f16");
    }

    [Fact]
    public void Q8_0IsWithinHalfAStepOfEachBlocksScale()
    {
        // llama.cpp's reference q8_0: d = max|x|/127, q = round(x/d), stored scale d16 = fp16(d). Dequantised
        // q·d16 differs from x by at most d/2 (rounding) + 127·|d − d16| (the scale's own f16 rounding).
        CheckBlocks(DType.Q8_0, Tiny("q8_0.gguf"), x =>
        {
            float amax = x.Max(Math.Abs);
            double d = amax / 127.0;
            return (d, x.Select(_ => d / 2).ToArray(), 127);
        });
    }

    [Fact]
    public void Q4_0IsWithinHalfAStepOfEachBlocksScale()
    {
        // llama.cpp's reference q4_0: d = m/−8 where m is the value of largest magnitude, q = min(15, ⌊x/d + 8.5⌋).
        // Values map to −8…7.5 steps; rounding costs ≤ |d|/2, except values beyond 7.5 steps (up to the opposite
        // extreme, +8) are clamped to 7 and cost up to |d|. Plus 8·|d − d16| for the f16 scale.
        CheckBlocks(DType.Q4_0, Tiny("q4_0.gguf"), x =>
        {
            float m = x.MaxBy(Math.Abs);
            double d = m / -8.0;
            return (d, x.Select(v => d == 0 ? 0 : v / d > 7.5 ? Math.Abs(d) : Math.Abs(d) / 2).ToArray(), 8);
        });
    }

    private static void CheckBlocks(DType type, string path, Func<float[], (double D, double[] Rounding, int MaxQ)> bound)
    {
        var (f32, q) = (GgufModelReader.Read(Tiny("f32.gguf")), GgufModelReader.Read(path));
        int quantized = 0;
        foreach (var (name, t) in q.Tensors)
        {
            var x = f32[name].ToFloat32();
            var y = t.ToFloat32();
            if (t.Type is DType.F32) { Assert.Equal(x, y); continue; }
            if (t.Type != type) continue; // llama-quantize may keep some tensors (the classifier) at a higher type
            quantized++;
            int blockBytes = type == DType.Q8_0 ? 34 : 18;
            for (int b = 0; b < x.Length / 32; b++)
            {
                var block = x.AsSpan(b * 32, 32).ToArray();
                var (d, rounding, maxQ) = bound(block);
                double d16 = (double)BitConverter.UInt16BitsToHalf(BitConverter.ToUInt16(t.Data.Span.Slice(b * blockBytes, 2)));
                for (int i = 0; i < 32; i++)
                {
                    double limit = rounding[i] + maxQ * Math.Abs(Math.Abs(d) - Math.Abs(d16)) + 1e-7;
                    double err = Math.Abs(y[b * 32 + i] - block[i]);
                    Assert.True(err <= limit, $"{name} block {b} [{i}]: |Δ| {err} > {limit}");
                }
            }
        }
        Assert.True(quantized >= 2 * 7, $"every linear weight should be {type}, found {quantized}");
    }
}
