using TorchSharp;
using static TorchSharp.torch;

namespace Pare.Torch.Pruning;

/// <summary>
/// GBLM-Pruner's gradient statistic: for every decoder linear, G = sqrt(Σ_samples (α·∂L/∂W)²), one backward pass of
/// the dense model's mean next-token cross-entropy per calibration sample (batch size 1, as in their code), α = 100.
/// </summary>
public static class GradientNorms
{
    public const double DefaultScale = 100;

    /// <summary>G per tensor name (all layers' linears). Builds its own gradient-enabled copy of the model.</summary>
    public static Dictionary<string, Tensor> Compute(Pare.Core.Checkpoint checkpoint, IReadOnlyList<int[]> samples, double scale = DefaultScale, Action<int>? onSample = null)
    {
        using var model = new TorchLlama(checkpoint, requiresGrad: true);
        var sums = new Dictionary<string, Tensor>();
        foreach (var layer in model.Layers)
            foreach (var kind in LinearKinds.All)
                sums[kind.TensorName(layer.Index)] = zeros_like(layer[kind]).requires_grad_(false);

        for (int s = 0; s < samples.Count; s++)
        {
            using (var scope = NewDisposeScope())
            {
                var tokens = TorchLlama.Tokens(new[] { samples[s] });
                var logits = model.Forward(tokens);
                long t = tokens.shape[1];
                var loss = nn.functional.cross_entropy(logits[0].narrow(0, 0, t - 1), tokens[0].narrow(0, 1, t - 1));
                loss.backward();
                using (no_grad())
                {
                    foreach (var layer in model.Layers)
                    {
                        foreach (var kind in LinearKinds.All)
                        {
                            var w = layer[kind];
                            var g = w.grad ?? throw new InvalidOperationException($"no gradient for {kind.TensorName(layer.Index)}");
                            sums[kind.TensorName(layer.Index)].add_((g * scale).square());
                            g.zero_();
                        }
                    }
                }
            }
            onSample?.Invoke(s + 1);
        }
        foreach (var key in sums.Keys.ToList())
        {
            var root = sums[key].sqrt();
            sums[key].Dispose();
            sums[key] = root;
        }
        return sums;
    }
}
