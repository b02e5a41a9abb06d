using Pare.Torch.Pruning;
using static TorchSharp.torch;

namespace Pare.Torch.Tests;

/// <summary>Calibration statistics against sums written out here in double precision.</summary>
[Collection(TorchCollection.Name)]
public class LinearStatisticsTests
{
    [Fact]
    public void NormsGramAndErrorMatchDirectSums()
    {
        var rng = new Random(2);
        int batches = 3, seqs = 2, t = 5, cols = 6, rows = 4;
        var all = new List<double[]>();
        using var stats = new LinearStatistics(cols);
        for (int b = 0; b < batches; b++)
        {
            var x = Enumerable.Range(0, seqs * t * cols).Select(i => (float)(rng.NextDouble() * 4 - 2) * (1 + i % cols)).ToArray();
            for (int k = 0; k < seqs * t; k++) all.Add(x.Skip(k * cols).Take(cols).Select(v => (double)v).ToArray());
            using var xt = tensor(x, new long[] { seqs, t, cols });
            stats.Add(xt);
        }
        Assert.Equal(batches * seqs, stats.Samples);
        Assert.Equal(batches * seqs * t, stats.Tokens);

        var scale = stats.WandaScale().data<float>().ToArray();
        var gram = stats.Gram!.data<float>().ToArray();
        for (int i = 0; i < cols; i++)
        {
            double norm = all.Sum(x => x[i] * x[i]);
            Assert.Equal(norm / (batches * seqs), scale[i], 3);
            for (int j = 0; j < cols; j++)
                Assert.Equal(all.Sum(x => x[i] * x[j]), gram[i * cols + j], 2);
        }

        var w = Enumerable.Range(0, rows * cols).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray();
        var wp = w.Select((v, i) => i % 3 == 0 ? 0f : v).ToArray();
        using var wt = tensor(w, new long[] { rows, cols });
        using var wpt = tensor(wp, new long[] { rows, cols });
        double expected = 0;
        foreach (var x in all)
            for (int r = 0; r < rows; r++)
            {
                double y = 0;
                for (int c = 0; c < cols; c++) y += (w[r * cols + c] - wp[r * cols + c]) * x[c];
                expected += y * y;
            }
        Assert.Equal(expected, stats.ReconstructionError(wt, wpt), expected * 1e-5);
    }
}
