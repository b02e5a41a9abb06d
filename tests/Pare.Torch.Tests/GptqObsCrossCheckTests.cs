using Pare.Core.Formats;
using Pare.Core.Formats.Gguf;
using Pare.Core.Tensors;
using Pare.TestSupport;
using Pare.Torch.Pruning;
using Pare.Torch.Quantization;
using TorchSharp;
using Xunit.Abstractions;
using static Pare.Torch.Tests.DoubleMatrix;
using static TorchSharp.torch;

namespace Pare.Torch.Tests;

/// <summary>
/// GPTQ (blocked, Cholesky, lazy batch updates, f32) against a plain Optimal Brain Surgeon quantisation loop written
/// here in double precision: explicit H⁻¹ of the remaining columns, full-width update after every column, the column
/// then eliminated from H⁻¹. Codes come from the C# <see cref="SymmetricGrid"/> (not the torch grid under test), group
/// scales fitted at the group's first column from the weights as updated so far (or from the dense weight for
/// act-order and per-row grids).
/// </summary>
[Collection(TorchCollection.Name)]
public class GptqObsCrossCheckTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(4, 8, false, 16)]
    [InlineData(3, 0, false, 8)]
    [InlineData(8, 16, false, 16)]
    [InlineData(4, 8, true, 16)]
    [InlineData(3, 16, false, 8)] // group longer than a block: static groups
    public void MatchesDenseObsUpdates(int bits, int group, bool actOrder, int block)
    {
        var rng = new Random(5);
        int rows = 10, cols = 32, tokens = 96;
        var w = new double[rows, cols];
        for (int r = 0; r < rows; r++) for (int c = 0; c < cols; c++) w[r, c] = (r * cols + c) % 13 == 0 ? 0 : rng.NextDouble() * 2 - 1; // some exact zeros: they must stay
        var x = new double[tokens, cols];
        for (int t = 0; t < tokens; t++) for (int c = 0; c < cols; c++) x[t, c] = c == 5 ? 0 : Gaussian(rng) * (1 + c % 3); // column 5 is dead
        var h = new double[cols, cols];
        for (int i = 0; i < cols; i++) for (int j = 0; j < cols; j++)
        {
            double s = 0;
            for (int t = 0; t < tokens; t++) s += x[t, i] * x[t, j];
            h[i, j] = 2 * s / tokens;
        }
        // f32 inputs for both sides, so the two see the same starting weights.
        for (int r = 0; r < rows; r++) for (int c = 0; c < cols; c++) w[r, c] = (float)w[r, c];
        for (int i = 0; i < cols; i++) for (int j = 0; j < cols; j++) h[i, j] = (float)h[i, j];

        var spec = new QuantizationSpec(bits, group, actOrder);
        var expected = DenseObs(w, h, spec, block);

        using var wt = tensor(Flatten(w).Select(v => (float)v).ToArray(), new long[] { rows, cols });
        using var ht = tensor(Flatten(h).Select(v => (float)v).ToArray(), new long[] { cols, cols });
        var got = new Gptq(spec, blockSize: block).Quantize(wt, ht);
        var g = got.Weight.data<float>().ToArray();
        double worst = 0;
        int differentCodes = 0;
        for (int r = 0; r < rows; r++) for (int c = 0; c < cols; c++)
        {
            worst = Math.Max(worst, Math.Abs(g[r * cols + c] - expected[r, c]));
            if (Math.Abs(g[r * cols + c] - expected[r, c]) > 1e-4) differentCodes++;
        }
        output.WriteLine($"{spec}: max |Δ| = {worst:G3}");
        Assert.True(worst < 1e-4, $"max |Δ| = {worst}, {differentCodes} weights differ");
        // The packed codes and scales give back exactly the returned values, and input zeros stay zero.
        Assert.Equal(g, got.Quantized!.Dequantize());
        for (int r = 0; r < rows; r++) for (int c = 0; c < cols; c++)
            if (w[r, c] == 0) Assert.Equal(0f, g[r * cols + c]);
        got.Weight.Dispose();
    }

    private static double[,] DenseObs(double[,] w0, double[,] h0, QuantizationSpec spec, int block)
    {
        int rows = w0.GetLength(0), cols = w0.GetLength(1);
        var w = (double[,])w0.Clone();
        var h = (double[,])h0.Clone();
        var zero = new bool[rows, cols];
        for (int r = 0; r < rows; r++) for (int c = 0; c < cols; c++) zero[r, c] = w[r, c] == 0;
        for (int j = 0; j < cols; j++)
        {
            if (h[j, j] == 0)
            {
                h[j, j] = 1;
                for (int r = 0; r < rows; r++) w[r, j] = 0;
            }
        }
        int g = spec.GroupSize == 0 ? cols : spec.GroupSize;
        bool dynamic = !spec.ActOrder && g <= block && block % g == 0;
        var scale = new float[rows, (cols + g - 1) / g];
        void Fit(int group, double[,] from)
        {
            for (int r = 0; r < rows; r++)
            {
                var values = new List<float>();
                for (int c = group * g; c < Math.Min(cols, (group + 1) * g); c++) values.Add(zero[r, c] ? 0f : (float)from[r, c]);
                scale[r, group] = SymmetricGrid.Scale(values.ToArray(), spec.Bits);
            }
        }
        if (!dynamic) for (int k = 0; k < scale.GetLength(1); k++) Fit(k, w);

        var order = Enumerable.Range(0, cols).ToArray();
        if (spec.ActOrder) order = order.OrderByDescending(c => h[c, c]).ToArray(); // stable, as torch's stable sort
        double damp = 0;
        for (int j = 0; j < cols; j++) damp += h[j, j];
        damp = 0.01 * damp / cols;
        for (int j = 0; j < cols; j++) h[j, j] += damp;
        var hinv = Invert(h);

        foreach (int j in order)
        {
            if (dynamic && j % g == 0) Fit(j / g, w);
            double d = hinv[j, j];
            for (int r = 0; r < rows; r++)
            {
                float s = scale[r, j / g];
                double q = zero[r, j] ? 0 : GgmlQuants.HalfBitsToFloat(GgmlQuants.FloatToHalfBits(s)) * SymmetricGrid.Code((float)w[r, j], SymmetricGrid.Inverse(s), spec.Bits);
                double err = (w[r, j] - q) / d;
                for (int c = 0; c < cols; c++) w[r, c] -= err * hinv[j, c]; // hinv[j, c] is 0 for eliminated c
                w[r, j] = q;
            }
            Eliminate(hinv, j);
        }
        return w;
    }

    [Theory]
    [InlineData(4)]
    [InlineData(3)]
    public void ReconstructsBetterThanRoundToNearest(int bits)
    {
        var samples = CalibrationSamples.Draw(TestModels.CalibrationStream, 4, 128, seed: 1);
        using var _ = no_grad();
        using var model = new TorchLlama(TestModels.Stories260K);
        using var inputs = model.Embed(TorchLlama.Tokens(samples));
        using var layer = model.LoadLayer(0);
        var stats = SequentialPruner.Collect(layer, model.Rope, inputs, 8);
        foreach (int group in new[] { 32, 0 })
        {
            foreach (var kind in LinearKinds.All)
            {
                var st = stats[kind.Input()];
                var spec = new QuantizationSpec(bits, group);
                var dense = SparsityPattern.Unstructured(0);
                using var gptq = new Gptq(spec).Prune(layer[kind], st, dense, null);
                using var rtn = new RoundToNearest(spec).Prune(layer[kind], st, dense, null);
                double eg = st.ReconstructionError(layer[kind], gptq), er = st.ReconstructionError(layer[kind], rtn);
                output.WriteLine($"{spec} {kind.ShortName()}: gptq {eg:G4} rtn {er:G4}");
                Assert.True(eg < er, $"{spec} {kind.ShortName()}: gptq {eg:G4} ≥ rtn {er:G4}");
            }
        }
        foreach (var s in stats.Values) s.Dispose();
    }

    /// <summary>
    /// Round to nearest on GGML's grids, through the torch grid GPTQ uses and through the C# grid, gives the bytes
    /// llama-quantize wrote into the shared synthetic-tiny q8_0/q4_0 files.
    /// </summary>
    [Theory]
    [InlineData("q8_0", 8)]
    [InlineData("q4_0", 4)]
    public void RoundToNearestIsLlamaQuantizeByteForByte(string type, int bits)
    {
        var f32 = ModelLoader.Load(Shared.PathOf("models", "synthetic-tiny", "synthetic-tiny.bin"));
        var quantized = GgufModelReader.Read(Shared.PathOf("models", "synthetic-tiny", $"synthetic-tiny.{type}.gguf"));
        int checkedTensors = 0;
        foreach (var (name, t) in quantized.Tensors)
        {
            if (t.Type != (bits == 8 ? DType.Q8_0 : DType.Q4_0)) continue; // llama-quantize may keep the output matrix at a higher type
            // The llama2.c file is tied; the converter wrote its embedding as the GGUF output matrix.
            var dense = f32.Tensors.TryGetValue(name, out var d) ? d : f32[Pare.Core.LlamaTensorNames.Embedding];
            var spec = new QuantizationSpec(bits, 32);
            var viaCSharp = new RoundToNearest(spec).Quantize(dense.ToFloat32(), dense.Rows, dense.Columns).ToTensorData(name);
            Assert.True(viaCSharp.Data.Span.SequenceEqual(t.Data.Span), $"{name}: C# grid differs from llama-quantize");
            using var w = TorchLlama.ToTensor(dense);
            using var grid = new GroupGrid(dense.Rows, dense.Columns, spec);
            grid.FitAll(w);
            for (long c = 0; c < dense.Columns; c++) grid.Quantize(w.select(1, c), c).Dispose();
            Assert.True(grid.ToMatrix().ToTensorData(name).Data.Span.SequenceEqual(t.Data.Span), $"{name}: torch grid differs from llama-quantize");
            checkedTensors++;
        }
        Assert.True(checkedTensors >= 14, $"only {checkedTensors} {type} tensors");
    }
}
