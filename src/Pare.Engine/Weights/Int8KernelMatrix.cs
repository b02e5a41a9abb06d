using Pare.Engine.Kernels;

namespace Pare.Engine.Weights;

/// <summary>
/// Base of formats with integer weights whose kernels multiply by int8-quantised activations
/// (<see cref="QuantizedActivations"/>): the input is quantised once per call on the calling thread, then rows
/// are computed with integer dot products scaled per block.
/// </summary>
public abstract unsafe class Int8KernelMatrix : IWeightMatrix
{
    protected Int8KernelMatrix(int rows, int cols, int block)
    {
        if (rows <= 0 || cols <= 0) throw new ArgumentException($"matrix shape {rows}×{cols} is empty");
        Rows = rows;
        Cols = cols;
        Block = block;
        PaddedCols = (cols + block - 1) / block * block;
    }

    public int Rows { get; }
    public int Cols { get; }
    /// <summary>Columns per scale block (the activations are quantised with the same blocks).</summary>
    public int Block { get; }
    /// <summary>Cols rounded up to whole blocks; the padding is zero weights.</summary>
    public int PaddedCols { get; }
    protected int BlocksPerRow => PaddedCols / Block;
    public abstract string Format { get; }
    public abstract long StorageBytes { get; }

    public void MatVec(ReadOnlySpan<float> x, Span<float> y, int rowStart, int rowEnd) => MatMul(x, y, 1, rowStart, rowEnd);

    public void MatMul(ReadOnlySpan<float> x, Span<float> y, int n, int rowStart, int rowEnd)
    {
        if (x.Length < (long)n * Cols) throw new ArgumentException($"input has {x.Length} values, {(long)n * Cols} needed");
        if (y.Length < (long)n * Rows) throw new ArgumentException($"output has {y.Length} values, {(long)n * Rows} needed");
        if (rowStart < 0 || rowEnd > Rows || rowStart > rowEnd) throw new ArgumentOutOfRangeException(nameof(rowStart), $"rows [{rowStart}, {rowEnd}) outside [0, {Rows})");
        var q = QuantizedActivations.Current;
        q.Quantize(x, n, Cols, PaddedCols, Block);
        fixed (float* py = y)
        {
            if (n == 1) Kernel(q.Values, q.Scales, q.Sums, py, rowStart, rowEnd);
            else KernelBatched(q.Values, q.Scales, q.Sums, n, py, rowStart, rowEnd);
        }
    }

    public abstract float[] ToDense();

    /// <summary>y[r] = W[r,:]·x̂ for r in [r0, r1), x̂ given as int8 values, per-block scales and per-block sums.</summary>
    protected abstract void Kernel(sbyte* qx, float* dx, int* sx, float* y, int r0, int r1);

    /// <summary>
    /// The n-token product (x̂ rows PaddedCols apart, scales and sums BlocksPerRow apart, y rows Rows apart), bit
    /// for bit <see cref="Kernel"/> per token. This default walks rows in chunks that stay in cache while every
    /// token passes over them, so the weights stream from memory once per batch; formats override it with a
    /// kernel that decodes each weight block once for several tokens.
    /// </summary>
    protected virtual void KernelBatched(sbyte* qx, float* dx, int* sx, int n, float* y, int r0, int r1)
    {
        int chunk = (int)Math.Clamp(128L * 1024 * Rows / Math.Max(1, StorageBytes), 1, 256);
        int bpr = BlocksPerRow;
        for (int r = r0; r < r1; r += chunk)
        {
            int end = Math.Min(r1, r + chunk);
            for (int t = 0; t < n; t++)
                Kernel(qx + (long)t * PaddedCols, dx + (long)t * bpr, sx + (long)t * bpr, y + (long)t * Rows, r, end);
        }
    }
}
