using static TorchSharp.torch;

namespace Pare.Torch.Pruning;

/// <summary>
/// SparseGPT/GPTQ's per-output-channel asymmetric min-max grid: range [min(row, 0), max(row, 0)] (±1 for an all-zero
/// row), scale = range / (2^bits − 1), zero = round(−min/scale). Fixed from the dense weight before pruning, so 0
/// stays exactly representable and pruned weights remain zero.
/// </summary>
public sealed class QuantizationGrid : IDisposable
{
    public QuantizationGrid(Tensor weight, int bits)
    {
        if (bits < 2 || bits > 16) throw new ArgumentException($"quantization bits must be 2..16, got {bits}");
        Bits = bits;
        MaxQ = (1 << bits) - 1;
        using var scope = NewDisposeScope();
        var xmin = minimum(weight.amin(new long[] { 1 }), zeros(1));
        var xmax = maximum(weight.amax(new long[] { 1 }), zeros(1));
        var empty = xmin.eq(0).logical_and(xmax.eq(0));
        xmin = xmin.masked_fill(empty, -1f);
        xmax = xmax.masked_fill(empty, 1f);
        var scale = (xmax - xmin) / MaxQ;
        Scale = scale.unsqueeze(1).MoveToOuterDisposeScope();
        Zero = (-xmin / scale).round().unsqueeze(1).MoveToOuterDisposeScope();
    }

    public int Bits { get; }
    public int MaxQ { get; }
    /// <summary>[out, 1]</summary>
    public Tensor Scale { get; }
    /// <summary>[out, 1]</summary>
    public Tensor Zero { get; }

    /// <summary>Rounds x [out, k] (columns of the weight, any k) to the grid of each row.</summary>
    public Tensor Quantize(Tensor x)
    {
        using var scope = NewDisposeScope();
        var q = clamp((x / Scale).round() + Zero, 0, MaxQ);
        return (Scale * (q - Zero)).MoveToOuterDisposeScope();
    }

    /// <summary>Same, for one column [out] of rows <paramref name="rows"/>.</summary>
    public Tensor QuantizeColumn(Tensor column)
    {
        using var scope = NewDisposeScope();
        return Quantize(column.unsqueeze(1)).squeeze(1).MoveToOuterDisposeScope();
    }

    public void Dispose()
    {
        Scale.Dispose();
        Zero.Dispose();
    }
}
