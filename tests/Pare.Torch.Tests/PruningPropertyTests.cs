using Pare.Core;
using Pare.Core.Sparsity;
using Pare.Torch.Pruning;
using TorchSharp;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Pare.Torch.Tests;

/// <summary>Properties every method must have on stories260K: sparsity 0 is a no-op, N:M and ratio targets are met.</summary>
[Collection(TorchCollection.Name)]
public class PruningPropertyTests(ITestOutputHelper output)
{
    public static readonly TheoryData<string> Methods = new() { "magnitude", "wanda", "sparsegpt", "gblm" };

    internal static IPruner Pruner(string name) => name switch
    {
        "magnitude" => new MagnitudePruner(),
        "wanda" => new WandaPruner(),
        "sparsegpt" => new SparseGpt(),
        "gblm" => new GblmPruner(),
        _ => throw new ArgumentException(name),
    };

    private static (Checkpoint, PruneReport) Prune(string method, string pattern, bool owl = false)
    {
        var samples = CalibrationSamples.Draw(TestModels.CalibrationStream, 4, 64, seed: 0);
        return SequentialPruner.Run(TestModels.Stories260K, samples, new PruneOptions { Pruner = Pruner(method), Pattern = SparsityPattern.Parse(pattern), Owl = owl });
    }

    private static float[] Logits(Checkpoint ck, int[] ids)
    {
        using var model = new TorchLlama(ck);
        using var _ = no_grad();
        using var tokens = TorchLlama.Tokens(new[] { ids });
        using var logits = model.Forward(tokens);
        return logits.data<float>().ToArray();
    }

    [Theory]
    [MemberData(nameof(Methods))]
    public void SparsityZeroLeavesLogitsUnchanged(string method)
    {
        var (pruned, report) = Prune(method, "0");
        var ids = TestModels.ReferenceLogits().Ids;
        Assert.Equal(Logits(TestModels.Stories260K, ids), Logits(pruned, ids));
        Assert.All(report.Layers.SelectMany(l => l.Linears), r => Assert.Equal(0, r.Error));
    }

    [Theory]
    [InlineData("magnitude", "2:4")]
    [InlineData("wanda", "2:4")]
    [InlineData("sparsegpt", "2:4")]
    [InlineData("gblm", "2:4")]
    [InlineData("sparsegpt", "4:8")]
    [InlineData("wanda", "3:5")]
    [InlineData("wanda", "4:8")]
    public void NmGroupsAreValid(string method, string pattern)
    {
        var p = SparsityPattern.Parse(pattern);
        var (pruned, _) = Prune(method, pattern);
        var c = pruned.Config;
        for (int l = 0; l < c.Layers; l++)
        {
            foreach (var kind in LinearKinds.All)
            {
                var t = pruned[kind.TensorName(l)];
                var v = t.ToFloat32();
                // Independent count: every full group of M holds exactly N non-zeros (M − N were pruned), at most N anywhere.
                Assert.True(NmPattern.IsValid(v, t.Rows, t.Columns, p.N, p.M), $"{t.Name} violates {pattern}");
                int fullGroups = t.Columns / p.M;
                long nonZeroInFull = 0;
                for (int r = 0; r < t.Rows; r++)
                    for (int col = 0; col < fullGroups * p.M; col++)
                        if (v[r * t.Columns + col] != 0) nonZeroInFull++;
                Assert.True(nonZeroInFull <= (long)t.Rows * fullGroups * p.N);
                Assert.True(nonZeroInFull >= (long)t.Rows * fullGroups * p.N * 0.99, $"{t.Name}: too many zeros for {pattern}");
            }
        }
    }

