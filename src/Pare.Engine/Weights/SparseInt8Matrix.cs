using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Pare.Engine.Kernels;

namespace Pare.Engine.Weights;

/// <summary>
/// Unstructured sparse weights with int8 values. Columns go in blocks of 64, each with a 64-bit occupancy mask and a
/// scale d = max|w| / 127 over its non-zeros; four blocks form a group. Two streams per row: fixed-size group
/// headers [4 masks][4 scales] (40 bytes) and the non-zero values in column order (≈ 10 + nnz bytes per 64 columns,
/// 0.66 bytes per weight at 50% sparsity). Because headers sit at fixed offsets, the only dependency between groups
/// is adding the masks' popcounts to the value pointer; no load waits for another load.
/// <list type="bullet">
/// <item>Masks are bit-transposed (column j at bit 8·(j mod 8) + j/8), so broadcasting one to all eight qwords and
/// testing bit j/8 of byte j yields the lane mask in two instructions.</item>
/// <item>Values are stored offset by 128 (u = q + 128, in 1..255), and vpexpandb fills the lanes of dropped columns
/// with 128, i.e. with q = 0: the expanded block goes straight into vpdpbusd (u8 × s8) as the unsigned operand,
/// without the |w| / sign(x, w) pair. The offset adds 128·Σx̂ over the block, which is removed exactly in integer
/// arithmetic by starting the block's accumulator at −128·Σx̂ (the activations' block sums).</item>
/// <item>Scales are the top 16 bits of an f32 (bf16, rounded to nearest), so four of them widen to f32 with two
/// instructions. q = round(w / d) is clamped to ±127: where d rounded down, the largest |w| moves by at most 2⁻⁸ of
/// itself, less than half a step. The largest |q| of a block is then always 127, so encoding the decoded weights
/// again gives the same scales and values.</item>
/// </list>
/// Zeros of the input are what is dropped: prune first (any pattern) to get the saving.
/// </summary>
public sealed unsafe class SparseInt8Matrix : Int8KernelMatrix
{
    public const int BlockColumns = 64;
    private const int GroupBlocks = 4;
    private const int HeaderBytes = GroupBlocks * 8 + GroupBlocks * 2;
    private const int ScalesOffset = GroupBlocks * 8;

    private static readonly Vector512<byte> LaneBit = Vector512.Create(Enumerable.Range(0, 64).Select(j => (byte)(1 << (j / 8))).ToArray());
    private static readonly Vector512<int> FirstPair = Vector512.Create(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);
    private static readonly Vector512<int> SecondPair = Vector512.Create(2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);

    private readonly AlignedBuffer _headers, _values;
    private readonly long[] _rowValues;
    private readonly int _groups;

    private SparseInt8Matrix(int rows, int cols, long nonZeros) : base(rows, cols, BlockColumns)
    {
        _groups = (BlocksPerRow + GroupBlocks - 1) / GroupBlocks;
        _headers = new AlignedBuffer((long)rows * _groups * HeaderBytes);
        _values = new AlignedBuffer(nonZeros);
        _rowValues = new long[rows + 1];
        NonZeros = nonZeros;
    }

    public long NonZeros { get; }
    public double Density => (double)NonZeros / ((long)Rows * Cols);

    private static ulong MaskBit(int j) => 1UL << (8 * (j % 8) + j / 8);

    /// <summary>The scale for a block whose largest |w| is amax: amax / 127 rounded to the nearest bf16 (ties to even).</summary>
    private static ushort ScaleBits(float amax)
    {
        uint bits = BitConverter.SingleToUInt32Bits(amax / 127f);
        return (ushort)((bits + 0x7FFF + (bits >> 16 & 1)) >> 16);
    }

    private static float ScaleValue(ushort bits) => BitConverter.UInt32BitsToSingle((uint)bits << 16);

    private byte* Header(int row, int block) => _headers.Pointer + ((long)row * _groups + block / GroupBlocks) * HeaderBytes;

