using Pare.Core.Tensors;
using Pare.Engine.Kernels;

namespace Pare.Engine.Weights;

/// <summary>16-bit float weights, f16 (IEEE half) or bf16 (upper half of an f32), widened to f32 in the kernel.</summary>
public sealed unsafe class HalfMatrix : FloatKernelMatrix
{
    private readonly AlignedBuffer _w;
    private readonly bool _bf16;

    /// <summary>Wraps stored 16-bit values (f16 or bf16 bits, row-major).</summary>
    public HalfMatrix(ReadOnlySpan<byte> bits, int rows, int cols, bool bf16) : base(rows, cols)
    {
        if (bits.Length != (long)rows * cols * 2) throw new ArgumentException($"{bits.Length} bytes for a {rows}×{cols} 16-bit matrix");
        _bf16 = bf16;
        _w = new AlignedBuffer(bits.Length);
        bits.CopyTo(new Span<byte>(_w.Pointer, bits.Length));
    }

    /// <summary>Rounds f32 weights to f16 or bf16 (round to nearest even).</summary>
    public static HalfMatrix FromFloat(ReadOnlySpan<float> w, int rows, int cols, bool bf16)
    {
        var bits = new ushort[w.Length];
        for (int i = 0; i < w.Length; i++)
            bits[i] = bf16 ? TensorCodec.FloatToBFloat16(w[i]) : GgmlQuants.FloatToHalfBits(w[i]);
        return new HalfMatrix(System.Runtime.InteropServices.MemoryMarshal.AsBytes(bits.AsSpan()), rows, cols, bf16);
    }

    public override string Format => _bf16 ? WeightFormats.BF16 : WeightFormats.F16;
    public override long StorageBytes => _w.Length;

    /// <summary>The stored bits, as a tensor would hold them.</summary>
    public ReadOnlySpan<byte> Bits => new(_w.Pointer, checked((int)_w.Length));

    public override float[] ToDense()
    {
        var result = new float[(long)Rows * Cols];
        TensorCodec.Decode(_bf16 ? DType.BF16 : DType.F16, Bits, result);
        return result;
    }

    protected override void Kernel(float* x, float* y, int r0, int r1)
    {
        if (_bf16) FloatRowKernels.Rows<BF16Elements>(_w.Pointer, Cols, x, y, r0, r1);
        else FloatRowKernels.Rows<F16Elements>(_w.Pointer, Cols, x, y, r0, r1);
    }

    protected override void KernelBatched(float* x, int n, float* y, int r0, int r1)
    {
        if (_bf16) FloatRowKernels.Batched<BF16Elements>(_w.Pointer, Cols, x, n, y, Rows, r0, r1);
        else FloatRowKernels.Batched<F16Elements>(_w.Pointer, Cols, x, n, y, Rows, r0, r1);
    }
}