    [Theory]
    [InlineData("magnitude", 0.5)]
    [InlineData("magnitude", 0.7)]
    [InlineData("wanda", 0.5)]
    [InlineData("wanda", 0.7)]
    [InlineData("gblm", 0.6)]
    [InlineData("sparsegpt", 0.5)]
    public void UnstructuredSparsityHitsTheTarget(string method, double ratio)
    {
        var (pruned, _) = Prune(method, ratio.ToString(System.Globalization.CultureInfo.InvariantCulture));
        var c = pruned.Config;
        for (int l = 0; l < c.Layers; l++)
        {
            foreach (var kind in LinearKinds.All)
            {
                var t = pruned[kind.TensorName(l)];
                var v = t.ToFloat32();
                if (method is "wanda" or "gblm")
                {
                    // Per row: ⌊cols·ratio⌋ zeros (+1 allowed for a weight that was already zero).
                    for (int r = 0; r < t.Rows; r++)
                    {
                        int z = 0;
                        for (int col = 0; col < t.Columns; col++) if (v[r * t.Columns + col] == 0) z++;
                        Assert.InRange(z, (int)(t.Columns * ratio), (int)(t.Columns * ratio) + 1);
                    }
                }
                else
                {
                    long z = v.LongCount(x => x == 0);
                    long target = (long)(v.LongLength * ratio);
                    // Magnitude: one quota per matrix. SparseGPT: one quota per block of 128 columns (⌊·⌋ each).
                    long slack = method == "sparsegpt" ? (t.Columns + 127) / 128 : 1;
                    Assert.InRange(z, target - slack, target + slack);
                }
            }
        }
    }