    public static SparseInt8Matrix FromDense(ReadOnlySpan<float> w, int rows, int cols)
    {
        long nnz = 0;
        foreach (var v in w) if (v != 0) nnz++;
        var m = new SparseInt8Matrix(rows, cols, nnz);
        byte* values = m._values.Pointer;
        long at = 0;
        for (int r = 0; r < rows; r++)
        {
            m._rowValues[r] = at;
            var row = w.Slice(r * cols, cols);
            for (int b = 0; b < m.BlocksPerRow; b++)
            {
                int start = b * BlockColumns, len = Math.Min(cols - start, BlockColumns);
                var block = row.Slice(start, len);
                float amax = 0;
                ulong mask = 0;
                for (int j = 0; j < len; j++)
                {
                    if (block[j] == 0) continue;
                    mask |= MaskBit(j);
                    amax = MathF.Max(amax, MathF.Abs(block[j]));
                }
                ushort scale = ScaleBits(amax);
                float d = ScaleValue(scale);
                float id = d != 0 ? 1f / d : 0f;
                byte* header = m.Header(r, b);
                ((ulong*)header)[b % GroupBlocks] = mask;
                ((ushort*)(header + ScalesOffset))[b % GroupBlocks] = scale;
                for (int j = 0; j < len; j++)
                    if (block[j] != 0) values[at++] = (byte)(Math.Clamp(MathF.Round(block[j] * id, MidpointRounding.AwayFromZero), -127, 127) + 128);
            }
        }
        m._rowValues[rows] = at;
        return m;
    }

    public override string Format => WeightFormats.SparseInt8;
    public override long StorageBytes => _headers.Length + _values.Length + (long)_rowValues.Length * 8;

    public override float[] ToDense()
    {
        var result = new float[(long)Rows * Cols];
        for (int r = 0; r < Rows; r++)
        {
            byte* v = _values.Pointer + _rowValues[r];
            for (int b = 0; b < BlocksPerRow; b++)
            {
                byte* header = Header(r, b);
                ulong mask = ((ulong*)header)[b % GroupBlocks];
                float d = ScaleValue(((ushort*)(header + ScalesOffset))[b % GroupBlocks]);
                for (int j = 0; j < BlockColumns; j++)
                    if ((mask & MaskBit(j)) != 0)
                        result[(long)r * Cols + b * BlockColumns + j] = (*v++ - 128) * d;
            }
        }
        return result;
    }

    protected override void Kernel(sbyte* qx, float* dx, int* sx, float* y, int r0, int r1)
    {
        int blocks = BlocksPerRow;
        if (KernelDispatch.Level != SimdLevel.Avx512)
        {
            for (int r = r0; r < r1; r++) y[r] = DotScalar(Header(r, 0), _values.Pointer + _rowValues[r], qx, dx, blocks);
            return;
        }
        // Each block's accumulator starts at −128·Σx̂, cancelling the +128 offset of the stored values: lane 0 of
        // the block's 8 int32 partial sums gets it, the rest stay 0 (cols / 2 bytes of stack, e.g. 1 KiB for 2048).
        int* offset = stackalloc int[blocks * 8];
        for (int b = 0; b < blocks; b++) offset[8 * b] = -128 * sx[b];
        RowsAvx512(Header(r0, 0), _values.Pointer, _rowValues, qx, dx, offset, blocks, y, r0, r1);
    }

