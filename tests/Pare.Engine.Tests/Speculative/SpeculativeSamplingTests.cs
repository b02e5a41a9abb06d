using Pare.Engine.Sampling;
using Pare.Engine.Speculative;

namespace Pare.Engine.Tests.Speculative;

/// <summary>
/// Speculative sampling must draw from exactly the target's distribution. The reference is the exact joint
/// distribution of the first two generated tokens, computed from the target's logits (p(t1)·p(t2 | t1)); a G-test
/// over 20,000 speculative draws must not reject it, and must reject it when the residual is replaced by p.
/// </summary>
public class SpeculativeSamplingTests
{
    private const int Draws = 20_000;

    private static readonly SamplingOptions Full = new() { Temperature = 1f };
    private static readonly SamplingOptions Filtered = new() { Temperature = 0.8f, TopP = 0.95f, TopK = 40 };

    public static TheoryData<string, int> Configurations => new()
    {
        { "layers=1 full", 1 },
        { "layers=1 full", 2 },
        { "synthetic filtered", 2 },
        { "lookup full", 2 },
    };

    [Theory]
    [MemberData(nameof(Configurations))]
    public void SpeculativeSamplingMatchesTheTargetDistribution(string configuration, int k)
    {
        var (g, threshold, rejections) = Run(configuration, k, faulty: false);
        Assert.True(g < threshold, $"G = {g:F1} ≥ {threshold:F1} (0.999 quantile): speculative samples differ from the target's distribution");
        if (!configuration.StartsWith("lookup", StringComparison.Ordinal))
            Assert.True(rejections > Draws / 10, $"only {rejections} rejections: the residual path was hardly exercised");
    }

    [Fact]
    public void TheTestRejectsSamplingFromTheTargetAfterARejection()
    {
        var (g, threshold, _) = Run("layers=1 full", 2, faulty: true);
        Assert.True(g > threshold, $"G = {g:F1} < {threshold:F1}: the biased variant went undetected");
    }

    private static (double G, double Threshold, long Rejections) Run(string configuration, int k, bool faulty)
    {
        var target = new Transformer(SpeculativeFixture.Target);
        var sampling = configuration.EndsWith("filtered", StringComparison.Ordinal) ? Filtered : Full;
        IDrafter drafter = configuration switch
        {
            "synthetic filtered" => TransformerDrafter.For(target, new Transformer(SpeculativeFixture.Synthetic), "synthetic"),
            "lookup full" => new PromptLookupDrafter(),
            _ => new TransformerDrafter(new Transformer(SelfDraft.EarlyExit(SpeculativeFixture.Target, 1)), "layers=1"),
        };
        // "Lily and Lily" repeats a token so prompt lookup has something to propose.
        int[] prefix = configuration.StartsWith("lookup", StringComparison.Ordinal)
            ? SpeculativeFixture.Tokenizer.Encode("Lily saw Lily", addBos: true)
            : SpeculativeFixture.Tokenizer.Encode("Lily", addBos: true);
        var expected = ExactJoint(target, prefix, sampling);

        var decoder = new SpeculativeDecoder(target, drafter, k) { ResidualIsTargetForTesting = faulty };
        var counts = new Dictionary<(int, int), int>();
        Span<int> emitted = stackalloc int[k + 1];
        long rejections = 0;
        for (int i = 0; i < Draws; i++)
        {
            decoder.Start(prefix, sampling with { Seed = SplitMix(1000 + (ulong)i) });
            int got = decoder.Round(k + 1, emitted);
            var first = decoder.Stats;
            if (first.Accepted < first.Drafted) rejections++;
            int t1 = emitted[0], t2 = got > 1 ? emitted[1] : -1;
            if (got == 1) { decoder.Round(k, emitted); t2 = emitted[0]; }
            counts[(t1, t2)] = counts.GetValueOrDefault((t1, t2)) + 1;
        }
        var (g, threshold) = GTest(counts, expected);
        return (g, threshold, rejections);
    }

    /// <summary>P(t1, t2) = p(t1 | prefix)·p(t2 | prefix, t1) under the sampling filter.</summary>
    private static Dictionary<(int, int), double> ExactJoint(Transformer target, int[] prefix, SamplingOptions sampling)
    {
        int vocab = target.Config.VocabSize;
        var sampler = new Sampler(vocab, sampling);
        var cache = target.NewCache();
        var logits = new float[vocab];
        var p1 = new float[vocab];
        var p2 = new float[vocab];
        target.Forward(prefix, cache, logits);
        sampler.Distribution(logits, p1);
        var joint = new Dictionary<(int, int), double>();
        for (int t1 = 0; t1 < vocab; t1++)
        {
            if (p1[t1] == 0) continue;
            cache.Truncate(prefix.Length);
            target.Forward([t1], cache, logits);
            sampler.Distribution(logits, p2);
            for (int t2 = 0; t2 < vocab; t2++)
                if (p2[t2] > 0) joint[(t1, t2)] = (double)p1[t1] * p2[t2];
        }
        return joint;
    }

    /// <summary>G-test against the expected probabilities; outcomes expected fewer than 5 times are pooled.</summary>
    private static (double G, double Threshold) GTest(Dictionary<(int, int), int> counts, Dictionary<(int, int), double> expected)
    {
        double g = 0, pooledE = 0;
        long pooledO = 0, seen = 0;
        int bins = 0;
        foreach (var (outcome, prob) in expected)
        {
            double e = prob * Draws;
            int o = counts.GetValueOrDefault(outcome);
            seen += o;
            if (e < 5) { pooledE += e; pooledO += o; continue; }
            if (o > 0) g += o * Math.Log(o / e);
            bins++;
        }
        // Outcomes the target cannot produce land in the pool with expectation 0: any of them fails the test.
        pooledO += Draws - seen;
        if (pooledO > 0) g += pooledO * Math.Log(pooledO / Math.Max(pooledE, 1e-300));
        bins++;
        g *= 2;
        int df = bins - 1;
        // Wilson–Hilferty approximation of the chi-square 0.999 quantile (z = 3.0902).
        double a = 2.0 / (9 * df);
        double threshold = df * Math.Pow(1 - a + 3.0902 * Math.Sqrt(a), 3);
        return (g, threshold);
    }

    private static ulong SplitMix(ulong x)
    {
        x += 0x9E3779B97F4A7C15UL;
        x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9UL;
        x = (x ^ (x >> 27)) * 0x94D049BB133111EBUL;
        return x ^ (x >> 31);
    }
}
