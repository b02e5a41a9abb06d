namespace Pare.Torch.Recovery;

/// <summary>
/// ASSL's adaptive data selection (Zhou et al. 2024, SilverSight, arXiv 2404.04949 §adaptive data selection): a two-stage
/// redistribution in the semantic space. Stage 1, A-DBSCAN: density clustering of the sentence embeddings with an eps
/// taken from the data (<see cref="Dbscan.AdaptiveEps"/>), which finds the dense heads and the sparse long tail of the
/// distribution (noise points are the tail, kept as one group). Stage 2, the sampling objective: each group's share of
/// the budget ∝ √size × need, where √size flattens the long tail (a group 100× larger gets 10× the samples, not 100×)
/// and need is the model's own mean loss on the group relative to the mean over all (the paper's "model's own needs");
/// inside a group the samples the model finds hardest come first. Choices made here where the paper leaves them open:
/// the eps rule, √ as the smoothing, the pruned model's NLL as the need signal, noise as one tail group.
/// </summary>
public static class AsslSelector
{
    public const int MinPoints = 4;

    public static DataSelectionResult Select(IReadOnlyList<float[]> embeddings, IReadOnlyList<double> loss, double budget, int seed)
    {
        int n = embeddings.Count;
        if (loss.Count != n) throw new ArgumentException("one loss per sample is needed");
        int count = DataSelection.BudgetCount(budget, n);
        var points = DataSelection.Normalize(embeddings);
        double eps = Dbscan.AdaptiveEps(points, Math.Min(MinPoints - 1, n - 1));
        var labels = Dbscan.Fit(points, eps, MinPoints);
        var density = LocalDensity(points, eps);
        // Groups: every DBSCAN cluster, and the noise as one tail group (id −1), in a fixed order.
        var groups = labels.Distinct().OrderBy(l => l).ToList();
        var members = groups.Select(g => Enumerable.Range(0, n).Where(i => labels[i] == g).ToList()).ToList();
        double meanLoss = loss.Average();
        var need = members.Select(m => m.Average(i => loss[i]) / Math.Max(1e-12, meanLoss)).ToList();
        var weights = members.Select((m, gi) => Math.Sqrt(m.Count) * need[gi]).ToList();
        var quotas = DataSelection.Quotas(weights, members.Select(m => m.Count).ToList(), count);
        var chosen = new List<SelectedSample>();
        for (int gi = 0; gi < groups.Count; gi++)
        {
            // Hardest first; equal losses fall back to a seeded order so ties do not follow file order.
            var rng = new Random(seed + gi);
            var order = members[gi].Select(i => (i, key: rng.NextDouble())).OrderByDescending(x => loss[x.i]).ThenBy(x => x.key).Select(x => x.i);
            foreach (var i in order.Take(quotas[gi]))
                chosen.Add(new SelectedSample(i, groups[gi], density[i], loss[i], groups[gi] == Dbscan.Noise ? "long-tail (noise) group, highest model loss" : "density cluster, highest model loss"));
        }
        var clusters = groups.Select((g, gi) => new ClusterSummary(g, members[gi].Count, quotas[gi], members[gi].Average(i => loss[i]))).ToList();
        return new DataSelectionResult("assl", chosen, clusters);
    }

    /// <summary>Neighbours within eps (itself excluded): the density DBSCAN saw around each point.</summary>
    private static double[] LocalDensity(float[][] points, double eps)
    {
        double eps2 = eps * eps;
        var d = new double[points.Length];
        for (int i = 0; i < points.Length; i++)
            for (int j = 0; j < points.Length; j++)
                if (i != j && KMeans.Distance2(points[i], points[j]) <= eps2) d[i]++;
        return d;
    }
}
