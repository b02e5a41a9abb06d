using Pare.Engine.Sampling;

namespace Pare.Engine.Tests;

public class SamplerTests
{
    private static readonly float[] Logits = [2.0f, 1.0f, 0.5f, 0.0f, -1.0f, 1.5f];

    private static double[] Softmax(float[] logits, float temperature)
    {
        var e = logits.Select(l => Math.Exp(l / temperature)).ToArray();
        var z = e.Sum();
        return e.Select(v => v / z).ToArray();
    }

    [Fact]
    public void TemperatureDistributionIsSoftmaxOfScaledLogits()
    {
        var sampler = new Sampler(Logits.Length, new SamplingOptions { Temperature = 0.7f });
        var probs = new float[Logits.Length];
        sampler.Distribution(Logits, probs);
        var expected = Softmax(Logits, 0.7f);
        for (int i = 0; i < probs.Length; i++) Assert.Equal(expected[i], probs[i], 5);
    }

    [Fact]
    public void TopKKeepsTheKMostLikelyRenormalised()
    {
        var sampler = new Sampler(Logits.Length, new SamplingOptions { Temperature = 1f, TopK = 3 });
        var probs = new float[Logits.Length];
        sampler.Distribution(Logits, probs);
        var full = Softmax(Logits, 1f);
        int[] kept = [0, 5, 1]; // logits 2.0, 1.5, 1.0
        double mass = kept.Sum(i => full[i]);
        for (int i = 0; i < probs.Length; i++)
            Assert.Equal(kept.Contains(i) ? full[i] / mass : 0, probs[i], 5);
    }

    [Fact]
    public void TopPKeepsTheSmallestPrefixReachingP()
    {
        var full = Softmax(Logits, 1f);
        var order = Enumerable.Range(0, full.Length).OrderByDescending(i => full[i]).ToArray();
        double p = full[order[0]] + full[order[1]] - 1e-3; // needs exactly the two most likely tokens
        var sampler = new Sampler(Logits.Length, new SamplingOptions { Temperature = 1f, TopP = (float)p });
        var probs = new float[Logits.Length];
        sampler.Distribution(Logits, probs);
        Assert.Equal(2, probs.Count(v => v > 0));
        Assert.True(probs[order[0]] > 0 && probs[order[1]] > 0);
        Assert.Equal(1.0, probs.Sum(), 5);
    }

    [Fact]
    public void DrawsFollowTheDistribution()
    {
        // Pearson chi-square with 5 degrees of freedom; 20.5 is the 0.999 quantile.
        var sampler = new Sampler(Logits.Length, new SamplingOptions { Temperature = 1f, Seed = 1234 });
        var probs = new float[Logits.Length];
        var counts = new int[Logits.Length];
        const int draws = 200_000;
        for (int i = 0; i < draws; i++) counts[sampler.Sample(Logits, probs)]++;
        var expected = Softmax(Logits, 1f);
        double chi2 = 0;
        for (int i = 0; i < counts.Length; i++) chi2 += Math.Pow(counts[i] - draws * expected[i], 2) / (draws * expected[i]);
        Assert.True(chi2 < 20.5, $"chi² = {chi2}");
    }

    [Fact]
    public void SameSeedSameTokensOtherSeedOtherTokens()
    {
        int[] Run(ulong seed)
        {
            var s = new Sampler(Logits.Length, new SamplingOptions { Temperature = 1f, Seed = seed });
            var probs = new float[Logits.Length];
            return Enumerable.Range(0, 64).Select(_ => s.Sample(Logits, probs)).ToArray();
        }
        Assert.Equal(Run(7), Run(7));
        Assert.NotEqual(Run(7), Run(8));
    }

    [Fact]
    public void GreedyIsArgMaxWithFirstIndexOnTies()
    {
        var sampler = new Sampler(4, SamplingOptions.Greedy);
        Assert.Equal(1, sampler.Sample([0f, 3f, 3f, 1f], new float[4]));
    }
}
