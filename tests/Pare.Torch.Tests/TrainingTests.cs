using Pare.Engine;
using Pare.Torch.Pruning;
using Pare.Torch.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Pare.Torch.Tests;

[Collection(TorchCollection.Name)]
public class TrainingTests
{
    private static TokenBatches Batches(int seed = 0) => new(TestModels.CalibrationStream, 64, 4, seed);

    private static StepLoss LmLoss(TorchLlama model, TokenBatches data, int step)
    {
        var tokens = TorchLlama.Tokens(data.At(step));
        return new StepLoss(Losses.NextTokenCrossEntropy(model.Forward(tokens), tokens), data.TokensPerStep);
    }

    [Fact]
    public void MaskedModelLogitsEqualEngineOnTheWrittenCheckpoint()
    {
        using var model = new TorchLlama(TestModels.Stories260K);
        using var masks = new WeightMasks();
        foreach (var layer in model.Layers)
            foreach (var kind in LinearKinds.All)
            {
                using var prune = PruneMask.Nm(layer[kind].abs(), 2, 4);
                using var keep = prune.logical_not();
                masks.Set(layer.Linear(kind), keep);
            }
        var ids = TestModels.CalibrationStream.Take(48).ToArray();
        float[] torchLogits;
        using (no_grad())
        using (var tokens = TorchLlama.Tokens(new[] { ids }))
        using (var logits = model.Forward(tokens))
            torchLogits = logits.data<float>().ToArray();

        var pruned = model.ToCheckpoint();
        var q = pruned[Pare.Core.LlamaTensorNames.Query(0)].ToFloat32();
        Assert.Equal(0.5, q.Count(v => v == 0) / (double)q.Length, 2);
        var engine = new Pare.Engine.Transformer(LlamaWeights.FromCheckpoint(pruned));
        var engineLogits = new float[ids.Length * pruned.Config.VocabSize];
        engine.Forward(ids, engine.NewCache(), engineLogits);
        float worst = 0;
        for (int i = 0; i < engineLogits.Length; i++) worst = Math.Max(worst, Math.Abs(engineLogits[i] - torchLogits[i]));
        Assert.True(worst < 1e-4f, $"max |Δ| Torch vs Engine on the masked checkpoint = {worst}");
    }

    [Fact]
    public void FirstLossIsTheEnginesCrossEntropyAndTrainingLowersIt()
    {
        using var model = new TorchLlama(TestModels.Stories260K);
        var data = Batches();
        // An independent reference for step 1's loss: the Engine's logits and a double-precision log-softmax.
        double reference = 0;
        int count = 0;
        var engine = new Pare.Engine.Transformer(LlamaWeights.FromCheckpoint(TestModels.Stories260K));
        int v = model.Config.VocabSize;
        foreach (var row in data.At(0))
        {
            var logits = new float[row.Length * v];
            engine.Forward(row, engine.NewCache(), logits);
            for (int t = 0; t + 1 < row.Length; t++)
            {
                var span = logits.AsSpan(t * v, v);
                double max = double.NegativeInfinity;
                foreach (var x in span) max = Math.Max(max, x);
                double sum = 0;
                foreach (var x in span) sum += Math.Exp(x - max);
                reference += max + Math.Log(sum) - span[row[t + 1]];
                count++;
            }
        }
        reference /= count;

        var result = Trainer.Run(TrainableSelection.All.Apply(model), new TrainOptions { Steps = 30, LearningRate = 2e-3, WarmupSteps = 3 },
            step => LmLoss(model, new TokenBatches(TestModels.CalibrationStream, 64, 4, 0), 0));
        Assert.Equal(reference, result.Losses[0], 4);
        Assert.True(result.FinalLoss < result.FirstLoss - 0.1, $"loss {result.FirstLoss} → {result.FinalLoss} on a repeated batch");
    }

    [Fact]
    public void MaskedWeightsStayExactlyZeroThroughOptimiserSteps()
    {
        using var model = new TorchLlama(TestModels.Stories260K);
        var layer = model.Layers[1];
        var w = layer.Linear(LinearKind.Gate);
        using var before = w.detach().clone();
        using var keep = rand(w.shape, generator: new torch.Generator(3)).gt(0.5);
        using var masks = new WeightMasks();
        masks.Set(w, keep);
        var data = Batches();
        Trainer.Run(TrainableSelection.Parse("layer=1").Apply(model), new TrainOptions { Steps = 12, LearningRate = 1e-2, WeightDecay = 0.1 },
            step => LmLoss(model, data, step), masks);
        using var pruned = keep.logical_not();
        Assert.Equal(0, w.masked_select(pruned).abs().max().item<float>());
        // The kept weights did train (the check above is not vacuous).
        Assert.True((w - before).masked_select(keep).abs().max().item<float>() > 1e-4);
    }

    [Fact]
    public void SameSeedSameWeightsAndAnInterruptedRunResumesExactly()
    {
        float[] Train(int seed, string? state, int? failAt = null)
        {
            using var model = new TorchLlama(TestModels.Stories260K);
            var data = Batches(seed);
            var options = new TrainOptions { Steps = 8, LearningRate = 3e-3, WarmupSteps = 2, Seed = seed, StatePath = state, StateEvery = 2 };
            var parameters = TrainableSelection.Parse("layer=0,norms").Apply(model);
            Trainer.Run(parameters, options, step => step == failAt ? throw new OperationCanceledException("interrupted") : LmLoss(model, data, step));
            return model.Layers[0][LinearKind.Query].data<float>().ToArray();
        }

        var a = Train(0, null);
        Assert.Equal(a, Train(0, null));
        Assert.NotEqual(a, Train(1, null));

        var dir = Path.Combine(Path.GetTempPath(), $"pare-train-{Guid.NewGuid():N}");
        try
        {
            Assert.Throws<OperationCanceledException>(() => Train(0, dir, failAt: 5));
            Assert.Equal(a, Train(0, dir));
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void BadSettingsAreRefused()
    {
        Assert.Throws<ArgumentException>(() => new TrainOptions { Steps = 0, LearningRate = 1e-3 }.Validate());
        Assert.Throws<ArgumentException>(() => new TrainOptions { Steps = 5, LearningRate = -1 }.Validate());
        Assert.Throws<ArgumentException>(() => new TokenBatches(new int[10], 64, 1, 0));
        Assert.Throws<ArgumentException>(() => TrainableSelection.Parse("layer=x"));
        using var model = new TorchLlama(TestModels.Stories260K);
        Assert.Throws<ArgumentException>(() => TrainableSelection.Parse("model.nothing.weight").Apply(model));
    }

    [Fact]
    public void ScheduleWarmsUpThenDecaysToItsFloor()
    {
        var o = new TrainOptions { Steps = 12, LearningRate = 1.0, WarmupSteps = 1, MinLearningRateRatio = 0.1 };
        Assert.Equal(1.0, LearningRateSchedule.At(0, o), 12);
        Assert.Equal(1.0, LearningRateSchedule.At(1, o), 12);
        Assert.Equal(0.55, LearningRateSchedule.At(6, o), 12); // halfway: cos(π/2) = 0
        Assert.Equal(0.1, LearningRateSchedule.At(11, o), 12);
    }
}
