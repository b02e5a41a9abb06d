using Pare.Torch.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Pare.Torch.Pruning;

/// <summary>
/// SDS, Sparse-Dense-Sparse (Li et al., COLING 2025, arXiv 2408.10473), run inside the sequential calibration pipeline
/// as a per-layer hook after the base one-shot pruner (SparseGPT or Wanda) has pruned the layer:
/// <list type="number">
/// <item>Sparse: the pipeline's one-shot pruning (mask M₁).</item>
/// <item>Dense: every pruned connection is reactivated (starting from zero) and the layer's seven linears are optimised
/// by layer-wise knowledge distillation toward the original dense layer's outputs on the calibration data, with a
/// sparse regulariser on the reactivated weights so the re-dense weights keep a distribution the next pruning hurts
/// little.</item>
/// <item>Sparse: the same one-shot method prunes the re-dense layer again (statistics collected afresh), then an
/// optional masked reconstruction adjusts the kept weights.</item>
/// </list>
/// The paper publishes no code; choices made here (also in docs/pruning.md): the distillation target is the dense
/// model's output of this layer on the dense model's own activations (so the reconstruction also corrects the error
/// the earlier pruned layers pass on), inputs are the pruned stream's; the loss is the MSE relative to the target's
/// mean energy (scale-free, so one λ serves every layer); the regulariser is λ times the mean |w| over M₁'s pruned
/// positions (L1, the sparsity-inducing norm); AdamW without weight decay, warm-up over a tenth of the steps, cosine
/// decay; minibatches of calibration sequences drawn from (seed, step).
/// </summary>
public sealed class Sds : ILayerHook
{
    private readonly SdsOptions _o;

    public Sds(SdsOptions options)
    {
        options.Validate();
        _o = options;
    }

    public SdsOptions Settings => _o;
    public string Name => "sds";
    public bool NeedsDenseTargets => true;

    public LayerHookResult AfterPrune(LayerStep step)
    {
        var layer = step.Module;
        var targets = step.DenseTargets ?? throw new InvalidOperationException("SDS needs the dense layer's outputs");
        var named = step.Modules.Select(k => (k.TensorName(step.Layer), layer.Linear(k))).ToList();
        var reactivated = step.Modules.Select(k => layer[k].eq(0).to(ScalarType.Float32)).ToList();
        double energy = targets.square().mean().item<float>();
        if (!(energy > 0)) energy = 1;
        long n = step.Inputs.shape[0];
        int batch = (int)Math.Min(_o.BatchSize, n);
        double firstMse = MeanMse(step, targets, energy);
        try
        {
            StepLoss Reconstruction(int s, bool regularise)
            {
                var rng = new Random(unchecked((int)Trainer.StepSeed(_o.Seed + step.Layer, s)));
                var idx = tensor(Enumerable.Range(0, batch).Select(_ => (long)rng.Next((int)n)).ToArray());
                var x = step.Inputs.index_select(0, idx);
                var y = targets.index_select(0, idx);
                var mse = Losses.Mse(layer.Forward(x, step.Rope), y) / energy;
                var parts = new Dictionary<string, Tensor> { ["mse"] = mse };
                var loss = mse;
                if (regularise && _o.Lambda > 0)
                {
                    var l1 = stack(named.Select((p, i) => Losses.L1(p.Item2, reactivated[i])).ToArray()).mean();
                    parts["l1"] = l1;
                    loss = mse + _o.Lambda * l1;
                }
                return new StepLoss(loss, batch * x.shape[1], parts);
            }

            var dense = Trainer.Run(named, Options(_o.Steps), s => Reconstruction(s, regularise: true));
            double redenseMse = MeanMse(step, targets, energy);
            var linears = step.Prune();
            double secondMse = MeanMse(step, targets, energy);
            TrainResult? adjust = null;
            if (_o.AdjustSteps > 0)
            {
                using var masks = new WeightMasks();
                foreach (var (_, p) in named) masks.SetFromZeros(p);
                adjust = Trainer.Run(named, Options(_o.AdjustSteps), s => Reconstruction(s, regularise: false), masks);
            }
            double finalMse = adjust is null ? secondMse : MeanMse(step, targets, energy);
            return new LayerHookResult(new SdsLayerReport(firstMse, _o.Steps, dense.FirstLoss, dense.FinalLoss, redenseMse, secondMse, _o.AdjustSteps, finalMse), linears);
        }
        finally
        {
            foreach (var r in reactivated) r.Dispose();
        }
    }

    private TrainOptions Options(int steps) => new()
    {
        Steps = steps,
        LearningRate = _o.LearningRate,
        WarmupSteps = Math.Max(1, steps / 10),
        Decay = LearningRateDecay.Cosine,
        ClipNorm = 1.0,
        Seed = _o.Seed,
    };

    /// <summary>Relative MSE of the layer's current outputs against the dense targets over all calibration samples.</summary>
    private static double MeanMse(LayerStep step, Tensor targets, double energy)
    {
        using var _ = no_grad();
        using var outputs = SequentialPruner.RunLayer(step.Module, step.Rope, step.Inputs, step.BatchSize);
        using var d = (outputs - targets).square().mean();
        return d.item<float>() / energy;
    }
}

/// <summary>SDS's settings (defaults chosen on stories260K; see docs/pruning.md).</summary>
public sealed record SdsOptions
{
    /// <summary>Re-dense optimiser steps per layer.</summary>
    public int Steps { get; init; } = 200;
    public double LearningRate { get; init; } = 1e-3;
    /// <summary>Weight of the L1 regulariser on the reactivated weights.</summary>
    public double Lambda { get; init; } = 0.1;
    /// <summary>Masked reconstruction steps after the second pruning (0 = none, the paper's plain second pruning).</summary>
    public int AdjustSteps { get; init; }
    /// <summary>Calibration sequences per optimiser step.</summary>
    public int BatchSize { get; init; } = 8;
    public int Seed { get; init; }

    public void Validate()
    {
        if (Steps < 1) throw new ArgumentException($"--sds-steps must be at least 1, got {Steps}");
        if (!(LearningRate > 0)) throw new ArgumentException($"--sds-lr must be positive, got {LearningRate}");
        if (!(Lambda >= 0) || double.IsInfinity(Lambda)) throw new ArgumentException($"--sds-lambda must be ≥ 0, got {Lambda}");
        if (AdjustSteps < 0) throw new ArgumentException($"--sds-adjust-steps must be ≥ 0, got {AdjustSteps}");
        if (BatchSize < 1) throw new ArgumentException($"--sds-batch must be at least 1, got {BatchSize}");
    }
}

/// <summary>
/// One layer's SDS record: the layer's relative output error against the dense layer after the first pruning, the
/// re-dense loss at the first and last steps, and the relative output error after re-densing, after the second pruning
/// and after the adjustment.
/// </summary>
public sealed record SdsLayerReport(double FirstPruneMse, int Steps, double FirstLoss, double FinalLoss, double RedenseMse, double SecondPruneMse, int AdjustSteps, double FinalMse);
