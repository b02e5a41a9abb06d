using Pare.Core.Sparsity;
using Pare.Core.Tensors;
using Pare.Engine.Kernels;
using Pare.Engine.Weights;

namespace Pare.Engine.Tests;

/// <summary>
/// Every weight format's kernels against a double-precision product of its own dequantised weights
/// (<see cref="IWeightMatrix.ToDense"/>), on random shapes that are not multiples of the SIMD width or the block,
/// at every SIMD level this CPU has.
/// </summary>
[Collection(KernelLevelCollection.Name)]
public class WeightKernelTests
{
    public static TheoryData<string> Formats => new(WeightFormats.All);

    [Theory]
    [MemberData(nameof(Formats))]
    public void KernelsMatchDoublePrecisionReference(string format)
    {
        var saved = KernelDispatch.Level;
        try
        {
            foreach (var level in Enum.GetValues<SimdLevel>().Where(l => l <= KernelDispatch.Detected))
            {
                KernelDispatch.Level = level;
                for (int seed = 1; seed <= 4; seed++)
                {
                    var rng = new Random(seed * 97 + format.Length);
                    int rows = rng.Next(1, 40), cols = seed switch { 1 => 172, 2 => 64, _ => rng.Next(1, 300) };
                    CheckOne(format, rows, cols, rng, $"{format} {level} seed {seed} {rows}×{cols}");
                }
            }
        }
        finally
        {
            KernelDispatch.Level = saved;
        }
    }

    /// <summary>
    /// sparse-int8 reads headers in groups of 4 blocks of 64 columns, then a remainder of 1–3 blocks, row after
    /// row; the random shapes above are mostly below one group, so wider rows cover whole groups, remainders and
    /// a last block that is partly padding.
    /// </summary>
    [Theory]
    [InlineData(256)]
    [InlineData(768)]
    [InlineData(900)]
    [InlineData(1000)]
    public void SparseInt8WholeGroupsAndRemainders(int cols)
    {
        var saved = KernelDispatch.Level;
        try
        {
            foreach (var level in Enum.GetValues<SimdLevel>().Where(l => l <= KernelDispatch.Detected))
            {
                KernelDispatch.Level = level;
                CheckOne(WeightFormats.SparseInt8, 7, cols, new Random(cols), $"sparse-int8 {level} 7×{cols}");
            }
        }
        finally
        {
            KernelDispatch.Level = saved;
        }
    }

    [Fact]
    public void SparseInt8EncodesItsOwnDecodingExactly()
    {
        var rng = new Random(17);
        int rows = 9, cols = 700;
        var w = MagnitudePruning.Unstructured(Normal(rng, rows * cols, 0.02), 0.6);
        for (int i = 0; i < 40; i++) w[rng.Next(w.Length)] *= 50; // outliers: blocks with very different scales
        var decoded = SparseInt8Matrix.FromDense(w, rows, cols).ToDense();
        var again = SparseInt8Matrix.FromDense(decoded, rows, cols);
        Assert.Equal(decoded, again.ToDense());
        Assert.Equal(decoded.Count(v => v != 0), again.NonZeros);
    }

    private static void CheckOne(string format, int rows, int cols, Random rng, string label)
    {
        var w = Normal(rng, rows * cols, 0.05);
        if (WeightFormats.Canonical(format) == WeightFormats.Sparse24Int8) w = MagnitudePruning.NM(w, rows, cols);
        if (WeightFormats.Canonical(format) == WeightFormats.SparseInt8) w = MagnitudePruning.Unstructured(w, 0.5 + 0.3 * rng.NextDouble());
        var m = WeightFormats.Convert(TensorData.FromFloat32("w", w, rows, cols), format);
        Assert.Equal((rows, cols), (m.Rows, m.Cols));
        var dense = m.ToDense();
        CheckDecoded(format, w, dense, rows, cols, label);

        const int n = 6; // one block of four tokens in the batched kernels, then two single ones
        var x = Normal(rng, n * cols, 1.0);
        if (cols > 3) x[2] = 0; // an exact zero and a large value per vector
        x[cols - 1] *= 8;
        var batched = new float[n * rows];
        m.MatMul(x, batched, n, 0, rows);
        int activationBlock = m is Int8KernelMatrix q ? q.Block : 0;
        for (int t = 0; t < n; t++)
        {
            var xt = x.AsSpan(t * cols, cols);
            var y = new float[rows];
            int split = rows / 2;
            m.MatVec(xt, y, 0, split);
            m.MatVec(xt, y, split, rows);
            for (int r = 0; r < rows; r++)
            {
                double exact = 0, magnitude = 0, bound = 0;
                for (int c = 0; c < cols; c++)
                {
                    exact += (double)dense[r * cols + c] * xt[c];
                    magnitude += Math.Abs((double)dense[r * cols + c] * xt[c]);
                }
                if (activationBlock > 0)
                {
                    // Activation rounding: each x moves by at most half its block's step max|x|/127.
                    for (int b = 0; b < cols; b += activationBlock)
                    {
                        double amax = 0, wsum = 0;
                        for (int c = b; c < Math.Min(cols, b + activationBlock); c++)
                        {
                            amax = Math.Max(amax, Math.Abs(xt[c]));
                            wsum += Math.Abs(dense[r * cols + c]);
                        }
                        bound += wsum * amax / 127 / 2;
                    }
                }
                double tolerance = bound * 1.001 + 1e-5 * magnitude + 1e-6;
                Assert.True(Math.Abs(y[r] - exact) <= tolerance, $"{label}: row {r} token {t}: {y[r]} vs {exact} (tolerance {tolerance})");
                Assert.True(y[r] == batched[t * rows + r], $"{label}: batched product differs from MatVec at row {r} token {t}");
            }
        }
    }

