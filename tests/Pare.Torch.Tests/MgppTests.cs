using Pare.Core;
using Pare.Torch.Pruning;
using Pare.Torch.Training;
using static TorchSharp.torch;

namespace Pare.Torch.Tests;

[Collection(TorchCollection.Name)]
public class MgppTests
{
    private static MgppOptions Options(double sparsity, bool prior) => new()
    {
        Sparsity = sparsity,
        Steps = 24,
        PruneStartStep = 2,
        PruneEndStep = 17,
        PruneEvery = 5,
        LearningRate = 1e-3,
        Prior = prior ? new MixturePrior { DataSize = TestModels.CalibrationStream.Length } : null,
    };

    [Theory]
    [InlineData(0.8, true)]
    [InlineData(0.9, true)]
    [InlineData(0.8, false)]
    public void ScheduleReachesTheTargetSparsityExactly(double sparsity, bool prior)
    {
        using var model = new TorchLlama(TestModels.Stories260K);
        var o = Options(sparsity, prior);
        var report = Mgpp.Run(model, new TokenBatches(TestModels.CalibrationStream, 32, 2, 0), o);
        var trained = model.ToCheckpoint();
        long zeros = 0, total = 0;
        for (int l = 0; l < trained.Config.Layers; l++)
            foreach (var kind in LinearKinds.All)
            {
                var v = trained[kind.TensorName(l)].ToFloat32();
                zeros += v.Count(x => x == 0);
                total += v.Length;
            }
        // ⌊N·s⌋ weights pruned by the final mask, and the fixed-mask phase kept every one of them at exactly zero.
        Assert.Equal((long)Math.Floor(total * sparsity), zeros);
        Assert.Equal(24, report.Losses.Count);
        // The cubic schedule s_f·(1 − (1 − u)³), recomputed here, at steps 7, 12 and t_f = 17.
        Assert.Equal(new[] { 7, 12, 17 }, report.Schedule.Select(s => s.Step));
        foreach (var s in report.Schedule)
        {
            double u = (s.Step - 2) / 15.0;
            Assert.Equal(sparsity * (1 - Math.Pow(1 - u, 3)), s.Target, 12);
        }
        Assert.True(report.Schedule.Zip(report.Schedule.Skip(1)).All(p => p.Second.Sparsity > p.First.Sparsity));
        Assert.Equal(sparsity, report.Schedule[^1].Sparsity, 3);
        // Embeddings are never pruned.
        Assert.True(trained[LlamaTensorNames.Embedding].ToFloat32().Count(x => x == 0) < 10);
    }

    [Fact]
    public void PriorNegativeLogMatchesTheMixtureDensityInDoublePrecision()
    {
        var prior = new MixturePrior { SpikeVariance = 1e-4, SlabVariance = 0.05, SlabWeight = 0.01, DataSize = 1 };
        double[] ws = { 0, 1e-3, -0.01, 0.03, 0.2, -0.7 };
        static double Normal(double w, double v) => Math.Exp(-w * w / (2 * v)) / Math.Sqrt(2 * Math.PI * v);
        double Density(double w) => prior.SlabWeight * Normal(w, prior.SlabVariance) + (1 - prior.SlabWeight) * Normal(w, prior.SpikeVariance);
        foreach (var w in ws)
        {
            using var t = tensor(new[] { (float)w });
            double expected = -Math.Log(Density(w)) + Math.Log(Density(0));
            Assert.Equal(expected, prior.NegativeLog(t).item<float>(), 3);
        }
        // At the threshold the two weighted components are equal.
        double c = prior.Threshold;
        Assert.Equal(prior.SlabWeight * Normal(c, prior.SlabVariance), (1 - prior.SlabWeight) * Normal(c, prior.SpikeVariance), 6);
    }

    [Fact]
    public void BadSettingsAreRefused()
    {
        Assert.Throws<ArgumentException>(() => Options(0, true).Validate());
        Assert.Throws<ArgumentException>(() => Options(1, true).Validate());
        Assert.Throws<ArgumentException>(() => (Options(0.5, true) with { Steps = 0 }).Validate());
        Assert.Throws<ArgumentException>(() => (Options(0.5, true) with { PruneEndStep = 30 }).Validate());
        Assert.Throws<ArgumentException>(() => new MixturePrior { SpikeVariance = 0.1, SlabVariance = 0.05, DataSize = 1 }.Validate());
    }
}
