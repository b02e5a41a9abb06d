using Pare.Engine.Kernels;

namespace Pare.Engine.Tests;

/// <summary>Attention's per-head score and value accumulation against double precision, at every SIMD level.</summary>
[Collection(KernelLevelCollection.Name)]
public unsafe class HeadKernelTests
{
    [Fact]
    public void DotAndAxpyMatchDoublePrecisionForEveryHeadSize()
    {
        var saved = KernelDispatch.Level;
        try
        {
            foreach (var level in Enum.GetValues<SimdLevel>().Where(l => l <= KernelDispatch.Detected))
            {
                KernelDispatch.Level = level;
                foreach (int hd in new[] { 8, 16, 64, 128, 7, 12, 40 })
                {
                    var rng = new Random(hd * 31 + (int)level);
                    var a = Enumerable.Range(0, hd).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
                    var b = Enumerable.Range(0, hd).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
                    var y = Enumerable.Range(0, hd).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
                    float w = (float)rng.NextDouble();
                    double exact = 0, magnitude = 0;
                    for (int i = 0; i < hd; i++)
                    {
                        exact += (double)a[i] * b[i];
                        magnitude += Math.Abs((double)a[i] * b[i]);
                    }
                    var expectedY = y.Select((v, i) => v + (double)w * b[i]).ToArray();
                    float dot;
                    fixed (float* pa = a, pb = b, py = y)
                    {
                        dot = HeadKernels.Dot(pa, pb, hd);
                        HeadKernels.Axpy(w, pb, py, hd);
                    }
                    Assert.True(Math.Abs(dot - exact) <= 1e-6 * magnitude + 1e-7, $"{level} hd {hd}: dot {dot} vs {exact}");
                    for (int i = 0; i < hd; i++)
                        Assert.True(Math.Abs(y[i] - expectedY[i]) <= 2e-7 * (Math.Abs(expectedY[i]) + 1), $"{level} hd {hd}: y[{i}] {y[i]} vs {expectedY[i]}");
                }
            }
        }
        finally
        {
            KernelDispatch.Level = saved;
        }
    }
}
