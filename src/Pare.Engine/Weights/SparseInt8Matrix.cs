using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Pare.Core.Tensors;
using Pare.Engine.Kernels;

namespace Pare.Engine.Weights;

/// <summary>
/// Unstructured sparse weights with int8 values, streamed in one sequential read per row. Columns go in blocks of
/// 64 with an f16 scale each (max|w| / 127 over the block's non-zeros) and a 64-bit occupancy mask; four blocks
/// form a group stored as [4 masks][4 scales][the non-zero values of the 4 blocks in column order], ≈ 10 + nnz
/// bytes per 64 columns (0.66 bytes per weight at 50% sparsity). Grouping lets the kernel find all four blocks'
/// values from the masks at once, so only one pointer advance per group depends on the previous group's loads.
/// Masks are stored bit-transposed — column j at bit 8·(j mod 8) + j/8 — so broadcasting one to all eight qwords
/// and testing bit j/8 of byte j yields the lane mask in two instructions; vpexpandb then loads the packed values
/// into their lanes for a dense int8 dot with the activations. Zeros of the input are what is dropped: prune
/// first (any pattern) to get the saving.
/// </summary>
public sealed unsafe class SparseInt8Matrix : Int8KernelMatrix
{
    public const int BlockColumns = 64;
    private const int GroupBlocks = 4;
    private const int GroupHeaderBytes = GroupBlocks * 10;

    private static readonly Vector512<byte> LaneBit = Vector512.Create(Enumerable.Range(0, 64).Select(j => (byte)(1 << (j / 8))).ToArray());

    private readonly AlignedBuffer _w;
    private readonly long[] _rowOffsets;

    private SparseInt8Matrix(int rows, int cols, AlignedBuffer w, long[] rowOffsets, long nonZeros) : base(rows, cols, BlockColumns)
    {
        _w = w;
        _rowOffsets = rowOffsets;
        NonZeros = nonZeros;
    }

    public long NonZeros { get; }
    public double Density => (double)NonZeros / ((long)Rows * Cols);

    private static ulong MaskBit(int j) => 1UL << (8 * (j % 8) + j / 8);

    public static SparseInt8Matrix FromDense(ReadOnlySpan<float> w, int rows, int cols)
    {
        int blocks = (cols + BlockColumns - 1) / BlockColumns, groups = (blocks + GroupBlocks - 1) / GroupBlocks;
        long nnz = 0;
        foreach (var v in w) if (v != 0) nnz++;
        var offsets = new long[rows + 1];
        var buffer = new AlignedBuffer((long)rows * groups * GroupHeaderBytes + nnz);
        long at = 0;
        for (int r = 0; r < rows; r++)
        {
            offsets[r] = at;
            var row = w.Slice(r * cols, cols);
            for (int g = 0; g < groups; g++)
            {
                byte* header = buffer.Pointer + at;
                sbyte* values = (sbyte*)(header + GroupHeaderBytes);
                int k = 0;
                for (int i = 0; i < GroupBlocks; i++)
                {
                    int start = (g * GroupBlocks + i) * BlockColumns, len = Math.Clamp(cols - start, 0, BlockColumns);
                    var block = len > 0 ? row.Slice(start, len) : default;
                    float amax = 0;
                    ulong mask = 0;
                    for (int j = 0; j < len; j++)
                    {
                        if (block[j] == 0) continue;
                        mask |= MaskBit(j);
                        amax = MathF.Max(amax, MathF.Abs(block[j]));
                    }
                    float d = amax / 127f;
                    float id = d != 0 ? 1f / d : 0f;
                    ((ulong*)header)[i] = mask;
                    ((ushort*)(header + 32))[i] = GgmlQuants.FloatToHalfBits(d);
                    for (int j = 0; j < len; j++)
                        if (block[j] != 0) values[k++] = (sbyte)MathF.Round(block[j] * id, MidpointRounding.AwayFromZero);
                }
                at += GroupHeaderBytes + k;
            }
        }
        offsets[rows] = at;
        return new SparseInt8Matrix(rows, cols, buffer, offsets, nnz);
    }

    public override string Format => WeightFormats.SparseInt8;
    public override long StorageBytes => _rowOffsets[Rows] + (long)_rowOffsets.Length * 8;

