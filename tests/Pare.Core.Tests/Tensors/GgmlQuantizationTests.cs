using Pare.Core.Formats.Gguf;
using Pare.Core.Tensors;
using Pare.TestSupport;

namespace Pare.Core.Tests.Tensors;

/// <summary>Pare's q8_0/q4_0 quantisation against the blocks llama-quantize wrote from the same f32 values.</summary>
public class GgmlQuantizationTests
{
    private static string Tiny(string suffix) => Shared.PathOf("models", "synthetic-tiny", $"synthetic-tiny.{suffix}.gguf");

    [Theory]
    [InlineData("q8_0", GgmlType.Q8_0)]
    [InlineData("q4_0", GgmlType.Q4_0)]
    public void QuantisationIsByteIdenticalToLlamaCpp(string suffix, GgmlType type)
    {
        var f32 = GgufFile.Open(Tiny("f32"));
        var quantised = GgufFile.Open(Tiny(suffix));
        int compared = 0;
        foreach (var info in quantised.Tensors.Where(t => t.Type == type))
        {
            var expected = quantised.ReadTensor(info.Name).Data.ToArray();
            var source = f32.ReadTensor(info.Name);
            Assert.Equal(DType.F32, source.Type);
            var values = source.ToFloat32();
            var actual = type == GgmlType.Q8_0 ? GgmlQuants.QuantizeQ8_0(values) : GgmlQuants.QuantizeQ4_0(values);
            int firstDiff = expected.AsSpan().CommonPrefixLength(actual);
            Assert.True(firstDiff == expected.Length && actual.Length == expected.Length,
                $"{info.Name}: bytes differ at {firstDiff} of {expected.Length}");
            compared++;
        }
        Assert.True(compared >= 14, $"only {compared} {suffix} tensors in the file"); // 2 layers × 7 matrices at least
    }

    [Fact]
    public void QuantiseThenDequantiseStaysWithinHalfAStep()
    {
        var rng = new Random(3);
        var x = new float[32 * 50];
        for (int i = 0; i < x.Length; i++) x[i] = (float)(rng.NextDouble() * 2 - 1) * (i % 7 + 1);
        var q8 = new float[x.Length];
        var q4 = new float[x.Length];
        GgmlQuants.DequantizeQ8_0(GgmlQuants.QuantizeQ8_0(x), q8);
        GgmlQuants.DequantizeQ4_0(GgmlQuants.QuantizeQ4_0(x), q4);
        for (int b = 0; b < x.Length / 32; b++)
        {
            float amax = 0;
            for (int i = 0; i < 32; i++) amax = MathF.Max(amax, MathF.Abs(x[b * 32 + i]));
            for (int i = 0; i < 32; i++)
            {
                int k = b * 32 + i;
                // f16 rounding of the scale adds up to 2^-11 relative error on top of half a step. q4_0's grid is
                // −8..7 steps on the side of the largest value, so the opposite extreme clamps to 7: one full step.
                Assert.True(MathF.Abs(q8[k] - x[k]) <= amax / 127 * 0.5f + amax * 1e-3f, $"q8_0 at {k}");
                Assert.True(MathF.Abs(q4[k] - x[k]) <= amax / 8 + amax * 1e-3f, $"q4_0 at {k}");
            }
        }
    }
}
