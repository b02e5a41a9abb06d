namespace Pare.Torch.Recovery;

/// <summary>
/// PASER (He et al. 2025, arXiv 2502.12594): post-training data selection for pruned-model recovery. (1) Cluster the
/// recovery data in the semantic space into capability groups; (2) measure each group's capability degradation (here:
/// the mean Jensen–Shannon divergence between the dense and the pruned model's next-token distributions over its
/// samples) and give each group a share of the budget ∝ size × degradation, i.e. its share of the total degradation,
/// so groups pruning hurt most get more than their size; (3) inside a group take the samples with the highest
/// degradation per token first (the paper's efficiency: degradation per unit of training cost); (4) drop conflicting or
/// irrelevant samples: ones pruning did not hurt (degradation under a tenth of their group's mean: nothing to recover)
/// and ones that sit between two groups (distance to the second-nearest centre within 3% of the nearest: mixed
/// capabilities), using them only when a group has nothing else left. Choices made here: the paper's manifold
/// learning + spectral clustering is replaced by K-means on unit-length embeddings, and its concept-consistency graph
/// by the two filters above.
/// </summary>
public static class PaserSelector
{
    public const double IrrelevantShare = 0.1;
    public const double AmbiguousRatio = 0.97;

    public static DataSelectionResult Select(IReadOnlyList<float[]> embeddings, IReadOnlyList<double> degradation, double budget, int clusters, int seed)
    {
        int n = embeddings.Count;
        if (degradation.Count != n) throw new ArgumentException("one degradation score per sample is needed");
        int count = DataSelection.BudgetCount(budget, n);
        var points = DataSelection.Normalize(embeddings);
        var km = KMeans.Fit(points, Math.Clamp(clusters, 1, n), seed);
        int k = km.Centroids.Length;
        var members = Enumerable.Range(0, k).Select(c => Enumerable.Range(0, n).Where(i => km.Labels[i] == c).ToList()).ToList();
        var cds = members.Select(m => m.Count == 0 ? 0 : m.Average(i => degradation[i])).ToList();
        var quotas = DataSelection.Quotas(members.Select((m, c) => m.Count * cds[c]).ToList(), members.Select(m => m.Count).ToList(), count);
        var chosen = new List<SelectedSample>();
        int dropped = 0;
        for (int c = 0; c < k; c++)
        {
            var rng = new Random(seed + c);
            var ranked = members[c].Select(i => (i, key: rng.NextDouble())).OrderByDescending(x => degradation[x.i]).ThenBy(x => x.key).Select(x => x.i).ToList();
            var clean = new List<int>();
            var conflicting = new List<int>();
            foreach (var i in ranked)
            {
                if (degradation[i] < IrrelevantShare * cds[c] || Ambiguous(points[i], km.Centroids, c)) conflicting.Add(i);
                else clean.Add(i);
            }
            var take = clean.Take(quotas[c]).Select(i => new SelectedSample(i, c, double.NaN, degradation[i], "most degraded in a degraded cluster")).ToList();
            int fill = Math.Min(conflicting.Count, quotas[c] - take.Count);
            foreach (var i in conflicting.Take(fill))
                take.Add(new SelectedSample(i, c, double.NaN, degradation[i], "conflicting/irrelevant, taken only to fill the cluster's quota"));
            dropped += conflicting.Count - fill;
            chosen.AddRange(take);
        }
        var summary = Enumerable.Range(0, k).Select(c => new ClusterSummary(c, members[c].Count, quotas[c], cds[c])).ToList();
        return new DataSelectionResult("paser", chosen, summary, dropped);
    }

    private static bool Ambiguous(float[] x, float[][] centroids, int own)
    {
        if (centroids.Length < 2) return false;
        double dOwn = Math.Sqrt(KMeans.Distance2(x, centroids[own]));
        double dOther = Enumerable.Range(0, centroids.Length).Where(c => c != own).Min(c => Math.Sqrt(KMeans.Distance2(x, centroids[c])));
        return dOther > 0 && dOwn / dOther > AmbiguousRatio;
    }
}
