using Pare.Torch.Pruning;
using TorchSharp;
using static Pare.Torch.Tests.DoubleMatrix;
using static TorchSharp.torch;

namespace Pare.Torch.Tests;

/// <summary>
/// SparseGPT (blocked, Cholesky, lazy batch updates, f32) against a plain Optimal Brain Surgeon loop written here
/// in double precision: explicit H⁻¹ of the remaining columns, full-width update after every column, then the
/// column eliminated from H⁻¹ (H⁻¹ ← H⁻¹ − H⁻¹[:, j] H⁻¹[j, :] / H⁻¹[j, j]). Masks follow the same rules
/// (per block of B columns for unstructured, every M columns for N:M), scored by w² / H⁻¹[j, j] at elimination.
/// </summary>
[Collection(TorchCollection.Name)]
public class SparseGptObsCrossCheckTests
{
    [Theory]
    [InlineData("0.5", 8)]
    [InlineData("0.3", 16)]
    [InlineData("2:4", 8)]
    [InlineData("3:8", 16)]
    public void MatchesDenseObsUpdates(string patternText, int block)
    {
        var pattern = SparsityPattern.Parse(patternText);
        var rng = new Random(11);
        int rows = 10, cols = 32, tokens = 96;
        var w = new double[rows, cols];
        for (int r = 0; r < rows; r++) for (int c = 0; c < cols; c++) w[r, c] = rng.NextDouble() * 2 - 1;
        var x = new double[tokens, cols];
        for (int t = 0; t < tokens; t++) for (int c = 0; c < cols; c++) x[t, c] = c == 5 ? 0 : Gaussian(rng) * (1 + c % 3); // column 5 is dead

        var h = new double[cols, cols];
        for (int i = 0; i < cols; i++) for (int j = 0; j < cols; j++)
        {
            double s = 0;
            for (int t = 0; t < tokens; t++) s += x[t, i] * x[t, j];
            h[i, j] = 2 * s / tokens;
        }

        var expected = DenseObs(w, h, pattern, block);

        using var wt = tensor(Flatten(w).Select(v => (float)v).ToArray(), new long[] { rows, cols });
        using var ht = tensor(Flatten(h).Select(v => (float)v).ToArray(), new long[] { cols, cols });
        using var got = new SparseGpt(blockSize: block).Prune(wt, ht, pattern);
        var g = got.data<float>().ToArray();
        double worst = 0;
        for (int r = 0; r < rows; r++) for (int c = 0; c < cols; c++) worst = Math.Max(worst, Math.Abs(g[r * cols + c] - expected[r, c]));
        Assert.True(worst < 1e-4, $"max |Δ| = {worst}");
        // The masks agree exactly.
        for (int r = 0; r < rows; r++) for (int c = 0; c < cols; c++) Assert.Equal(expected[r, c] == 0, g[r * cols + c] == 0);
    }

    private static double[,] DenseObs(double[,] w0, double[,] h0, SparsityPattern pattern, int block)
    {
        int rows = w0.GetLength(0), cols = w0.GetLength(1);
        var w = (double[,])w0.Clone();
        var h = (double[,])h0.Clone();
        for (int j = 0; j < cols; j++)
        {
            if (h[j, j] == 0)
            {
                h[j, j] = 1;
                for (int r = 0; r < rows; r++) w[r, j] = 0;
            }
        }
        double damp = 0;
        for (int j = 0; j < cols; j++) damp += h[j, j];
        damp = 0.01 * damp / cols;
        for (int j = 0; j < cols; j++) h[j, j] += damp;
        var hinv = Invert(h);

        // H⁻¹[j, j] at the moment column j is eliminated (depends only on H, not on the weights).
        var elimDiag = new double[cols];
        var probe = (double[,])hinv.Clone();
        for (int j = 0; j < cols; j++)
        {
            elimDiag[j] = probe[j, j];
            Eliminate(probe, j);
        }

        var mask = new bool[rows, cols];
        for (int j = 0; j < cols; j++)
        {
            if (!pattern.IsNm && j % block == 0)
            {
                int width = Math.Min(block, cols - j);
                var scores = new List<(double S, int R, int C)>();
                for (int r = 0; r < rows; r++)
                    for (int c = j; c < j + width; c++)
                        scores.Add((w[r, c] * w[r, c] / elimDiag[c], r, c));
                int k = (int)(scores.Count * pattern.Ratio);
                foreach (var s in scores.OrderBy(s => s.S).Take(k)) mask[s.R, s.C] = true;
            }
            if (pattern.IsNm && j % pattern.M == 0)
            {
                for (int r = 0; r < rows; r++)
                {
                    var group = Enumerable.Range(j, Math.Min(pattern.M, cols - j)).OrderBy(c => w[r, c] * w[r, c] / elimDiag[c]).ToArray();
                    foreach (var c in group.Take(Math.Max(0, group.Length - pattern.N))) mask[r, c] = true;
                }
            }
            double d = hinv[j, j];
            for (int r = 0; r < rows; r++)
            {
                double q = mask[r, j] ? 0 : w[r, j];
                double err = (w[r, j] - q) / d;
                for (int c = j; c < cols; c++) w[r, c] -= err * hinv[j, c];
                w[r, j] = q;
            }
            Eliminate(hinv, j);
        }
        return w;
    }
}
