using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Pare.Core.Tensors;
using Pare.Engine.Kernels;

namespace Pare.Engine.Weights;

/// <summary>
/// int4 weights in GGUF's q4_0 blocks (f16 scale d + 16 bytes of nibbles q per 32 columns, w = d·(q − 8)), so q4_0
/// tensors load by copying; rows that are not whole blocks are zero-padded as in <see cref="Q8_0Matrix"/>. The
/// kernel takes Σ q·x with the unsigned nibbles directly and subtracts 8·Σx per block afterwards.
/// </summary>
public sealed unsafe class Q4_0Matrix : Int8KernelMatrix
{
    private readonly AlignedBuffer _w;

    private Q4_0Matrix(int rows, int cols) : base(rows, cols, GgmlQuants.BlockSize)
        => _w = new AlignedBuffer((long)rows * BlocksPerRow * GgmlQuants.Q4_0BlockBytes);

    /// <summary>Wraps q4_0 bytes as GGUF stores them (cols a multiple of 32).</summary>
    public static Q4_0Matrix FromBlocks(ReadOnlySpan<byte> blocks, int rows, int cols)
    {
        var m = new Q4_0Matrix(rows, cols);
        if (cols % GgmlQuants.BlockSize != 0 || blocks.Length != m._w.Length)
            throw new ArgumentException($"{blocks.Length} bytes are not q4_0 blocks of a {rows}×{cols} matrix");
        blocks.CopyTo(new Span<byte>(m._w.Pointer, blocks.Length));
        return m;
    }

    /// <summary>Quantises f32 weights with llama.cpp's q4_0 rounding, row by row.</summary>
    public static Q4_0Matrix Quantize(ReadOnlySpan<float> w, int rows, int cols)
    {
        var m = new Q4_0Matrix(rows, cols);
        var row = new float[m.PaddedCols];
        long rowBytes = (long)m.BlocksPerRow * GgmlQuants.Q4_0BlockBytes;
        for (int r = 0; r < rows; r++)
        {
            w.Slice(r * cols, cols).CopyTo(row);
            GgmlQuants.QuantizeQ4_0(row, new Span<byte>(m._w.Pointer + r * rowBytes, (int)rowBytes));
        }
        return m;
    }

    public override string Format => WeightFormats.Q4_0;
    public override long StorageBytes => _w.Length;

    /// <summary>The blocks as GGUF stores them (only when Cols is a multiple of 32).</summary>
    public ReadOnlySpan<byte> Blocks => Cols % GgmlQuants.BlockSize == 0
        ? new(_w.Pointer, checked((int)_w.Length))
        : throw new InvalidOperationException($"rows of {Cols} values are padded; not a GGUF q4_0 layout");

    public override float[] ToDense()
    {
        var result = new float[(long)Rows * Cols];
        var row = new float[PaddedCols];
        long rowBytes = (long)BlocksPerRow * GgmlQuants.Q4_0BlockBytes;
        for (int r = 0; r < Rows; r++)
        {
            GgmlQuants.DequantizeQ4_0(new ReadOnlySpan<byte>(_w.Pointer + r * rowBytes, (int)rowBytes), row);
            row.AsSpan(0, Cols).CopyTo(result.AsSpan(r * Cols, Cols));
        }
        return result;
    }

    protected override void Kernel(sbyte* qx, float* dx, int* sx, float* y, int r0, int r1)
    {
        int blocks = BlocksPerRow;
        long rowBytes = (long)blocks * GgmlQuants.Q4_0BlockBytes;
        bool simd = KernelDispatch.Level >= SimdLevel.Avx2;
        for (int r = r0; r < r1; r++)
        {
            byte* row = _w.Pointer + r * rowBytes;
            y[r] = simd ? DotSimd(row, qx, dx, sx, blocks) : DotScalar(row, qx, dx, sx, blocks);
        }
    }

    private static float DotSimd(byte* w, sbyte* x, float* dx, int* sx, int blocks)
    {
        var acc0 = Vector256<float>.Zero;
        var acc1 = Vector256<float>.Zero;
        var low = Vector256.Create((byte)0x0F);
        // One broadcast load per block; the upper half shifted by 4 gives the high nibbles (columns 16..31).
        var nibbleShift = Vector256.Create(0UL, 0UL, 4UL, 4UL);
        // Σ(q − 8)·x = Σ q·x − 8·Σx: subtracting Σx from each of the 8 int32 lanes removes 8·Σx from their sum.
        int b = 0;
        for (; b + 1 < blocks; b += 2)
        {
            byte* b0 = w + b * 18;
            var q0 = Avx2.ShiftRightLogicalVariable(Avx2.BroadcastVector128ToVector256(b0 + 2).AsUInt64(), nibbleShift).AsByte() & low;
            var q1 = Avx2.ShiftRightLogicalVariable(Avx2.BroadcastVector128ToVector256(b0 + 20).AsUInt64(), nibbleShift).AsByte() & low;
            var p0 = Int8Dot.Unsigned(q0, Vector256.Load(x + b * 32)) - Vector256.Create(sx[b]);
            var p1 = Int8Dot.Unsigned(q1, Vector256.Load(x + b * 32 + 32)) - Vector256.Create(sx[b + 1]);
            acc0 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(p0), Vector256.Create(HalfConvert.Lookup(*(ushort*)b0) * dx[b]), acc0);
            acc1 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(p1), Vector256.Create(HalfConvert.Lookup(*(ushort*)(b0 + 18)) * dx[b + 1]), acc1);
        }
        if (b < blocks)
        {
            byte* b0 = w + b * 18;
            var q0 = Avx2.ShiftRightLogicalVariable(Avx2.BroadcastVector128ToVector256(b0 + 2).AsUInt64(), nibbleShift).AsByte() & low;
            var p0 = Int8Dot.Unsigned(q0, Vector256.Load(x + b * 32)) - Vector256.Create(sx[b]);
            acc0 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(p0), Vector256.Create(HalfConvert.Lookup(*(ushort*)b0) * dx[b]), acc0);
        }
        return HorizontalSum.Of(acc0 + acc1);
    }

    private static float DotScalar(byte* w, sbyte* x, float* dx, int* sx, int blocks)
    {
        float sum = 0;
        for (int b = 0; b < blocks; b++)
        {
            byte* blk = w + b * 18;
            int dot = 0;
            for (int i = 0; i < 16; i++)
                dot += ((blk[2 + i] & 0x0F) - 8) * x[b * 32 + i] + ((blk[2 + i] >> 4) - 8) * x[b * 32 + 16 + i];
            sum += dot * (HalfConvert.ToFloat(*(ushort*)blk) * dx[b]);
        }
        return sum;
    }
}
