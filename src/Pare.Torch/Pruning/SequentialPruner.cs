using System.Diagnostics;
using Pare.Core;
using Pare.Core.Tensors;
using TorchSharp;
using static TorchSharp.torch;

namespace Pare.Torch.Pruning;

/// <summary>
/// The sequential calibration pipeline of SparseGPT and Wanda: embed the calibration samples once, then decoder layer
/// by decoder layer collect every linear's input statistics from the dense layer, prune, rerun the layer with the
/// pruned weights and feed its outputs to the next layer. Only one layer's weights and the calibration activations
/// (two [N, T, D] buffers) are held in torch at a time; pruned weights are returned as f32 tensors of a new checkpoint.
/// </summary>
public static class SequentialPruner
{
    /// <param name="quantized">When given, receives the codes and scales of every linear a quantising method
    /// (GPTQ, RTN, SparseGPT with a grid) produced, by tensor name; those linears are stored in the returned checkpoint
    /// as q8_0/q4_0 blocks when the grid is GGML's, as f32 values on the grid otherwise.</param>
    public static (Checkpoint Pruned, PruneReport Report) Run(Checkpoint checkpoint, IReadOnlyList<int[]> samples, PruneOptions options, Action<PruneProgress>? progress = null,
        IDictionary<string, GroupQuantizedMatrix>? quantized = null)
    {
        var sw = Stopwatch.StartNew();
        var c = checkpoint.Config;
        if (samples.Count == 0) throw new ArgumentException("no calibration samples");
        if (samples[0].Length > c.MaxSeqLen) throw new ArgumentException($"calibration windows of {samples[0].Length} tokens exceed the model's context {c.MaxSeqLen}");
        Dictionary<string, Tensor>? gradients = null;
        if (options.Pruner.NeedsGradients)
        {
            gradients = GradientNorms.Compute(checkpoint, samples, options.GradientScale, s => progress?.Invoke(new("gradients", s, samples.Count)));
        }

        using var _ = no_grad();
        using var model = new TorchLlama(checkpoint);
        using var tokens = TorchLlama.Tokens(samples);

        double[]? outliers = null;
        var patterns = Enumerable.Repeat(options.Pattern, c.Layers).ToArray();
        if (options.Owl && options.Aptc) throw new ArgumentException("choose one layer-wise allocation: OWL or APTC");
        if (options.Aptc)
        {
            // Reported in the outlier column: the layer's estimated pruning loss.
            outliers = DensePass(model, tokens, options, "aptc", progress, (layer, stats) =>
                options.Modules.Sum(k =>
                {
                    using var h = stats[k.Input()].Hessian();
                    return AptcAllocation.EstimatedLoss(layer[k], h, options.Pattern.Ratio);
                }));
            var sparsities = AptcAllocation.Sparsities(outliers, options.Pattern.Ratio, options.AptcLambda, options.AptcLevels);
            for (int l = 0; l < c.Layers; l++) patterns[l] = OwlAllocation.LayerPattern(options.Pattern, sparsities[l]);
        }
        if (options.Owl)
        {
            outliers = DensePass(model, tokens, options, "owl", progress, (layer, stats) =>
                OwlAllocation.OutlierRatio(options.Modules.Select(k => WandaScorer.Score(layer[k], stats[k.Input()])).ToList(), options.OwlM));
            var sparsities = OwlAllocation.Sparsities(outliers, options.Pattern.Ratio, options.OwlLambda);
            for (int l = 0; l < c.Layers; l++) patterns[l] = OwlAllocation.LayerPattern(options.Pattern, sparsities[l]);
        }

        var tensors = new Dictionary<string, TensorData>(checkpoint.Tensors);
        var layers = new List<LayerPruneReport>();
        var inputs = model.Embed(tokens);
        // A hook that distils toward the dense model gets the dense model's own layer outputs: a second stream of
        // activations run through the unpruned layers beside the pruned one.
        Tensor? denseInputs = options.LayerHook?.NeedsDenseTargets == true ? inputs.clone() : null;
        long pruned = 0, total = 0;
        try
        {
            for (int l = 0; l < c.Layers; l++)
            {
                using var layer = model.LoadLayer(l);
                Tensor? targets = denseInputs is null ? null : RunLayer(layer, model.Rope, denseInputs, options.BatchSize);
                try
                {
                    var pattern = patterns[l];
                    var grads = gradients;
                    int index = l;
                    var codes = new Dictionary<LinearKind, (Tensor Values, GroupQuantizedMatrix Matrix)>();
                    IReadOnlyList<LinearPruneReport> Prune() => PruneLayer(layer, model.Rope, inputs, pattern, options, grads, index, codes);
                    IReadOnlyList<LinearPruneReport> reports = Prune();
                    object? hookReport = null;
                    if (options.LayerHook is { } hook)
                    {
                        var result = hook.AfterPrune(new LayerStep(l, layer, model.Rope, inputs, targets, options.BatchSize, pattern, options.Modules, Prune));
                        hookReport = result.Report;
                        reports = result.Linears ?? reports;
                    }
                    long lz = 0, ln = 0;
                    foreach (var kind in options.Modules)
                    {
                        var w = layer[kind];
                        lz += w.eq(0).sum().item<long>();
                        ln += w.numel();
                        string name = kind.TensorName(l);
                        // Codes are used only while they still describe the layer's weights (a hook may have changed them since).
                        if (codes.TryGetValue(kind, out var q) && q.Values.eq(w).all().item<bool>())
                        {
                            tensors[name] = q.Matrix.ToTensorData(name);
                            if (quantized != null) quantized[name] = q.Matrix;
                        }
                        else
                        {
                            tensors[name] = TorchLlama.FromTensor(name, w);
                        }
                    }
                    pruned += lz;
                    total += ln;
                    foreach (var entry in codes.Values) entry.Values.Dispose();
                    layers.Add(new LayerPruneReport(l, pattern.ToString(), ln > 0 ? (double)lz / ln : 0, outliers?[l], reports) { Hook = hookReport });
                }
                finally
                {
                    if (targets is not null)
                    {
                        denseInputs!.Dispose();
                        denseInputs = targets;
                    }
                }
                var next = RunLayer(layer, model.Rope, inputs, options.BatchSize);
                inputs.Dispose();
                inputs = next;
                progress?.Invoke(new("prune", l + 1, c.Layers));
            }
        }
        finally
        {
            inputs.Dispose();
            denseInputs?.Dispose();
            if (gradients != null)
                foreach (var g in gradients.Values) g.Dispose();
        }

        var report = new PruneReport(options.LayerHook?.Name is { } hookName ? $"{hookName}({options.Pruner.Name})" : options.Pruner.Name, options.Pattern.ToString(), options.AllocationName, samples.Count, samples[0].Length,
            total > 0 ? (double)pruned / total : 0, sw.Elapsed.TotalSeconds, layers);
        return (checkpoint.With(tensors), report);
    }

