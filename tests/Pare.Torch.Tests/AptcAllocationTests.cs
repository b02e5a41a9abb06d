using Pare.Torch.Pruning;
using static Pare.Torch.Tests.DoubleMatrix;
using static TorchSharp.torch;

namespace Pare.Torch.Tests;

/// <summary>APTC's layer-wise allocation: the OBS loss estimate against a direct double-precision computation, and the log-level clustering's properties.</summary>
[Collection(TorchCollection.Name)]
public class AptcAllocationTests
{
    [Fact]
    public void EstimatedLossIsTheSumOfTheSmallestObsSaliencies()
    {
        var rng = new Random(3);
        int rows = 6, cols = 8;
        var w = new double[rows * cols];
        for (int i = 0; i < w.Length; i++) w[i] = rng.NextDouble() * 2 - 1;
        // H = A Aᵀ + I (positive definite), with column 2 dead.
        var a = new double[cols, cols];
        for (int i = 0; i < cols; i++) for (int j = 0; j < cols; j++) a[i, j] = i == 2 || j == 2 ? 0 : rng.NextDouble();
        var h = new double[cols, cols];
        for (int i = 0; i < cols; i++) for (int j = 0; j < cols; j++)
        {
            double s = 0;
            for (int k = 0; k < cols; k++) s += a[i, k] * a[j, k];
            h[i, j] = s + (i == j && i != 2 ? 1 : 0);
        }
        // Reference: dead diagonal → 1, damping 1% of the mean diagonal, explicit inverse by Gauss–Jordan.
        var hd = (double[,])h.Clone();
        hd[2, 2] = 1;
        double mean = Enumerable.Range(0, cols).Average(i => hd[i, i]);
        for (int i = 0; i < cols; i++) hd[i, i] += 0.01 * mean;
        var inv = Invert(hd);
        var saliency = new List<double>();
        for (int r = 0; r < rows; r++) for (int c = 0; c < cols; c++) saliency.Add((c == 2 ? 0 : w[r * cols + c] * w[r * cols + c]) / (2 * inv[c, c]));
        double expected = saliency.Order().Take((int)(rows * cols * 0.7)).Sum();

        using var wt = tensor(w.Select(v => (float)v).ToArray(), new long[] { rows, cols });
        using var ht = tensor(Flatten(h).ToArray(), new long[] { cols, cols }, dtype: TorchSharp.torch.ScalarType.Float64);
        double got = AptcAllocation.EstimatedLoss(wt, ht, 0.7);
        Assert.Equal(expected, got, 1e-6 * Math.Max(1, expected));
    }

    [Fact]
    public void HigherLossLayersArePrunedLessAndTheMeanIsKept()
    {
        double[] losses = [1e2, 1e4, 3e2, 1e6, 1e3];
        var s = AptcAllocation.Sparsities(losses, 0.7);
        Assert.Equal(0.7, s.Average(), 1e-12);
        // Log-loss levels: 0, 2, 0 (log 300 is closer to bin 0: (2.48 − 2)/4·4 = 0.48), 4, 1 → offsets +λ, 0, +λ, −λ, +λ/2.
        double[] offsets = [0.08, 0, 0.08, -0.08, 0.04];
        double m = offsets.Average();
        for (int i = 0; i < losses.Length; i++) Assert.Equal(0.7 + offsets[i] - m, s[i], 1e-12);
        Assert.True(s[3] < s[1] && s[1] < s[0]);
        Assert.All(AptcAllocation.Sparsities([5, 5, 5], 0.6), v => Assert.Equal(0.6, v, 1e-12));
    }
}
