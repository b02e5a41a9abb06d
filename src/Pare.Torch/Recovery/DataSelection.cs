namespace Pare.Torch.Recovery;

/// <summary>One chosen sample and why: its cluster (−1 = DBSCAN noise, or none), local density, degradation or need, and the rule that picked it.</summary>
public sealed record SelectedSample(int Index, int Cluster, double Density, double Score, string Reason);

/// <summary>A cluster as a selector saw it: members, the samples it was given, its mean score (degradation or need).</summary>
public sealed record ClusterSummary(int Id, int Size, int Quota, double MeanScore);

/// <summary>What a selector returns: the chosen samples in the order chosen, the clusters, and samples it dropped as conflicting.</summary>
public sealed record DataSelectionResult(string Method, IReadOnlyList<SelectedSample> Chosen, IReadOnlyList<ClusterSummary> Clusters, int Dropped = 0)
{
    public int[] Indices => Chosen.Select(c => c.Index).ToArray();
}

/// <summary>The shared rules of every selection: the budget as a share of the data, met exactly, and quota rounding.</summary>
public static class DataSelection
{
    /// <summary>round(budget · n), at least 1; a budget outside (0, 1] is refused.</summary>
    public static int BudgetCount(double budget, int n)
    {
        if (!(budget > 0 && budget <= 1)) throw new ArgumentException($"--budget must be in (0, 1], got {budget}");
        if (n < 1) throw new ArgumentException("no samples to select from");
        return Math.Clamp((int)Math.Round(budget * n, MidpointRounding.AwayFromZero), 1, n);
    }

    /// <summary>All samples, in order.</summary>
    public static DataSelectionResult All(int n)
        => new("all", Enumerable.Range(0, n).Select(i => new SelectedSample(i, -1, double.NaN, double.NaN, "all")).ToList(), Array.Empty<ClusterSummary>());

    /// <summary>A uniform random subset of exactly BudgetCount samples (Fisher–Yates with a seeded generator).</summary>
    public static DataSelectionResult Random(int n, double budget, int seed)
    {
        int count = BudgetCount(budget, n);
        var order = Enumerable.Range(0, n).ToArray();
        var rng = new System.Random(seed);
        for (int i = n - 1; i > 0; i--)
        {
            int j = rng.Next(i + 1);
            (order[i], order[j]) = (order[j], order[i]);
        }
        return new("random", order.Take(count).Select(i => new SelectedSample(i, -1, double.NaN, double.NaN, "uniform")).ToList(), Array.Empty<ClusterSummary>());
    }

    /// <summary>
    /// Splits <paramref name="total"/> across groups in proportion to <paramref name="weights"/>, each capped at its
    /// capacity, by largest remainders (ties to the lower index), re-spreading what a capped group cannot take; the
    /// quotas sum to min(total, Σ capacity) exactly.
    /// </summary>
    public static int[] Quotas(IReadOnlyList<double> weights, IReadOnlyList<int> capacity, int total)
    {
        int g = weights.Count;
        var quota = new int[g];
        int left = Math.Min(total, capacity.Sum());
        var open = Enumerable.Range(0, g).Where(i => capacity[i] > 0).ToList();
        while (left > 0 && open.Count > 0)
        {
            double wsum = open.Sum(i => Math.Max(0, weights[i]));
            var share = open.ToDictionary(i => i, i => wsum > 0 ? left * Math.Max(0, weights[i]) / wsum : (double)left / open.Count);
            int given = 0;
            var add = new Dictionary<int, int>();
            foreach (var i in open)
            {
                int a = Math.Min((int)Math.Floor(share[i]), capacity[i] - quota[i]);
                add[i] = a;
                given += a;
            }
            foreach (var i in open.OrderByDescending(i => share[i] - Math.Floor(share[i])).ThenBy(i => i))
            {
                if (given >= left) break;
                if (quota[i] + add[i] < capacity[i]) { add[i]++; given++; }
            }
            foreach (var (i, a) in add) quota[i] += a;
            left -= given;
            open = open.Where(i => quota[i] < capacity[i]).ToList();
            if (given == 0) break;
        }
        // A last pass for the rare case where rounding gave nobody anything: fill the open groups in order.
        for (int i = 0; left > 0 && i < g; i++)
        {
            int a = Math.Min(left, capacity[i] - quota[i]);
            quota[i] += a;
            left -= a;
        }
        return quota;
    }

    /// <summary>Scales vectors to unit length (zero vectors stay zero), so Euclidean distances order pairs as cosine similarity does.</summary>
    public static float[][] Normalize(IReadOnlyList<float[]> vectors)
        => vectors.Select(v =>
        {
            double norm = Math.Sqrt(v.Sum(x => (double)x * x));
            return norm > 0 ? v.Select(x => (float)(x / norm)).ToArray() : (float[])v.Clone();
        }).ToArray();
}
