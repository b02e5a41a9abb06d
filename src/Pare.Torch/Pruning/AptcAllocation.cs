using TorchSharp;
using static TorchSharp.torch;

namespace Pare.Torch.Pruning;

/// <summary>
/// Aggressive Post-Training Compression's layer-wise sparsity (Zhang et al.): each layer's pruning loss at the target
/// sparsity is estimated from the inverse Hessians of its linears, all computed from the dense model's activations
/// (the paper's "sequentially pruning all" assumption lets them be precomputed in one pass), and the layers are
/// clustered by the logarithm of that estimate into levels; a layer in a higher-loss level is pruned less, a lower one
/// more, with the mean sparsity kept at the target.
/// The paper's full text was not available to this implementation, only its method summary; the concrete choices
/// are Pare's and are stated here: the estimate is the OBS loss Σ w²/(2[H⁻¹]_jj) of the ⌊p·n⌋ weights of smallest
/// saliency in each linear (damping 1% of mean diag H, as SparseGPT), summed over the layer's linears; the clusters
/// are <see cref="DefaultLevels"/> equal-width bins of log-loss between the smallest and largest layer; level k of
/// K gets the offset λ·(1 − 2k/(K − 1)) (λ = 0.08, OWL's band, so the two allocations move sparsity by the same
/// amount), re-centred so the mean stays at the target.
/// </summary>
public static class AptcAllocation
{
    public const int DefaultLevels = 5;
    public const double DefaultLambda = 0.08;

    /// <summary>The OBS loss of pruning the ⌊p·n⌋ lowest-saliency weights of <paramref name="weight"/> given its Hessian.</summary>
    public static double EstimatedLoss(Tensor weight, Tensor hessian, double sparsity, double dampening = 0.01)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var h = hessian.to_type(ScalarType.Float64).clone();
        var diag = h.diagonal();
        var dead = diag.eq(0);
        diag.masked_fill_(dead, 1);
        diag.add_(dampening * diag.mean().item<double>());
        var hinvDiag = cholesky_inverse(linalg.cholesky(h)).diagonal();
        var w = weight.to_type(ScalarType.Float64).masked_fill(dead.unsqueeze(0), 0);
        var saliency = (w.square() / (2 * hinvDiag.unsqueeze(0))).flatten();
        long k = (long)(saliency.shape[0] * sparsity);
        if (k == 0) return 0;
        return saliency.sort().Values.narrow(0, 0, k).sum().item<double>();
    }

    /// <summary>Per-layer sparsities with mean <paramref name="target"/> from the layers' estimated losses.</summary>
    public static double[] Sparsities(IReadOnlyList<double> losses, double target, double lambda = DefaultLambda, int levels = DefaultLevels)
    {
        if (levels < 2) throw new ArgumentException($"APTC needs at least 2 levels, got {levels}");
        int n = losses.Count;
        var logs = losses.Select(e => Math.Log(Math.Max(e, 1e-30))).ToArray();
        double min = logs.Min(), max = logs.Max();
        var offset = new double[n];
        for (int i = 0; i < n; i++)
        {
            int level = max > min ? (int)Math.Round((logs[i] - min) / (max - min) * (levels - 1), MidpointRounding.AwayFromZero) : (levels - 1) / 2;
            offset[i] = lambda * (1 - 2.0 * level / (levels - 1));
        }
        double mean = offset.Average();
        return offset.Select(o => Math.Clamp(target + o - mean, 0, 0.999)).ToArray();
    }
}
