using Pare.Torch.Recovery;

namespace Pare.Torch.Tests;

/// <summary>K-means, DBSCAN and the selectors on small seeded point sets whose answers are known by construction.</summary>
public class RecoverySelectionTests
{
    /// <summary>Three Gaussian blobs (σ = 0.5) around (0,0), (10,0), (0,10), 20 points each, in generation order.</summary>
    private static (float[][] Points, int[] Truth, float[][] Centres) Blobs(int seed, int perBlob = 20)
    {
        var centres = new[] { new[] { 0f, 0f }, new[] { 10f, 0f }, new[] { 0f, 10f } };
        var rng = new Random(seed);
        double Gauss() => Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());
        var points = new List<float[]>();
        var truth = new List<int>();
        for (int c = 0; c < 3; c++)
            for (int i = 0; i < perBlob; i++)
            {
                points.Add(new[] { centres[c][0] + (float)(0.5 * Gauss()), centres[c][1] + (float)(0.5 * Gauss()) });
                truth.Add(c);
            }
        return (points.ToArray(), truth.ToArray(), centres);
    }

    [Fact]
    public void KMeansRecoversSeparatedBlobsAndTheirCentres()
    {
        var (points, truth, centres) = Blobs(3);
        var r = KMeans.Fit(points, 3, seed: 1);
        // The same partition up to renaming: points of one blob share a label, different blobs differ.
        for (int i = 0; i < points.Length; i++)
            for (int j = 0; j < points.Length; j++)
                Assert.Equal(truth[i] == truth[j], r.Labels[i] == r.Labels[j]);
        foreach (var c in centres)
            Assert.Contains(r.Centroids, m => Math.Sqrt(KMeans.Distance2(m, c)) < 0.4);
        Assert.Equal(r.Labels, KMeans.Fit(points, 3, seed: 1).Labels);
    }

    [Fact]
    public void DbscanFindsTheTwoGroupsTheBorderPointAndTheNoise()
    {
        // Group A: a plus of 5 points spaced 1 around (0,0), and (0.7,0.7) within eps of its centre; group B: the plus
        // around (10,10). With eps 1.1 and 5 points needed, only the two centres are core points: the arms and (0.7,0.7)
        // are border points; (0,2.05) is within eps of an arm only (a border point of a border point: noise), and
        // (5,5), (20,0) are far from everything.
        var pts = new List<float[]>();
        foreach (var (x, y) in new[] { (0, 0), (1, 0), (-1, 0), (0, 1), (0, -1) }) pts.Add(new float[] { x, y });
        foreach (var (x, y) in new[] { (10, 10), (11, 10), (9, 10), (10, 11), (10, 9) }) pts.Add(new float[] { x, y });
        pts.Add(new[] { 0.7f, 0.7f });
        pts.Add(new[] { 0f, 2.05f });
        pts.Add(new float[] { 5, 5 });
        pts.Add(new float[] { 20, 0 });
        var labels = Dbscan.Fit(pts, eps: 1.1, minPoints: 5);
        Assert.Equal(new[] { 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 0, Dbscan.Noise, Dbscan.Noise, Dbscan.Noise }, labels);
    }

    [Fact]
    public void AdaptiveEpsIsTheMedianKthNeighbourDistance()
    {
        // Points on a line at 0, 1, 2, 3, 5, 8: distances to the 2nd-nearest other point are 2, 1, 1, 2, 3, 5 → median (upper) 2.
        var pts = new[] { 0f, 1f, 2f, 3f, 5f, 8f }.Select(x => new[] { x }).ToArray();
        Assert.Equal(2.0, Dbscan.AdaptiveEps(pts, 2), 6);
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(-0.1)]
    [InlineData(1.5)]
    [InlineData(double.NaN)]
    public void ABudgetOutsideZeroOneIsRefused(double budget)
    {
        var e = Assert.Throws<ArgumentException>(() => DataSelection.BudgetCount(budget, 100));
        Assert.Contains("--budget", e.Message);
    }

    [Fact]
    public void QuotasSumExactlyAndRespectCapacities()
    {
        var q = DataSelection.Quotas(new[] { 1.0, 1.0, 1.0 }, new[] { 10, 1, 10 }, 10);
        Assert.Equal(10, q.Sum());
        Assert.Equal(1, q[1]);
        Assert.Equal(new[] { 5, 1, 4 }, q);
        Assert.Equal(new[] { 3, 0, 7 }, DataSelection.Quotas(new[] { 3.0, 0.0, 7.0 }, new[] { 10, 10, 10 }, 10));
    }

    [Fact]
    public void EverySelectorMeetsTheBudgetExactlyAndIsDeterministicForASeed()
    {
        var (points, truth, _) = Blobs(5, perBlob: 33);
        var loss = points.Select((p, i) => 1.0 + truth[i] + 0.01 * (i % 7)).ToList();
        foreach (double budget in new[] { 0.1, 0.25, 1.0 })
        {
            int expected = (int)Math.Round(budget * points.Length, MidpointRounding.AwayFromZero);
            var selections = new Func<int, DataSelectionResult>[]
            {
                seed => DataSelection.Random(points.Length, budget, seed),
                seed => AsslSelector.Select(points, loss, budget, seed),
                seed => PaserSelector.Select(points, loss, budget, 3, seed),
            };
            foreach (var select in selections)
            {
                var a = select(11);
                Assert.Equal(expected, a.Chosen.Count);
                Assert.Equal(expected, a.Indices.Distinct().Count());
                Assert.Equal(a.Indices, select(11).Indices);
            }
        }
    }

    [Fact]
    public void PaserSpendsMoreOfTheBudgetOnTheClusterPruningHurtMost()
    {
        var (points, truth, _) = Blobs(9, perBlob: 30);
        // Blob 2 lost four times as much as the others: its share of the budget must exceed its share of the data.
        var degradation = truth.Select(t => t == 2 ? 0.4 : 0.1).ToList();
        var r = PaserSelector.Select(points, degradation, 0.3, 3, seed: 0);
        int fromBlob2 = r.Indices.Count(i => truth[i] == 2);
        Assert.Equal(27, r.Chosen.Count);
        Assert.True(fromBlob2 >= 15, $"{fromBlob2} of 27 from the degraded cluster (a third would be 9)");
    }

    [Fact]
    public void AsslGivesTheLongTailMoreThanItsShare()
    {
        // One big blob of 60 and two small of 6: √-smoothed quotas give the small ones more than their 6/72 share each.
        var (big, _, _) = Blobs(2, perBlob: 60);
        var pts = big.Take(60).Concat(big.Skip(60).Take(6)).Concat(big.Skip(120).Take(6)).ToArray();
        var loss = pts.Select(_ => 1.0).ToList();
        var r = AsslSelector.Select(pts, loss, 0.25, seed: 0);
        int small = r.Indices.Count(i => i >= 60);
        Assert.Equal(18, r.Chosen.Count);
        Assert.True(small > 3, $"{small} of 18 from the two small clusters (proportional would be 3)");
    }
}
