using Pare.Engine.Kernels;

namespace Pare.Engine.Weights;

/// <summary>
/// Base of formats whose kernels take the f32 activation directly (f32, f16, bf16): a kernel computes a range of
/// rows for one token; the batched kernel reads each weight once per block of tokens
/// (<see cref="FloatRowKernels.Batched{T}"/>).
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

    [ThreadStatic] private static AlignedBuffer? t_aligned;

    public void MatVec(ReadOnlySpan<float> x, Span<float> y, int rowStart, int rowEnd)
    {
        Check(x.Length, Cols, y.Length, Rows, rowStart, rowEnd);
        fixed (float* px = x, py = y) Kernel(Aligned(px, Cols), py, rowStart, rowEnd);
    }

    public void MatMul(ReadOnlySpan<float> x, Span<float> y, int n, int rowStart, int rowEnd)
    {
        Check(x.Length, (long)n * Cols, y.Length, (long)n * Rows, rowStart, rowEnd);
        fixed (float* px = x, py = y) KernelBatched(Aligned(px, (long)n * Cols), n, py, rowStart, rowEnd);
    }

    /// <summary>
    /// The input on a 64-byte boundary (copied into the thread's scratch when it is not): a 512-bit load that
    /// straddles two cache lines costs two, which halved the batched kernels' speed on managed arrays. Rows of
    /// a multiple of 16 values then stay aligned too.
    /// </summary>
    private static float* Aligned(float* x, long count)
    {
        if (((nint)x & (AlignedBuffer.Alignment - 1)) == 0) return x;
        var scratch = t_aligned;
        if (scratch == null || scratch.Length < count * 4)
        {
            scratch?.Dispose();
            t_aligned = scratch = new AlignedBuffer(Math.Max(count * 4, 16 * 1024));
        }
        new ReadOnlySpan<float>(x, checked((int)count)).CopyTo(new Span<float>(scratch.Pointer, (int)count));
        return (float*)scratch.Pointer;
    }

    public abstract float[] ToDense();

    /// <summary>y[r] = W[r,:]·x for r in [r0, r1).</summary>
    protected abstract void Kernel(float* x, float* y, int r0, int r1);

    /// <summary>Y[t, r] = W[r,:]·X[t,:] for n tokens, bit for bit what <see cref="Kernel"/> gives per token.</summary>
    protected abstract void KernelBatched(float* x, int n, float* y, int r0, int r1);

    internal void Check(long xLength, long xNeed, long yLength, long yNeed, int rowStart, int rowEnd)
    {
        if (xLength < xNeed) throw new ArgumentException($"input has {xLength} values, {xNeed} needed");
        if (yLength < yNeed) throw new ArgumentException($"output has {yLength} values, {yNeed} needed");
        if (rowStart < 0 || rowEnd > Rows || rowStart > rowEnd) throw new ArgumentOutOfRangeException(nameof(rowStart), $"rows [{rowStart}, {rowEnd}) outside [0, {Rows})");
    }
}
