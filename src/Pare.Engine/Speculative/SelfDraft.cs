using Pare.Engine.Weights;

namespace Pare.Engine.Speculative;

/// <summary>
/// Draft models made from the target's own weights. They reuse the target's embedding and norms and share memory
/// where they can (early exit copies nothing). The quantized and pruned copies here are small stand-ins built on
/// the fly from any <see cref="IWeightMatrix"/> (decoded to f32 first); a converted checkpoint in a compressed
/// format (int8/int4/2:4 from `pare convert`/`pare prune`) can be passed as a separate draft model instead.
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

    /// <summary>Every linear (classifier included) rounded to nearest on a symmetric per-row grid of <paramref name="bits"/> bits.</summary>
    public static LlamaWeights RoundToNearest(LlamaWeights target, int bits) =>
        Map(target, m => RoundedIntMatrix.Quantize(m.ToDense(), m.Rows, m.Cols, bits));

    /// <summary>Magnitude N:M pruning (per row, keep the N largest |w| of each M consecutive inputs) of every decoder linear.</summary>
    public static LlamaWeights MagnitudeNm(LlamaWeights target, int n, int m)
    {
        if (n < 1 || n >= m) throw new ArgumentException($"N:M pruning needs 1 ≤ N < M, got {n}:{m}");
        return Map(target, w =>
        {
            var d = w.ToDense();
            Span<int> order = stackalloc int[m];
            Span<float> mag = stackalloc float[m];
            for (int r = 0; r < w.Rows; r++)
            {
                for (int g = 0; g + m <= w.Cols; g += m)
                {
                    var group = d.AsSpan(r * w.Cols + g, m);
                    for (int i = 0; i < m; i++) { order[i] = i; mag[i] = -MathF.Abs(group[i]); }
                    mag.Sort(order);
                    for (int i = n; i < m; i++) group[order[i]] = 0f;
                }
            }
            return new DenseF32Matrix(d, w.Rows, w.Cols);
        }, classifier: false);
    }

    private static LlamaWeights Map(LlamaWeights t, Func<IWeightMatrix, IWeightMatrix> f, bool classifier = true) => new()
    {
        Config = t.Config,
        Embedding = t.Embedding,
        Layers = t.Layers.Select(l => new LayerWeights
        {
            AttentionNorm = l.AttentionNorm,
            Query = f(l.Query),
            Key = f(l.Key),
            Value = f(l.Value),
            Output = f(l.Output),
            FfnNorm = l.FfnNorm,
            Gate = f(l.Gate),
            Up = f(l.Up),
            Down = f(l.Down),
        }).ToArray(),
        FinalNorm = t.FinalNorm,
        Classifier = classifier ? f(t.Classifier) : t.Classifier,
    };
}