    [Fact]
    public void OwlKeepsTheMeanSparsityAndVariesLayers()
    {
        var (_, report) = Prune("wanda", "0.5", owl: true);
        var ratios = report.Layers.Select(l => double.Parse(l.Pattern, System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        Assert.Equal(0.5, ratios.Average(), 9);
        Assert.True(ratios.Max() - ratios.Min() > 0.1 && ratios.Max() - ratios.Min() <= 0.16 + 1e-9, string.Join(", ", ratios));
        // Layers with more outliers are pruned less.
        var byOutliers = report.Layers.OrderBy(l => l.OutlierRatio).Select(l => l.Sparsity).ToArray();
        Assert.True(byOutliers.Zip(byOutliers.Skip(1)).All(p => p.First >= p.Second - 1e-3));
        // Every linear gets its layer's allocation (Wanda: ⌊cols·ratio⌋ per row, so within one weight per row).
        foreach (var l in report.Layers)
        {
            double ratio = double.Parse(l.Pattern, System.Globalization.CultureInfo.InvariantCulture);
            foreach (var r in l.Linears) Assert.InRange(r.Sparsity, ratio - 1.0 / r.Columns - 1e-9, ratio + 1.0 / r.Columns);
        }
    }

    [Fact]
    public void OwlAllocationFollowsTheReferenceFormula()
    {
        // Outlier ratios 1, 2, 3 → densities 0, λ, 2λ → shifted to mean 1 − target.
        var s = OwlAllocation.Sparsities([0.01, 0.02, 0.03], 0.5, 0.08);
        Assert.Equal(0.58, s[0], 9);
        Assert.Equal(0.50, s[1], 9);
        Assert.Equal(0.42, s[2], 9);
    }

    [Fact]
    public void WandaWithEqualActivationNormsRanksLikePerRowMagnitude()
    {
        var rng = new Random(3);
        int rows = 12, cols = 40;
        var w = Enumerable.Range(0, rows * cols).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        // Inputs of ±1: every column has the same norm, so |W|·‖X‖ orders each row exactly as |W| does.
        var x = Enumerable.Range(0, 3 * 5 * cols).Select(_ => rng.Next(2) == 0 ? -1f : 1f).ToArray();
        using var stats = new LinearStatistics(cols);
        using (var xt = tensor(x, new long[] { 3, 5, cols })) stats.Add(xt);
        using var wt = tensor(w, new long[] { rows, cols });
        foreach (var ratio in new[] { 0.25, 0.5, 0.7 })
        {
            using var pruned = new WandaPruner().Prune(wt, stats, SparsityPattern.Unstructured(ratio), null);
            var got = pruned.data<float>().ToArray();
            int k = (int)(cols * ratio);
            for (int r = 0; r < rows; r++)
            {
                var order = Enumerable.Range(0, cols).OrderBy(j => Math.Abs(w[r * cols + j])).ToArray();
                var expected = w.AsSpan(r * cols, cols).ToArray();
                foreach (var j in order.Take(k)) expected[j] = 0;
                Assert.Equal(expected, got.AsSpan(r * cols, cols).ToArray());
            }
        }
    }

    [Fact]
    public void SparseGptReconstructsBetterThanWandaAndMagnitude()
    {
        // The same dense layer inputs for every method: each layer of the dense model, fed dense outputs.
        var samples = CalibrationSamples.Draw(TestModels.CalibrationStream, 4, 128, seed: 1);
        using var _ = no_grad();
        using var model = new TorchLlama(TestModels.Stories260K);
        var x = model.Embed(TorchLlama.Tokens(samples));
        var lines = new List<string>();
        foreach (var pattern in new[] { SparsityPattern.Unstructured(0.5), SparsityPattern.Nm(2, 4) })
        {
            var inputs = x.clone();
            for (int l = 0; l < model.Config.Layers; l++)
            {
                using var layer = model.LoadLayer(l);
                var stats = SequentialPruner.Collect(layer, model.Rope, inputs, 8);
                double sg = 0, wa = 0, mag = 0;
                foreach (var kind in LinearKinds.All)
                {
                    var st = stats[kind.Input()];
                    using var a = new SparseGpt().Prune(layer[kind], st, pattern, null);
                    using var b = new WandaPruner().Prune(layer[kind], st, pattern, null);
                    using var c = new MagnitudePruner().Prune(layer[kind], st, pattern, null);
                    double ea = st.ReconstructionError(layer[kind], a), eb = st.ReconstructionError(layer[kind], b), ec = st.ReconstructionError(layer[kind], c);
                    lines.Add($"{pattern} layer {l} {kind.ShortName()}: sparsegpt {ea:G4} wanda {eb:G4} magnitude {ec:G4}");
                    Assert.True(ea < eb && ea < ec, lines[^1]);
                    sg += ea; wa += eb; mag += ec;
                }
                output.WriteLine($"{pattern} layer {l}: Σ‖WX−ŴX‖² sparsegpt {sg:G4}, wanda {wa:G4}, magnitude {mag:G4}");
                foreach (var s in stats.Values) s.Dispose();
                var next = SequentialPruner.RunLayer(layer, model.Rope, inputs, 8);
                inputs.Dispose();
                inputs = next;
            }
            inputs.Dispose();
        }
        x.Dispose();
    }

    [Fact]
    public void JointQuantizationKeepsZerosAndUsesTheGrid()
    {
        var rng = new Random(5);
        int rows = 8, cols = 32;
        var w = Enumerable.Range(0, rows * cols).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        using var wt = tensor(w, new long[] { rows, cols });
        using var stats = new LinearStatistics(cols);
        using (var xt = randn(4, 16, cols, generator: new Generator(1))) stats.Add(xt);
        using var q = new SparseGpt(quantizeBits: 4).Prune(wt, stats, SparsityPattern.Nm(2, 4), null);
        var got = q.data<float>().ToArray();
        Assert.True(NmPattern.IsValid(got, rows, cols, 2, 4));
        for (int r = 0; r < rows; r++)
        {
            // Grid of the dense row: scale = (max(row,0) − min(row,0)) / 15, zero = round(−min/scale).
            var row = w.AsSpan(r * cols, cols).ToArray();
            double min = Math.Min(row.Min(), 0), max = Math.Max(row.Max(), 0), scale = (max - min) / 15;
            foreach (var v in got.AsSpan(r * cols, cols).ToArray())
            {
                double steps = v / scale;
                Assert.True(Math.Abs(steps - Math.Round(steps)) < 1e-3, $"{v} is not on the grid of step {scale}");
            }
        }
    }

    [Theory]
    [InlineData("0.5")]
    [InlineData("0.3")]
    [InlineData("2:4")]
    [InlineData("4:8")]
    public void MagnitudePrunerIsTheSharedMagnitudeDefinition(string pattern)
    {
        // `prune --method magnitude` and the Engine's sparse formats must make the same model: the pruner's output is
        // MagnitudePruning's, on an odd-sized matrix where rounding and flooring the quota would differ.
        var rng = new Random(3);
        const int rows = 7, cols = 13;
        var values = Enumerable.Range(0, rows * cols).Select(_ => (float)Math.Round(rng.NextDouble() * 8 - 4, 1)).ToArray();
        using var weight = tensor(values, [rows, cols]);
        var p = SparsityPattern.Parse(pattern);
        using var pruned = new MagnitudePruner().Prune(weight, null!, p, null);
        var expected = p.IsNm ? MagnitudePruning.NM(values, rows, cols, p.N, p.M) : MagnitudePruning.Unstructured(values, p.Ratio);
        Assert.Equal(expected, pruned.data<float>().ToArray());
    }
}