    /// <summary>y[r] for rows [r0, r1), whose headers start at h and follow one another.</summary>
    private static void RowsAvx512(byte* h, byte* values, long[] rowValues, sbyte* x0, float* dx0, int* offset0, int blocks, float* y, int r0, int r1)
    {
        var laneBit = LaneBit;
        var fill = Vector512.Create((byte)128);
        var firstPair = FirstPair;
        var secondPair = SecondPair;
        int fullGroups = blocks / GroupBlocks, rest = blocks % GroupBlocks;
        for (int r = r0; r < r1; r++)
        {
            byte* v = values + rowValues[r];
            sbyte* x = x0;
            float* dx = dx0;
            int* offset = offset0;
            var acc0 = Vector512<float>.Zero;
            var acc1 = Vector512<float>.Zero;
            for (byte* fullEnd = h + fullGroups * HeaderBytes; h < fullEnd; h += HeaderBytes, x += GroupBlocks * 64, dx += GroupBlocks, offset += GroupBlocks * 8)
            {
                ulong* masks = (ulong*)h;
                byte* v1 = v + Count(masks);
                byte* v2 = v1 + Count(masks + 1);
                byte* v3 = v2 + Count(masks + 2);
                var d0 = DotBlock(masks, v, x, offset, laneBit, fill);
                var d1 = DotBlock(masks + 1, v1, x + 64, offset + 8, laneBit, fill);
                var d2 = DotBlock(masks + 2, v2, x + 128, offset + 16, laneBit, fill);
                var d3 = DotBlock(masks + 3, v3, x + 192, offset + 24, laneBit, fill);
                v = v3 + Count(masks + 3);
                // Four bf16 scales → f32, times the activations' scales: one factor per block.
                var s = (Vector128.WidenLower(Vector128.CreateScalar(*(ulong*)(h + ScalesOffset)).AsUInt16()) << 16).AsSingle() * Vector128.Load(dx);
                var s512 = s.ToVector256Unsafe().ToVector512Unsafe();
                acc0 = Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(d0.ToVector512Unsafe().WithUpper(d1)), Avx512F.PermuteVar16x32(s512, firstPair), acc0);
                acc1 = Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(d2.ToVector512Unsafe().WithUpper(d3)), Avx512F.PermuteVar16x32(s512, secondPair), acc1);
            }
            var sum = acc0 + acc1;
            var acc = sum.GetLower() + sum.GetUpper();
            if (rest > 0)
            {
                for (int i = 0; i < rest; i++, x += 64, offset += 8)
                {
                    ulong* mask = (ulong*)h + i;
                    var d = DotBlock(mask, v, x, offset, laneBit, fill);
                    v += Count(mask);
                    float scale = ScaleValue(((ushort*)(h + ScalesOffset))[i]) * dx[i];
                    acc = Fma.MultiplyAdd(Avx.ConvertToVector256Single(d), Vector256.Create(scale), acc);
                }
                h += HeaderBytes;
            }
            y[r] = HorizontalSum.Of(acc);
        }
    }

    /// <summary>Eight int32 partial sums of one block's q·x̂ (the −128·Σx̂ start cancels the value offset).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> DotBlock(ulong* mask, byte* values, sbyte* x, int* start, Vector512<byte> laneBit, Vector512<byte> fill)
    {
        var lanes = Vector512.Equals(Avx512F.BroadcastScalarToVector512(Vector128.CreateScalarUnsafe(*mask)).AsByte() & laneBit, laneBit);
        // Register-form vpexpandb on a plain load (the buffer's slack covers reading past the last value): the
        // masked memory form is much slower on AMD cores.
        var w = Avx512Vbmi2.Expand(fill, lanes, Vector512.Load(values));
        var acc = AvxVnni.MultiplyWideningAndAdd(Vector256.Load(start), w.GetLower(), Vector256.Load(x));
        return AvxVnni.MultiplyWideningAndAdd(acc, w.GetUpper(), Vector256.Load(x + 32));
    }

    /// <summary>
    /// Non-zeros of a block. The volatile read keeps the JIT from sharing this load with DotBlock's: broadcasting
    /// the mask from memory is a plain load, from a general register a slower cross-domain move.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static nuint Count(ulong* mask) => (nuint)ulong.PopCount(Volatile.Read(ref *mask));

    private static float DotScalar(byte* h, byte* v, sbyte* x, float* dx, int blocks)
    {
        float sum = 0;
        for (int b = 0; b < blocks; b++)
        {
            byte* header = h + b / GroupBlocks * HeaderBytes;
            ulong mask = ((ulong*)header)[b % GroupBlocks];
            int dot = 0;
            for (int j = 0; j < BlockColumns; j++)
                if ((mask & MaskBit(j)) != 0)
                    dot += (*v++ - 128) * x[b * 64 + j];
            sum += dot * (ScaleValue(((ushort*)(header + ScalesOffset))[b % GroupBlocks]) * dx[b]);
        }
        return sum;
    }
}