    /// <summary>
    /// Collects the statistics of every linear input from the layer's current weights on <paramref name="inputs"/> and
    /// prunes the chosen linears in place (the layer's parameters take the pruned values).
    /// </summary>
    private static List<LinearPruneReport> PruneLayer(TorchDecoderLayer layer, RotaryTables rope, Tensor inputs, SparsityPattern pattern, PruneOptions options,
        Dictionary<string, Tensor>? gradients, int l, Dictionary<LinearKind, (Tensor Values, GroupQuantizedMatrix Matrix)> codes)
    {
        var stats = Collect(layer, rope, inputs, options.BatchSize);
        try
        {
            var reports = new List<LinearPruneReport>();
            foreach (var kind in options.Modules)
            {
                using var scope = NewDisposeScope();
                var dense = layer[kind];
                var st = stats[kind.Input()];
                var grad = gradients?[kind.TensorName(l)];
                var compressed = options.Pruner.Compress(dense, st, pattern, grad);
                var result = compressed.Weight.MoveToOuterDisposeScope();
                if (codes.Remove(kind, out var old)) old.Values.Dispose();
                if (compressed.Quantized is { } matrix) codes[kind] = (result.clone().MoveToOuterDisposeScope(), matrix);
                double err = st.ReconstructionError(dense, result);
                double energy = st.OutputEnergy(dense);
                long zeros = result.eq(0).sum().item<long>();
                reports.Add(new LinearPruneReport(kind.TensorName(l), kind.ShortName(), result.shape[0], result.shape[1], pattern.ToString(),
                    (double)zeros / result.numel(), err, energy > 0 ? err / energy : 0));
                layer[kind] = result;
            }
            return reports;
        }
        finally
        {
            foreach (var s in stats.Values) s.Dispose();
        }
    }

