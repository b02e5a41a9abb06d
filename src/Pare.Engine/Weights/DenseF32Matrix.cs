using System.Runtime.InteropServices;
using Pare.Engine.Kernels;

namespace Pare.Engine.Weights;

/// <summary>Uncompressed f32 weights, rows contiguous in cache-line-aligned memory.</summary>
public sealed unsafe class DenseF32Matrix : FloatKernelMatrix
{
    private readonly AlignedBuffer _w;

    public DenseF32Matrix(ReadOnlySpan<float> weights, int rows, int cols) : base(rows, cols)
    {
        if (weights.Length != (long)rows * cols) throw new ArgumentException($"{weights.Length} values for a {rows}×{cols} matrix");
        _w = new AlignedBuffer((long)rows * cols * 4);
        MemoryMarshal.AsBytes(weights).CopyTo(new Span<byte>(_w.Pointer, checked((int)_w.Length)));
    }

    public DenseF32Matrix(float[] weights, int rows, int cols) : this(weights.AsSpan(), rows, cols) { }

    public override string Format => WeightFormats.F32;
    public override long StorageBytes => _w.Length;

    public override float[] ToDense() => new ReadOnlySpan<float>(_w.Pointer, Rows * Cols).ToArray();

    protected override void Kernel(float* x, float* y, int r0, int r1) => FloatRowKernels.Rows<F32Elements>(_w.Pointer, Cols, x, y, r0, r1);

    protected override void KernelBatched(float* x, int n, float* y, int r0, int r1)
        => FloatRowKernels.Batched<F32Elements>(_w.Pointer, Cols, x, n, y, Rows, r0, r1);
}