    public override float[] ToDense()
    {
        var result = new float[(long)Rows * Cols];
        for (int r = 0; r < Rows; r++)
        {
            byte* p = _w.Pointer + _rowOffsets[r];
            for (int b0 = 0; b0 < BlocksPerRow; b0 += GroupBlocks)
            {
                sbyte* values = (sbyte*)(p + GroupHeaderBytes);
                int k = 0;
                for (int i = 0; i < GroupBlocks; i++)
                {
                    ulong mask = ((ulong*)p)[i];
                    float d = HalfConvert.ToFloat(((ushort*)(p + 32))[i]);
                    for (int j = 0; j < BlockColumns; j++)
                        if ((mask & MaskBit(j)) != 0)
                            result[(long)r * Cols + (b0 + i) * BlockColumns + j] = values[k++] * d;
                }
                p += GroupHeaderBytes + k;
            }
        }
        return result;
    }

    protected override void Kernel(sbyte* qx, float* dx, int* sx, float* y, int r0, int r1)
    {
        int blocks = BlocksPerRow;
        bool simd = KernelDispatch.Level == SimdLevel.Avx512;
        for (int r = r0; r < r1; r++)
        {
            byte* row = _w.Pointer + _rowOffsets[r];
            y[r] = simd ? DotAvx512(row, qx, dx, blocks) : DotScalar(row, qx, dx, blocks);
        }
    }

    private static float DotAvx512(byte* p, sbyte* x, float* dx, int blocks)
    {
        var acc0 = Vector256<float>.Zero;
        var acc1 = Vector256<float>.Zero;
        var laneBit = LaneBit;
        for (int b = 0; b < blocks; b += GroupBlocks)
        {
            ulong* masks = (ulong*)p;
            ushort* scales = (ushort*)(p + 32);
            sbyte* v = (sbyte*)(p + GroupHeaderBytes);
            if (blocks - b >= GroupBlocks)
            {
                ulong m0 = masks[0], m1 = masks[1], m2 = masks[2], m3 = masks[3];
                sbyte* v1 = v + BitOperations.PopCount(m0);
                sbyte* v2 = v1 + BitOperations.PopCount(m1);
                sbyte* v3 = v2 + BitOperations.PopCount(m2);
                acc0 = DotBlock(m0, v, x + b * 64, HalfConvert.Lookup(scales[0]) * dx[b], laneBit, acc0);
                acc1 = DotBlock(m1, v1, x + b * 64 + 64, HalfConvert.Lookup(scales[1]) * dx[b + 1], laneBit, acc1);
                acc0 = DotBlock(m2, v2, x + b * 64 + 128, HalfConvert.Lookup(scales[2]) * dx[b + 2], laneBit, acc0);
                acc1 = DotBlock(m3, v3, x + b * 64 + 192, HalfConvert.Lookup(scales[3]) * dx[b + 3], laneBit, acc1);
                p = (byte*)(v3 + BitOperations.PopCount(m3));
            }
            else
            {
                for (int i = 0; i < blocks - b; i++)
                {
                    acc0 = DotBlock(masks[i], v, x + (b + i) * 64, HalfConvert.Lookup(scales[i]) * dx[b + i], laneBit, acc0);
                    v += BitOperations.PopCount(masks[i]);
                }
                p = (byte*)v;
            }
        }
        return Vector256.Sum(acc0 + acc1);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> DotBlock(ulong mask, sbyte* values, sbyte* x, float scale, Vector512<byte> laneBit, Vector256<float> acc)
    {
        var lanes = Vector512.Equals(Vector512.Create(mask).AsByte() & laneBit, laneBit).AsSByte();
        // Register-form vpexpandb on a plain load (the buffer's slack covers reading past the last value): the
        // masked memory form is much slower on AMD cores.
        var w = Avx512Vbmi2.Expand(Vector512<sbyte>.Zero, lanes, Vector512.Load(values));
        var xv = Vector512.Load(x);
        var dot = Int8Dot.Signed(w.GetLower(), xv.GetLower()) + Int8Dot.Signed(w.GetUpper(), xv.GetUpper());
        return Fma.MultiplyAdd(Avx.ConvertToVector256Single(dot), Vector256.Create(scale), acc);
    }

    private static float DotScalar(byte* p, sbyte* x, float* dx, int blocks)
    {
        float sum = 0;
        for (int b0 = 0; b0 < blocks; b0 += GroupBlocks)
        {
            sbyte* values = (sbyte*)(p + GroupHeaderBytes);
            int k = 0;
            for (int i = 0; i < Math.Min(GroupBlocks, blocks - b0); i++)
            {
                ulong mask = ((ulong*)p)[i];
                int dot = 0;
                for (int j = 0; j < BlockColumns; j++)
                    if ((mask & MaskBit(j)) != 0)
                        dot += values[k++] * x[(b0 + i) * 64 + j];
                sum += dot * (HalfConvert.ToFloat(((ushort*)(p + 32))[i]) * dx[b0 + i]);
            }
            p += GroupHeaderBytes + k;
        }
        return sum;
    }
}
