using Pare.Torch.Pruning;
using Pare.Torch.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Pare.Torch.Tests;

[Collection(TorchCollection.Name)]
public class LoraTests
{
    private static readonly int[] Ids = TestModels.CalibrationStream.Take(64).ToArray();

    /// <summary>Gives every B random values (B starts at zero, which would make any merge test pass trivially).</summary>
    private static void RandomizeB(Lora lora, double std)
    {
        using var _ = no_grad();
        random.manual_seed(7);
        foreach (var a in lora.Adapters) a.B.copy_(randn(a.B.shape) * std);
    }

    private static float[] Logits(TorchLlama model)
    {
        using var _ = no_grad();
        using var tokens = TorchLlama.Tokens(new[] { Ids });
        using var logits = model.Forward(tokens);
        return logits.data<float>().ToArray();
    }

    /// <summary>|Δ| bound for whole-model logits: 1e-5 of the logits' range (float32 sums of the merged and the split products differ in rounding).</summary>
    private static float Tolerance(float[] logits) => 1e-5f * Math.Max(1f, logits.Max(Math.Abs));

    private static float MaxAbsDiff(float[] a, float[] b)
    {
        float worst = 0;
        for (int i = 0; i < a.Length; i++) worst = Math.Max(worst, Math.Abs(a[i] - b[i]));
        return worst;
    }

    [Fact]
    public void FreshAdaptersLeaveTheModelUnchanged()
    {
        using var model = new TorchLlama(TestModels.Stories260K);
        var before = Logits(model);
        using var lora = Lora.Attach(model, new LoraOptions { Rank = 4 }, keepSparsity: false);
        Assert.Equal(0f, MaxAbsDiff(before, Logits(model)));
    }

    [Fact]
    public void MergeEqualsTheUnmergedForwardAndTheDoublePrecisionUpdate()
    {
        using var model = new TorchLlama(TestModels.Stories260K);
        var w0 = model.Layers[1][LinearKind.Gate].data<float>().ToArray();
        using var lora = Lora.Attach(model, new LoraOptions { Rank = 4, Alpha = 8, Dropout = 0.1 }, keepSparsity: false);
        RandomizeB(lora, 0.05);
        var adapter = lora.Adapters.Single(a => a.Name == Pare.Core.LlamaTensorNames.Gate(1));
        var a = adapter.A.data<float>().ToArray();
        var b = adapter.B.data<float>().ToArray();
        long rows = adapter.B.shape[0], cols = adapter.A.shape[1];

        // One linear on a real input: the adapter's output against the merged weight's, within 1e-5.
        float[] linearAdapter, linearMerged;
        using (no_grad())
        using (var tokens = TorchLlama.Tokens(new[] { Ids }))
        using (var x = TorchLlama.RmsNorm(model.Embed(tokens), model.Layers[1].FfnNorm, model.Config.NormEps))
        {
            using var y = adapter.Forward(x, model.Layers[1].Linear(LinearKind.Gate));
            linearAdapter = y.data<float>().ToArray();
            using var w1 = model.Layers[1][LinearKind.Gate] + adapter.Delta();
            using var y1 = nn.functional.linear(x, w1);
            linearMerged = y1.data<float>().ToArray();
        }
        float worstLinear = MaxAbsDiff(linearAdapter, linearMerged);
        Assert.True(worstLinear <= 1e-5f, $"max |Δ| of one linear's output, merged vs unmerged = {worstLinear}");

        var unmerged = Logits(model);
        lora.Merge();
        var merged = Logits(model);
        float worst = MaxAbsDiff(unmerged, merged);
        Assert.True(worst <= Tolerance(unmerged), $"max |Δ logits| merged vs unmerged = {worst} (max |logit| {unmerged.Max(Math.Abs)})");

        // Independent reference for one merged weight: W0 + (α/r)·B·A summed in double precision.
        var w = model.Layers[1][LinearKind.Gate].data<float>().ToArray();
        double worstW = 0;
        for (long i = 0; i < rows; i++)
            for (long j = 0; j < cols; j++)
            {
                double d = 0;
                for (int k = 0; k < 4; k++) d += (double)b[i * 4 + k] * a[k * cols + j];
                worstW = Math.Max(worstW, Math.Abs(w[i * cols + j] - (w0[i * cols + j] + 2.0 * d)));
            }
        Assert.True(worstW < 1e-6, $"merged weight vs double-precision W0 + sBA: {worstW}");
    }

