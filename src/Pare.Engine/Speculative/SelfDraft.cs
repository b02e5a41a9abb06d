using Pare.Core.Sparsity;
using Pare.Core.Tensors;
using Pare.Engine.Weights;

namespace Pare.Engine.Speculative;

/// <summary>
/// Draft models made from the target's own weights. They reuse the target's embedding and norms; early exit copies
/// nothing. The compressed copies convert every matrix (from any <see cref="IWeightMatrix"/>, via f32) into the
/// Engine's compressed formats; a checkpoint already converted with `pare convert` or pruned with `pare prune` can
/// be passed as a separate draft model instead.
/// </summary>
public static class SelfDraft
{
    /// <summary>Early exit: the first <paramref name="layers"/> decoder layers, then the final norm and classifier.</summary>
    public static LlamaWeights EarlyExit(LlamaWeights target, int layers)
    {
        if (layers < 1 || layers > target.Config.Layers)
            throw new ArgumentException($"early exit needs 1..{target.Config.Layers} layers, got {layers}", nameof(layers));
        return new LlamaWeights
        {
            Config = target.Config with { Layers = layers },
            Embedding = target.Embedding,
            Layers = target.Layers[..layers],
            FinalNorm = target.FinalNorm,
            Classifier = target.Classifier,
        };
    }

    /// <summary>Every linear, classifier included, in <paramref name="format"/> (int8 = q8_0, int4 = q4_0, f16, ...).</summary>
    public static LlamaWeights Quantized(LlamaWeights target, string format) =>
        Map(target, m => Convert(m.ToDense(), m, format), m => Convert(m.ToDense(), m, format));

    /// <summary>
    /// Magnitude 2:4 pruning (per row, the 2 largest |w| of every 4 consecutive inputs) of every decoder linear, run by
    /// the 2:4-int8 sparse kernel — the compressed format pruned weights are served in; the classifier is q8_0.
    /// </summary>
    public static LlamaWeights Pruned24(LlamaWeights target) =>
        Map(target,
            m => Convert(MagnitudePruning.NM(m.ToDense(), m.Rows, m.Cols, 2, 4), m, WeightFormats.Sparse24Int8),
            m => Convert(m.ToDense(), m, WeightFormats.Q8_0));

    private static IWeightMatrix Convert(float[] dense, IWeightMatrix like, string format) =>
        WeightFormats.Convert(TensorData.FromFloat32("self-draft", dense, like.Rows, like.Cols), format);

    private static LlamaWeights Map(LlamaWeights t, Func<IWeightMatrix, IWeightMatrix> linear, Func<IWeightMatrix, IWeightMatrix> classifier) => new()
    {
        Config = t.Config,
        Embedding = t.Embedding,
        Layers = t.Layers.Select(l => new LayerWeights
        {
            AttentionNorm = l.AttentionNorm,
            Query = linear(l.Query),
            Key = linear(l.Key),
            Value = linear(l.Value),
            Output = linear(l.Output),
            FfnNorm = l.FfnNorm,
            Gate = linear(l.Gate),
            Up = linear(l.Up),
            Down = linear(l.Down),
        }).ToArray(),
        FinalNorm = t.FinalNorm,
        Classifier = classifier(t.Classifier),
    };
}
