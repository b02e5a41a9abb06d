using Pare.Core;
using Pare.Core.Sparsity;
using Pare.Torch.Pruning;
using static TorchSharp.torch;

namespace Pare.Torch.Tests;

[Collection(TorchCollection.Name)]
public class SdsTests
{
    private static (Checkpoint, PruneReport) Prune(string pattern, Sds? sds, int samples = 8)
    {
        var windows = CalibrationSamples.Draw(TestModels.CalibrationStream, samples, 64, seed: 0);
        return SequentialPruner.Run(TestModels.Stories260K, windows, new PruneOptions { Pruner = new SparseGpt(), Pattern = SparsityPattern.Parse(pattern), LayerHook = sds });
    }

    [Fact]
    public void RedenseReconstructsAndTheSecondPruningKeepsEveryTwoOfFourGroupValid()
    {
        var (pruned, report) = Prune("2:4", new Sds(new SdsOptions { Steps = 40, BatchSize = 4, Lambda = 0 }));
        Assert.Equal("sds(sparsegpt)", report.Method);
        var c = pruned.Config;
        for (int l = 0; l < c.Layers; l++)
        {
            var h = Assert.IsType<SdsLayerReport>(report.Layers[l].Hook);
            Assert.True(h.RedenseMse < h.FirstPruneMse, $"layer {l}: re-dense error {h.RedenseMse} ≥ first-prune error {h.FirstPruneMse}");
            Assert.True(h.FinalLoss < h.FirstLoss, $"layer {l}: re-dense loss did not fall ({h.FirstLoss} → {h.FinalLoss})");
            foreach (var kind in LinearKinds.All)
            {
                var t = pruned[kind.TensorName(l)];
                var v = t.ToFloat32();
                // Count by hand: each full group of four input columns of a row holds at most two non-zeros.
                for (int r = 0; r < t.Rows; r++)
                    for (int g = 0; g + 4 <= t.Columns; g += 4)
                    {
                        int nz = 0;
                        for (int j = 0; j < 4; j++) if (v[r * t.Columns + g + j] != 0) nz++;
                        Assert.True(nz <= 2, $"{t.Name} row {r} group {g / 4}: {nz} non-zeros");
                    }
                Assert.Equal(0.5, v.Count(x => x == 0) / (double)v.Length, 2);
            }
        }
    }

    /// <summary>
    /// SDS's claim on this model, measured independently of its own losses: the next-token cross-entropy (double precision,
    /// on windows not used for calibration) of the SDS model is below the one-shot SparseGPT model's at 2:4.
    /// </summary>
    [Fact]
    public void SdsLowersHeldOutCrossEntropyBelowOneShotSparseGpt()
    {
        var (oneShot, _) = Prune("2:4", null, samples: 16);
        var (sds, _) = Prune("2:4", new Sds(new SdsOptions { Steps = 60, BatchSize = 4 }), samples: 16);
        var heldOut = TestModels.CalibrationStream.Skip(TestModels.CalibrationStream.Length - 4 * 128).Chunk(128).ToList();
        double ceOneShot = CrossEntropy(oneShot, heldOut), ceSds = CrossEntropy(sds, heldOut);
        Assert.True(ceSds < ceOneShot, $"SDS CE {ceSds:F4} ≥ SparseGPT CE {ceOneShot:F4}");
    }

    private static double CrossEntropy(Checkpoint ck, IReadOnlyList<int[]> rows)
    {
        var engine = new Pare.Engine.Transformer(Pare.Engine.LlamaWeights.FromCheckpoint(ck));
        int v = ck.Config.VocabSize;
        double sum = 0;
        int count = 0;
        foreach (var row in rows)
        {
            var logits = new float[row.Length * v];
            engine.Forward(row, engine.NewCache(), logits);
            for (int t = 0; t + 1 < row.Length; t++)
            {
                double max = double.NegativeInfinity;
                for (int j = 0; j < v; j++) max = Math.Max(max, logits[t * v + j]);
                double z = 0;
                for (int j = 0; j < v; j++) z += Math.Exp(logits[t * v + j] - max);
                sum += max + Math.Log(z) - logits[t * v + row[t + 1]];
                count++;
            }
        }
        return sum / count;
    }
}
