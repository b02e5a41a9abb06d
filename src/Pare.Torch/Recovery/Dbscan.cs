namespace Pare.Torch.Recovery;

/// <summary>
/// DBSCAN (Ester et al. 1996) with Euclidean distance: a point with at least <c>minPoints</c> points (itself included)
/// within <c>eps</c> is a core point; clusters are the core points connected through such neighbourhoods plus the
/// border points they reach; the rest is noise (label −1). Clusters are numbered in the order their first core point
/// appears, so the result is deterministic.
/// </summary>
public static class Dbscan
{
    public const int Noise = -1;

    public static int[] Fit(IReadOnlyList<float[]> points, double eps, int minPoints)
    {
        if (!(eps > 0)) throw new ArgumentException($"DBSCAN eps must be positive, got {eps}");
        if (minPoints < 1) throw new ArgumentException($"DBSCAN minPoints must be at least 1, got {minPoints}");
        int n = points.Count;
        double eps2 = eps * eps;
        var neighbours = new List<int>[n];
        for (int i = 0; i < n; i++) neighbours[i] = new List<int>();
        for (int i = 0; i < n; i++)
            for (int j = i; j < n; j++)
                if (KMeans.Distance2(points[i], points[j]) <= eps2)
                {
                    neighbours[i].Add(j);
                    if (j != i) neighbours[j].Add(i);
                }
        var labels = new int[n];
        Array.Fill(labels, int.MinValue);
        int cluster = 0;
        for (int i = 0; i < n; i++)
        {
            if (labels[i] != int.MinValue) continue;
            if (neighbours[i].Count < minPoints) { labels[i] = Noise; continue; }
            labels[i] = cluster;
            var queue = new Queue<int>(neighbours[i]);
            while (queue.Count > 0)
            {
                int j = queue.Dequeue();
                if (labels[j] == Noise) labels[j] = cluster; // a border point
                if (labels[j] != int.MinValue) continue;
                labels[j] = cluster;
                if (neighbours[j].Count >= minPoints)
                    foreach (var q in neighbours[j]) queue.Enqueue(q);
            }
            cluster++;
        }
        return labels;
    }

    /// <summary>
    /// An eps from the data (the "adaptive" of ASSL's A-DBSCAN as chosen here): the median over points of the distance
    /// to the k-th nearest other point. Half of the points are then core points when minPoints = k + 1, whatever the
    /// embedding's scale.
    /// </summary>
    public static double AdaptiveEps(IReadOnlyList<float[]> points, int k)
    {
        int n = points.Count;
        if (n <= k) throw new ArgumentException($"adaptive eps needs more than {k} points, got {n}");
        var kth = new double[n];
        var d = new double[n];
        for (int i = 0; i < n; i++)
        {
            for (int j = 0; j < n; j++) d[j] = j == i ? double.PositiveInfinity : KMeans.Distance2(points[i], points[j]);
            var sorted = (double[])d.Clone();
            Array.Sort(sorted);
            kth[i] = Math.Sqrt(sorted[k - 1]);
        }
        Array.Sort(kth);
        return kth[n / 2];
    }
}
