using Pare.Core;
using static TorchSharp.torch;

namespace Pare.Torch.Pruning;

/// <summary>One layer's Block Influence on the calibration samples.</summary>
public sealed record BlockInfluence(int Layer, double Value);

/// <summary>
/// ShortGPT (Men et al. 2024): a layer's Block Influence is BI = 1 − mean over calibration tokens of
/// cos(x_in, x_out), the cosine between the hidden state entering and leaving it; the layers with the lowest BI change
/// the stream least and are removed, all chosen at once from the dense model. Runs layer by layer on the calibration
/// pipeline's activations (one layer in memory at a time).
/// </summary>
public static class ShortGpt
{
    public static IReadOnlyList<BlockInfluence> Influence(Checkpoint checkpoint, IReadOnlyList<int[]> samples, int batchSize = 8, Action<int>? onLayerDone = null)
    {
        if (samples.Count == 0) throw new ArgumentException("no calibration samples");
        using var _ = no_grad();
        using var model = new TorchLlama(checkpoint);
        using var tokens = TorchLlama.Tokens(samples);
        var x = model.Embed(tokens);
        var result = new List<BlockInfluence>();
        try
        {
            for (int l = 0; l < checkpoint.Config.Layers; l++)
            {
                using var layer = model.LoadLayer(l);
                var y = SequentialPruner.RunLayer(layer, model.Rope, x, batchSize);
                double bi;
                using (var scope = NewDisposeScope())
                {
                    var cos = nn.functional.cosine_similarity(x.to(ScalarType.Float64), y.to(ScalarType.Float64), dim: -1);
                    bi = 1 - cos.mean().item<double>();
                }
                result.Add(new BlockInfluence(l, bi));
                x.Dispose();
                x = y;
                onLayerDone?.Invoke(l + 1);
            }
        }
        finally
        {
            x.Dispose();
        }
        return result;
    }

    /// <summary>The <paramref name="count"/> layers of lowest influence (ties: the later layer first, as deeper layers are the usual redundant ones).</summary>
    public static int[] Choose(IReadOnlyList<BlockInfluence> influence, int count)
    {
        if (count < 0 || count >= influence.Count) throw new ArgumentException($"can remove 0..{influence.Count - 1} of {influence.Count} layers, asked for {count}");
        return influence.OrderBy(b => b.Value).ThenByDescending(b => b.Layer).Take(count).Select(b => b.Layer).Order().ToArray();
    }
}
