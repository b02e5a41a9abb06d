namespace Pare.Torch.Recovery;

/// <summary>
/// K-means (Lloyd's iterations after k-means++ seeding) on dense vectors with squared Euclidean distance. Seeded, so
/// the same points and seed give the same clusters. ASSL clusters instructions this way to form its experts; PASER's
/// clusters here are K-means too (see <see cref="PaserSelector"/>).
/// </summary>
public static class KMeans
{
    public sealed record Result(int[] Labels, float[][] Centroids, int Iterations);

    public static Result Fit(IReadOnlyList<float[]> points, int k, int seed, int maxIterations = 100)
    {
        int n = points.Count;
        if (k < 1) throw new ArgumentException($"k-means needs at least one cluster, got {k}");
        if (n < k) throw new ArgumentException($"k-means: {n} points cannot form {k} clusters");
        int dim = points[0].Length;
        var rng = new Random(seed);
        var centroids = new float[k][];
        // k-means++: each next centre is drawn with probability ∝ squared distance to the nearest centre so far.
        centroids[0] = (float[])points[rng.Next(n)].Clone();
        var nearest = new double[n];
        for (int i = 0; i < n; i++) nearest[i] = Distance2(points[i], centroids[0]);
        for (int c = 1; c < k; c++)
        {
            double total = nearest.Sum();
            int pick = n - 1;
            if (total > 0)
            {
                double r = rng.NextDouble() * total;
                for (int i = 0; i < n; i++)
                {
                    r -= nearest[i];
                    if (r < 0) { pick = i; break; }
                }
            }
            else pick = rng.Next(n);
            centroids[c] = (float[])points[pick].Clone();
            for (int i = 0; i < n; i++) nearest[i] = Math.Min(nearest[i], Distance2(points[i], centroids[c]));
        }

        var labels = new int[n];
        Array.Fill(labels, -1);
        int iter = 0;
        for (; iter < maxIterations; iter++)
        {
            bool changed = false;
            for (int i = 0; i < n; i++)
            {
                int best = Nearest(points[i], centroids);
                if (best != labels[i]) { labels[i] = best; changed = true; }
            }
            if (!changed) break;
            var sums = new double[k, dim];
            var counts = new int[k];
            for (int i = 0; i < n; i++)
            {
                counts[labels[i]]++;
                for (int d = 0; d < dim; d++) sums[labels[i], d] += points[i][d];
            }
            for (int c = 0; c < k; c++)
            {
                // An emptied cluster keeps its centre (it may win points back next round).
                if (counts[c] == 0) continue;
                for (int d = 0; d < dim; d++) centroids[c][d] = (float)(sums[c, d] / counts[c]);
            }
        }
        return new Result(labels, centroids, iter);
    }

    /// <summary>The index of the centroid nearest to <paramref name="x"/> (lowest index on ties).</summary>
    public static int Nearest(float[] x, IReadOnlyList<float[]> centroids)
    {
        int best = 0;
        double bestD = double.PositiveInfinity;
        for (int c = 0; c < centroids.Count; c++)
        {
            double d = Distance2(x, centroids[c]);
            if (d < bestD) { bestD = d; best = c; }
        }
        return best;
    }

    public static double Distance2(float[] a, float[] b)
    {
        double s = 0;
        for (int i = 0; i < a.Length; i++)
        {
            double d = a[i] - b[i];
            s += d * d;
        }
        return s;
    }
}