    [Fact]
    public void MaskedMergeKeepsEveryPrunedWeightExactlyZero()
    {
        using var model = new TorchLlama(TestModels.Stories260K);
        using (no_grad())
            foreach (var layer in model.Layers)
                foreach (var kind in LinearKinds.All)
                {
                    using var prune = PruneMask.Nm(layer[kind].abs(), 2, 4);
                    layer.Linear(kind).masked_fill_(prune, 0);
                }
        var zerosBefore = model.Layers.SelectMany(l => LinearKinds.All.Select(k => (l, k))).ToDictionary(x => x, x => x.l[x.k].data<float>().ToArray().Select(v => v == 0).ToArray());
        using var lora = Lora.Attach(model, new LoraOptions { Rank = 4 }, keepSparsity: true);
        RandomizeB(lora, 0.05);
        var unmerged = Logits(model);
        lora.Merge();
        float worst = MaxAbsDiff(unmerged, Logits(model));
        Assert.True(worst <= Tolerance(unmerged), $"max |Δ logits| masked merge vs unmerged = {worst}");
        foreach (var ((layer, kind), wasZero) in zerosBefore)
        {
            var w = layer[kind].data<float>().ToArray();
            for (int i = 0; i < w.Length; i++)
                if (wasZero[i]) Assert.True(w[i] == 0 && !float.IsNegative(w[i]), $"layer {layer.Index} {kind}: pruned weight {i} is {w[i]} after the merge");
            // The adapter did change the kept weights (the test is not vacuous).
            Assert.Contains(w.Where((v, i) => !wasZero[i]), v => v != 0);
        }
    }

    [Fact]
    public void UnmaskedMergeOnAPrunedModelUndoesThePruning()
    {
        // The failure the masked merge exists to prevent: a dense BA fills the pruned positions.
        using var model = new TorchLlama(TestModels.Stories260K);
        using (no_grad())
        using (var prune = PruneMask.Nm(model.Layers[0][LinearKind.Up].abs(), 2, 4))
            model.Layers[0].Linear(LinearKind.Up).masked_fill_(prune, 0);
        using var lora = Lora.Attach(model, new LoraOptions { Rank = 4, Targets = new[] { LinearKind.Up } }, keepSparsity: false);
        RandomizeB(lora, 0.05);
        lora.Merge();
        var w = model.Layers[0][LinearKind.Up].data<float>().ToArray();
        Assert.True(w.Count(v => v == 0) < w.Length / 100, "a dense update should leave almost no zeros");
    }

    [Fact]
    public void TrainingTheAdaptersLowersTheLossAndLeavesTheBaseFrozen()
    {
        using var model = new TorchLlama(TestModels.Stories260K);
        var wq = model.Layers[0][LinearKind.Query].data<float>().ToArray();
        using var lora = Lora.Attach(model, new LoraOptions { Rank = 4, Dropout = 0.05 }, keepSparsity: false);
        var data = new TokenBatches(TestModels.CalibrationStream, 64, 4, 0);
        lora.SetTraining(true);
        var result = Trainer.Run(lora.Parameters, new TrainOptions { Steps = 30, LearningRate = 5e-3 }, step =>
        {
            var tokens = TorchLlama.Tokens(data.At(step % 2));
            return new StepLoss(Losses.NextTokenCrossEntropy(model.Forward(tokens), tokens), data.TokensPerStep);
        });
        lora.SetTraining(false);
        Assert.True(result.Losses[^1] < result.Losses[0] - 0.05, $"loss {result.Losses[0]} → {result.Losses[^1]}");
        Assert.Equal(wq, model.Layers[0][LinearKind.Query].data<float>().ToArray());
        Assert.All(model.NamedTensors(), t => Assert.False(t.Parameter.requires_grad));
    }

    [Fact]
    public void AdaptersForAnotherModelOrRankAreRefusedWithOneClearError()
    {
        using var model = new TorchLlama(TestModels.Stories260K);
        using var lora = Lora.Attach(model, new LoraOptions { Rank = 4, Targets = new[] { LinearKind.Query } }, keepSparsity: false);
        var wrongRank = lora.Parameters.ToDictionary(p => p.Name, p => zeros(p.Parameter.shape[0] == 4 ? 8 : p.Parameter.shape[0], p.Parameter.shape[0] == 4 ? p.Parameter.shape[1] : 8));
        var e = Assert.Throws<ArgumentException>(() => lora.Load(wrongRank, "experts/0"));
        Assert.Contains("another model or rank", e.Message);
        var missing = new Dictionary<string, Tensor>();
        e = Assert.Throws<ArgumentException>(() => lora.Load(missing, "experts/0"));
        Assert.Contains("another model", e.Message);
        foreach (var t in wrongRank.Values) t.Dispose();
    }
}