    /// <summary>The dequantised weights are the input within the format's rounding (and keep its zeros where it must).</summary>
    private static void CheckDecoded(string format, float[] w, float[] dense, int rows, int cols, string label)
    {
        string f = WeightFormats.Canonical(format);
        int block = f is WeightFormats.Sparse24Int8 or WeightFormats.SparseInt8 ? 64 : 32;
        for (int r = 0; r < rows; r++)
        {
            for (int b = 0; b < cols; b += block)
            {
                float amax = 0;
                for (int c = b; c < Math.Min(cols, b + block); c++) amax = Math.Max(amax, Math.Abs(w[r * cols + c]));
                for (int c = b; c < Math.Min(cols, b + block); c++)
                {
                    float v = w[r * cols + c], d = dense[r * cols + c];
                    double tol = f switch
                    {
                        WeightFormats.F32 => 0,
                        WeightFormats.F16 => Math.Abs(v) * Math.Pow(2, -11) + 6e-8,
                        WeightFormats.BF16 => Math.Abs(v) * Math.Pow(2, -8),
                        // Half a step (a full one at q4_0's clamped end), plus the f16 rounding of the scale.
                        WeightFormats.Q4_0 => amax / 8 + amax * Math.Pow(2, -10),
                        _ => amax / 127 / 2 + amax * Math.Pow(2, -10),
                    };
                    Assert.True(Math.Abs(v - d) <= tol, $"{label}: decoded [{r},{c}] = {d}, stored {v}");
                    if (v == 0 && f is WeightFormats.SparseInt8 or WeightFormats.Sparse24Int8) Assert.Equal(0f, d);
                }
            }
        }
    }

    [Fact]
    public void SparseFormatsStoreLessThanInt8()
    {
        var rng = new Random(5);
        int rows = 64, cols = 768;
        var w = Normal(rng, rows * cols, 0.02);
        var q8 = WeightFormats.Convert(TensorData.FromFloat32("w", w, rows, cols), "int8");
        var s24 = WeightFormats.Convert(TensorData.FromFloat32("w", MagnitudePruning.NM(w, rows, cols), rows, cols), "2:4-int8");
        var s50 = WeightFormats.Convert(TensorData.FromFloat32("w", MagnitudePruning.Unstructured(w, 0.5), rows, cols), "sparse-int8");
        Assert.Equal(rows * cols / 32 * 34, q8.StorageBytes);
        Assert.Equal(rows * cols / 64 * 42, s24.StorageBytes);
        Assert.InRange(s50.StorageBytes, rows * cols * 0.64, rows * cols * 0.68); // ≈ 10 + 32 bytes per 64 columns, plus row offsets
    }

    [Fact]
    public void GgufBlocksAreUsedAsStored()
    {
        var rng = new Random(11);
        var w = Normal(rng, 8 * 96, 0.1);
        var q8 = GgmlQuants.QuantizeQ8_0(w);
        var q4 = GgmlQuants.QuantizeQ4_0(w);
        var m8 = (Q8_0Matrix)WeightMatrixFactory.FromTensor(new TensorData("w", [8, 96], DType.Q8_0, q8));
        var m4 = (Q4_0Matrix)WeightMatrixFactory.FromTensor(new TensorData("w", [8, 96], DType.Q4_0, q4));
        Assert.True(m8.Blocks.SequenceEqual(q8));
        Assert.True(m4.Blocks.SequenceEqual(q4));
        // Quantising the f32 values in the Engine gives the same blocks as quantising the tensor.
        Assert.True(Q8_0Matrix.Quantize(w, 8, 96).Blocks.SequenceEqual(q8));
        Assert.True(Q4_0Matrix.Quantize(w, 8, 96).Blocks.SequenceEqual(q4));
    }

    [Fact]
    public void MagnitudePruningKeepsTheLargest()
    {
        float[] w = [1, -4, 3, 2, 0.5f, 0.1f, -0.2f, 9];
        Assert.Equal([0, -4, 3, 0, 0.5f, 0, 0, 9], MagnitudePruning.NM(w, 1, 8));
        Assert.Equal([0, -4, 3, 2, 0, 0, 0, 9], MagnitudePruning.Unstructured(w, 0.5));
    }

    internal static float[] Normal(Random rng, int n, double std)
    {
        var v = new float[n];
        for (int i = 0; i < n; i++)
            v[i] = (float)(std * Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble()));
        return v;
    }
}
