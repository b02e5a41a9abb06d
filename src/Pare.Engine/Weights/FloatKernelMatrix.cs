namespace Pare.Engine.Weights;

/// <summary>
/// Base of formats whose kernels take the f32 activation directly (f32, f16, bf16): a kernel computes a range of
/// rows for one token; the batched product walks rows in chunks that stay in cache while every token passes
/// over them, so the weights are read from memory once per batch.
/// </summary>
public abstract unsafe class FloatKernelMatrix : IWeightMatrix
{
    protected FloatKernelMatrix(int rows, int cols)
    {
        if (rows <= 0 || cols <= 0) throw new ArgumentException($"matrix shape {rows}×{cols} is empty");
        Rows = rows;
        Cols = cols;
    }

    public int Rows { get; }
    public int Cols { get; }
    public abstract string Format { get; }
    public abstract long StorageBytes { get; }

    /// <summary>Rows per chunk of the batched product: ~128 KiB of weights, well inside L2.</summary>
    protected int ChunkRows => (int)Math.Clamp(128L * 1024 * Rows / Math.Max(1, StorageBytes), 1, 256);

    public void MatVec(ReadOnlySpan<float> x, Span<float> y, int rowStart, int rowEnd)
    {
        Check(x.Length, Cols, y.Length, Rows, rowStart, rowEnd);
        fixed (float* px = x, py = y) Kernel(px, py, rowStart, rowEnd);
    }

    public void MatMul(ReadOnlySpan<float> x, Span<float> y, int n, int rowStart, int rowEnd)
    {
        Check(x.Length, (long)n * Cols, y.Length, (long)n * Rows, rowStart, rowEnd);
        int chunk = ChunkRows;
        fixed (float* px = x, py = y)
        {
            for (int r = rowStart; r < rowEnd; r += chunk)
            {
                int end = Math.Min(rowEnd, r + chunk);
                for (int t = 0; t < n; t++) Kernel(px + (long)t * Cols, py + (long)t * Rows, r, end);
            }
        }
    }

    public abstract float[] ToDense();

    /// <summary>y[r] = W[r,:]·x for r in [r0, r1).</summary>
    protected abstract void Kernel(float* x, float* y, int r0, int r1);

    internal void Check(long xLength, long xNeed, long yLength, long yNeed, int rowStart, int rowEnd)
    {
        if (xLength < xNeed) throw new ArgumentException($"input has {xLength} values, {xNeed} needed");
        if (yLength < yNeed) throw new ArgumentException($"output has {yLength} values, {yNeed} needed");
        if (rowStart < 0 || rowEnd > Rows || rowStart > rowEnd) throw new ArgumentOutOfRangeException(nameof(rowStart), $"rows [{rowStart}, {rowEnd}) outside [0, {Rows})");
    }
}
