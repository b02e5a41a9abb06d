using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Pare.Core.Tensors;
using Pare.Engine.Kernels;

namespace Pare.Engine.Weights;

/// <summary>
/// int8 weights in GGUF's q8_0 blocks (f16 scale + 32 int8 per 32 columns, 34 bytes), so q8_0 tensors load by
/// copying. Rows whose length is not a multiple of 32 (stories260K's 172) are padded with zero weights to a
/// whole block — not a GGUF layout then, but the product is unchanged. The kernel multiplies by q8_0-quantised
/// activations (llama.cpp's vec_dot_q8_0_q8_0).
/// </summary>
public sealed unsafe class Q8_0Matrix : Int8KernelMatrix
{
    private readonly AlignedBuffer _w;

    private Q8_0Matrix(int rows, int cols) : base(rows, cols, GgmlQuants.BlockSize)
        => _w = new AlignedBuffer((long)rows * BlocksPerRow * GgmlQuants.Q8_0BlockBytes);

    /// <summary>Wraps q8_0 bytes as GGUF stores them (cols a multiple of 32).</summary>
    public static Q8_0Matrix FromBlocks(ReadOnlySpan<byte> blocks, int rows, int cols)
    {
        var m = new Q8_0Matrix(rows, cols);
        if (cols % GgmlQuants.BlockSize != 0 || blocks.Length != m._w.Length)
            throw new ArgumentException($"{blocks.Length} bytes are not q8_0 blocks of a {rows}×{cols} matrix");
        blocks.CopyTo(new Span<byte>(m._w.Pointer, blocks.Length));
        return m;
    }

    /// <summary>Quantises f32 weights with llama.cpp's q8_0 rounding, row by row.</summary>
    public static Q8_0Matrix Quantize(ReadOnlySpan<float> w, int rows, int cols)
    {
        var m = new Q8_0Matrix(rows, cols);
        var row = new float[m.PaddedCols];
        long rowBytes = (long)m.BlocksPerRow * GgmlQuants.Q8_0BlockBytes;
        for (int r = 0; r < rows; r++)
        {
            w.Slice(r * cols, cols).CopyTo(row);
            GgmlQuants.QuantizeQ8_0(row, new Span<byte>(m._w.Pointer + r * rowBytes, (int)rowBytes));
        }
        return m;
    }

    public override string Format => WeightFormats.Q8_0;
    public override long StorageBytes => _w.Length;

    /// <summary>The blocks as GGUF stores them (only when Cols is a multiple of 32).</summary>
    public ReadOnlySpan<byte> Blocks => Cols % GgmlQuants.BlockSize == 0
        ? new(_w.Pointer, checked((int)_w.Length))
        : throw new InvalidOperationException($"rows of {Cols} values are padded; not a GGUF q8_0 layout");

    public override float[] ToDense()
    {
        var result = new float[(long)Rows * Cols];
        var row = new float[PaddedCols];
        long rowBytes = (long)BlocksPerRow * GgmlQuants.Q8_0BlockBytes;
        for (int r = 0; r < Rows; r++)
        {
            GgmlQuants.DequantizeQ8_0(new ReadOnlySpan<byte>(_w.Pointer + r * rowBytes, (int)rowBytes), row);
            row.AsSpan(0, Cols).CopyTo(result.AsSpan(r * Cols, Cols));
        }
        return result;
    }

    protected override void Kernel(sbyte* qx, float* dx, int* sx, float* y, int r0, int r1)
    {
        int blocks = BlocksPerRow;
        long rowBytes = (long)blocks * GgmlQuants.Q8_0BlockBytes;
        bool simd = KernelDispatch.Level >= SimdLevel.Avx2;
        for (int r = r0; r < r1; r++)
        {
            byte* row = _w.Pointer + r * rowBytes;
            y[r] = simd ? DotSimd(row, qx, dx, blocks) : DotScalar(row, qx, dx, blocks);
        }
    }

    /// <summary>
    /// Blocks of four tokens over row chunks that stay in L1: each weight block is loaded and its |w| taken once
    /// for four tokens. Per token the chains, block pairing and scale products are those of <see cref="DotSimd"/>,
    /// so results equal one-token results bit for bit.
    /// </summary>
    protected override void KernelBatched(sbyte* qx, float* dx, int* sx, int n, float* y, int r0, int r1)
    {
        if (KernelDispatch.Level < SimdLevel.Avx2 || n < 4)
        {
            base.KernelBatched(qx, dx, sx, n, y, r0, r1);
            return;
        }
        int blocks = BlocksPerRow, padded = PaddedCols;
        long rowBytes = (long)blocks * GgmlQuants.Q8_0BlockBytes;
        int chunk = (int)Math.Clamp(16 * 1024 / rowBytes, 1, 64);
        for (int c0 = r0; c0 < r1; c0 += chunk)
        {
            int c1 = Math.Min(r1, c0 + chunk), t = 0;
            for (; t + 4 <= n; t += 4)
            {
                for (int r = c0; r < c1; r++)
                {
                    var s = DotSimd4(_w.Pointer + r * rowBytes, qx + (long)t * padded, padded, dx + (long)t * blocks, blocks);
                    for (int i = 0; i < 4; i++) y[(long)(t + i) * Rows + r] = s.GetElement(i);
                }
            }
            for (; t < n; t++)
            {
                for (int r = c0; r < c1; r++)
                    y[(long)t * Rows + r] = DotSimd(_w.Pointer + r * rowBytes, qx + (long)t * padded, dx + (long)t * blocks, blocks);
            }
        }
    }

