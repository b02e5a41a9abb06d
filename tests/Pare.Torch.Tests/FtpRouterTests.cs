using Pare.Core;
using Pare.Engine;
using Pare.Torch.Routing;
using static TorchSharp.torch;

namespace Pare.Torch.Tests;

/// <summary>FTP: the genetic scheduler's constraint, the routers file, and a short end-to-end training run.</summary>
[Collection(TorchCollection.Name)]
public class FtpRouterTests
{
    private static readonly int[] Prompt = [1, 403, 407, 261, 378, 300, 268, 426, 297, 288, 379, 344];

    [Theory]
    [InlineData(0.1)]
    [InlineData(0.2)]
    [InlineData(0.3)]
    [InlineData(0.4)]
    [InlineData(0.7)]
    public void SchedulerMeetsTheGlobalTargetExactly(double target)
    {
        var routable = new[] { false, true, true, true, true };
        // A loss that prefers sparsity on the last blocks, so the search moves away from uniform.
        double Loss(double[] s) => s.Select((v, i) => v * v * (5 - i)).Sum();
        var (best, loss, history) = SparsityScheduler.Search(routable, target, Loss, new SchedulerOptions { Population = 8, Generations = 6, Seed = 3 });
        Assert.Equal(target * 5, best.Sum(), 14);
        Assert.Equal(0, best[0]);
        Assert.All(best, v => Assert.InRange(v, 0, 0.9));
        Assert.True(history[^1] <= history[0]);
        Assert.True(best[4] >= best[1], $"schedule {string.Join(", ", best)}");
        // Repair of arbitrary genomes lands on the constraint too.
        var rng = new Random(1);
        for (int i = 0; i < 100; i++)
        {
            var g = Enumerable.Range(0, 5).Select(_ => rng.NextDouble() * 2 - 0.5).ToArray();
            var r = SparsityScheduler.Repair(g, routable, target, 0.9);
            Assert.Equal(target * 5, r.Sum(), 14);
            Assert.All(r, v => Assert.InRange(v, 0, 0.9 + 1e-12));
        }
    }

    [Fact]
    public void SchedulerRefusesAnUnreachableOrInvalidTarget()
    {
        var routable = new[] { false, true };
        Assert.Contains("cannot be met", Assert.Throws<ArgumentException>(() => SparsityScheduler.Search(routable, 0.5, _ => 0, new SchedulerOptions())).Message);
        Assert.Contains("[0, 1)", Assert.Throws<ArgumentException>(() => SparsityScheduler.Search(routable, 1.0, _ => 0, new SchedulerOptions())).Message);
    }

    [Fact]
    public void CausalRankCountsEarlierTokensWithASmallerFactor()
    {
        var a = new float[] { 0.5f, 0.2f, 0.9f, 0.1f, 0.3f };
        using var rank = FtpRouter.CausalRank(tensor(a).unsqueeze(0));
        var r = rank.squeeze(0).data<float>().ToArray();
        // Written out: position p counts j < p with a[j] < a[p], over p.
        Assert.Equal(new[] { 0.5f, 0f, 1f, 0f, 2f / 4 }, r);
    }

    private static FtpRouters Constant(Checkpoint ckpt, float bias, params int[] routed)
    {
        var c = ckpt.Config;
        var w1 = new float[]?[c.Layers];
        var b1 = new float[]?[c.Layers];
        var w2 = new float[]?[c.Layers];
        var b2 = new float[c.Layers];
        var schedule = new double[c.Layers];
        foreach (int l in routed)
        {
            w1[l] = new float[64 * 4];
            b1[l] = new float[64];
            w2[l] = new float[64];
            b2[l] = bias;
            schedule[l] = 0.5;
        }
        return new FtpRouters(c, schedule, w1, b1, w2, b2, FtpRouters.FingerprintOf(ckpt), schedule.Average());
    }

    private static float[] Logits(LlamaWeights w, ITokenRouter? router)
    {
        using var model = new Transformer(w) { Router = router };
        var logits = new float[Prompt.Length * w.Config.VocabSize];
        model.Forward(Prompt, model.NewCache(), logits);
        return logits;
    }

    [Fact]
    public void RoutersThatPassEveryTokenEqualDenseAndThoseThatPassNoneEqualRemovedBlocks()
    {
        var ckpt = TestModels.Stories260K;
        var w = LlamaWeights.FromCheckpoint(ckpt);
        Assert.Equal(Logits(w, null), Logits(w, Constant(ckpt, +1, 1, 2, 3, 4)));
        var removed = LlamaWeights.FromCheckpoint(BlockRemoval.RemoveLayers(ckpt, [2, 4]));
        Assert.Equal(Logits(removed, null), Logits(w, Constant(ckpt, -1, 2, 4)));
    }

    [Fact]
    public void RoutersFileRoundTripsAndRefusesAnotherModel()
    {
        var ckpt = TestModels.Stories260K;
        using var dir = new Pare.TestSupport.TempDir();
        var routers = Constant(ckpt, 0.25f, 3);
        routers.Save(dir.File("r.safetensors"));
        var back = FtpRouters.Load(dir.File("r.safetensors"), ckpt);
        Assert.Equal(routers.Schedule, back.Schedule);
        Assert.Equal(routers.B2, back.B2);
        Assert.False(back.HasRouter(1));
        Assert.True(back.HasRouter(3));
        var other = Pare.Core.Formats.ModelLoader.Load(Pare.TestSupport.Shared.PathOf("models", "synthetic-tiny", "synthetic-tiny.bin"));
        var e = Assert.Throws<ArgumentException>(() => FtpRouters.Load(dir.File("r.safetensors"), other));
        Assert.Contains("trained for another model", e.Message);
    }

    [Fact]
    public void ShortTrainingMeetsTheScheduleOnCalibrationTokens()
    {
        var ckpt = TestModels.Stories260K;
        var o = new FtpOptions
        {
            TokenSparsity = 0.2,
            Steps = 6,
            Batch = 2,
            SequenceLength = 32,
            FitnessWindows = 4,
            Scheduler = new SchedulerOptions { Population = 3, Generations = 2 },
        };
        var r = FtpRouter.Train(ckpt, TestModels.CalibrationStream, o);
        Assert.Equal(0.2 * 5, r.Schedule.Sum(), 14);
        Assert.Equal(0, r.Schedule[0]);
        // After the bias calibration each block skips its share of the calibration tokens (128 per block; one token of slack).
        for (int l = 1; l < 5; l++) Assert.True(Math.Abs(r.RealisedSparsity[l] - r.Schedule[l]) <= 1.5 / 128, $"block {l}: {r.RealisedSparsity[l]} vs {r.Schedule[l]}");
        Assert.Equal(6, r.Training.Losses.Count);
        Assert.All(r.Training.Losses, v => Assert.True(double.IsFinite(v)));
    }
}