    /// <summary>
    /// Statistics of each linear input of <paramref name="layer"/> over all calibration samples; when
    /// <paramref name="outputs"/> ([N, T, D]) is given, the same pass also stores the layer's outputs there.
    /// </summary>
    public static Dictionary<LinearInput, LinearStatistics> Collect(TorchDecoderLayer layer, RotaryTables rope, Tensor inputs, int batchSize, Tensor? outputs = null)
    {
        var c = layer.Config;
        var stats = new Dictionary<LinearInput, LinearStatistics>
        {
            [LinearInput.Attention] = new(c.Dim),
            [LinearInput.AttentionOutput] = new(c.Dim),
            [LinearInput.Mlp] = new(c.Dim),
            [LinearInput.MlpHidden] = new(c.HiddenDim),
        };
        long n = inputs.shape[0];
        for (long b = 0; b < n; b += batchSize)
        {
            using var scope = NewDisposeScope();
            long k = Math.Min(batchSize, n - b);
            var y = layer.Forward(inputs.narrow(0, b, k), rope, (input, x) => stats[input].Add(x));
            outputs?.narrow(0, b, k).copy_(y);
        }
        return stats;
    }

    /// <summary>The layer's outputs for all calibration samples, [N, T, D].</summary>
    public static Tensor RunLayer(TorchDecoderLayer layer, RotaryTables rope, Tensor inputs, int batchSize)
    {
        var outputs = empty_like(inputs);
        long n = inputs.shape[0];
        for (long b = 0; b < n; b += batchSize)
        {
            using var scope = NewDisposeScope();
            long k = Math.Min(batchSize, n - b);
            outputs.narrow(0, b, k).copy_(layer.Forward(inputs.narrow(0, b, k), rope));
        }
        return outputs;
    }

    /// <summary>
    /// A first pass over the dense model (layers fed dense outputs) that scores each layer from its weights and input
    /// statistics: OWL's outlier ratios, APTC's estimated pruning losses.
    /// </summary>
    private static double[] DensePass(TorchLlama model, Tensor tokens, PruneOptions options, string stage, Action<PruneProgress>? progress,
        Func<TorchDecoderLayer, Dictionary<LinearInput, LinearStatistics>, double> score)
    {
        var c = model.Config;
        var values = new double[c.Layers];
        var inputs = model.Embed(tokens);
        try
        {
            for (int l = 0; l < c.Layers; l++)
            {
                using var layer = model.LoadLayer(l);
                // The layer stays dense in this pass, so the statistics pass also yields the next layer's inputs.
                var next = empty_like(inputs);
                var stats = Collect(layer, model.Rope, inputs, options.BatchSize, next);
                using (var scope = NewDisposeScope())
                {
                    values[l] = score(layer, stats);
                }
                foreach (var s in stats.Values) s.Dispose();
                inputs.Dispose();
                inputs = next;
                progress?.Invoke(new(stage, l + 1, c.Layers));
            }
        }
        finally
        {
            inputs.Dispose();
        }
        return values;
    }
}
