using static TorchSharp.torch;

namespace Pare.Torch.Pruning;

/// <summary>
/// OWL (Yin et al. 2024) layer-wise sparsity: a layer's outlier ratio is the share of its Wanda scores |W|·‖X‖ above
/// M × the mean score over the layer's pruned linears (M = 5); ratios are rescaled into a band of width 2λ (λ = 0.08)
/// and shifted so the mean density stays 1 − target: layers with more outliers are pruned less.
/// </summary>
public static class OwlAllocation
{
    public const double DefaultM = 5;
    public const double DefaultLambda = 0.08;

    /// <summary>Share of the scores (all linears of one layer pooled) above <paramref name="m"/> × their mean.</summary>
    public static double OutlierRatio(IEnumerable<Tensor> layerScores, double m = DefaultM)
    {
        using var scope = NewDisposeScope();
        var all = cat(layerScores.Select(s => s.flatten()).ToArray());
        var mean = all.mean();
        return all.gt(mean * m).to_type(ScalarType.Float64).mean().item<double>();
    }

    /// <summary>Per-layer sparsity ratios with mean <paramref name="target"/>, as in OWL's reference code.</summary>
    public static double[] Sparsities(IReadOnlyList<double> outlierRatios, double target, double lambda = DefaultLambda)
    {
        int n = outlierRatios.Count;
        double min = outlierRatios.Min(), max = outlierRatios.Max();
        var density = new double[n];
        for (int i = 0; i < n; i++)
            density[i] = max > min ? (outlierRatios[i] - min) / (max - min) * lambda * 2 : 0;
        double mean = density.Average();
        var sparsity = new double[n];
        for (int i = 0; i < n; i++)
            sparsity[i] = Math.Clamp(1 - (density[i] - mean + (1 - target)), 0, 0.999);
        return sparsity;
    }

    /// <summary>
    /// A layer's pattern under OWL. Unstructured: the allocated ratio. N:M (not covered by OWL's code, which is
    /// unstructured; the paper's N:M study uses mixed N per layer): N_l = round(M · density_l), clamped to 1..M−1,
    /// so a 2:4 target with λ = 0.08 stays 2:4 everywhere while 4:8 becomes 3:8…5:8 by layer.
    /// </summary>
    public static SparsityPattern LayerPattern(SparsityPattern target, double layerSparsity)
    {
        if (!target.IsNm) return SparsityPattern.Unstructured(layerSparsity);
        int n = (int)Math.Round(target.M * (1 - layerSparsity), MidpointRounding.AwayFromZero);
        return SparsityPattern.Nm(Math.Clamp(n, 1, target.M - 1), target.M);
    }
}