    private static Vector128<float> DotSimd4(byte* w, sbyte* x, int xStride, float* dx, int blocks)
    {
        Vector256<float> a00 = default, a01 = default, a10 = default, a11 = default;
        Vector256<float> a20 = default, a21 = default, a30 = default, a31 = default;
        sbyte* x1 = x + xStride, x2 = x1 + xStride, x3 = x2 + xStride;
        float* d1 = dx + blocks, d2 = d1 + blocks, d3 = d2 + blocks;
        for (int b = 0; b < blocks; b++)
        {
            byte* blk = w + b * 34;
            // As in the float kernels: prefetch ahead, or four tokens' work per block starves the stream.
            if ((b & 1) == 0) Sse.Prefetch0(blk + 4096);
            var raw = Vector256.Load((sbyte*)(blk + 2));
            var abs = Avx2.Abs(raw);
            float ws = HalfConvert.Lookup(*(ushort*)blk);
            int o = b * 32;
            var p0 = Avx.ConvertToVector256Single(Int8Dot.Unsigned(abs, Avx2.Sign(Vector256.Load(x + o), raw)));
            var p1 = Avx.ConvertToVector256Single(Int8Dot.Unsigned(abs, Avx2.Sign(Vector256.Load(x1 + o), raw)));
            var p2 = Avx.ConvertToVector256Single(Int8Dot.Unsigned(abs, Avx2.Sign(Vector256.Load(x2 + o), raw)));
            var p3 = Avx.ConvertToVector256Single(Int8Dot.Unsigned(abs, Avx2.Sign(Vector256.Load(x3 + o), raw)));
            // Even blocks feed the first chain and odd blocks the second, as in DotSimd.
            if ((b & 1) == 0)
            {
                a00 = Fma.MultiplyAdd(p0, Vector256.Create(ws * dx[b]), a00);
                a10 = Fma.MultiplyAdd(p1, Vector256.Create(ws * d1[b]), a10);
                a20 = Fma.MultiplyAdd(p2, Vector256.Create(ws * d2[b]), a20);
                a30 = Fma.MultiplyAdd(p3, Vector256.Create(ws * d3[b]), a30);
            }
            else
            {
                a01 = Fma.MultiplyAdd(p0, Vector256.Create(ws * dx[b]), a01);
                a11 = Fma.MultiplyAdd(p1, Vector256.Create(ws * d1[b]), a11);
                a21 = Fma.MultiplyAdd(p2, Vector256.Create(ws * d2[b]), a21);
                a31 = Fma.MultiplyAdd(p3, Vector256.Create(ws * d3[b]), a31);
            }
        }
        return Vector128.Create(Vector256.Sum(a00 + a01), Vector256.Sum(a10 + a11), Vector256.Sum(a20 + a21), Vector256.Sum(a30 + a31));
    }

    private static float DotSimd(byte* w, sbyte* x, float* dx, int blocks)
    {
        var acc0 = Vector256<float>.Zero;
        var acc1 = Vector256<float>.Zero;
        int b = 0;
        for (; b + 1 < blocks; b += 2)
        {
            byte* b0 = w + b * 34;
            var p0 = Int8Dot.Signed(Vector256.Load((sbyte*)(b0 + 2)), Vector256.Load(x + b * 32));
            var p1 = Int8Dot.Signed(Vector256.Load((sbyte*)(b0 + 36)), Vector256.Load(x + b * 32 + 32));
            acc0 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(p0), Vector256.Create(HalfConvert.Lookup(*(ushort*)b0) * dx[b]), acc0);
            acc1 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(p1), Vector256.Create(HalfConvert.Lookup(*(ushort*)(b0 + 34)) * dx[b + 1]), acc1);
        }
        if (b < blocks)
        {
            byte* b0 = w + b * 34;
            var p0 = Int8Dot.Signed(Vector256.Load((sbyte*)(b0 + 2)), Vector256.Load(x + b * 32));
            acc0 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(p0), Vector256.Create(HalfConvert.Lookup(*(ushort*)b0) * dx[b]), acc0);
        }
        return Vector256.Sum(acc0 + acc1);
    }

    private static float DotScalar(byte* w, sbyte* x, float* dx, int blocks)
    {
        float sum = 0;
        for (int b = 0; b < blocks; b++)
        {
            byte* blk = w + b * 34;
            int dot = 0;
            for (int i = 0; i < 32; i++) dot += (sbyte)blk[2 + i] * x[b * 32 + i];
            sum += dot * (HalfConvert.ToFloat(*(ushort*)blk) * dx[b]);
        }
        return sum;
    }
}
