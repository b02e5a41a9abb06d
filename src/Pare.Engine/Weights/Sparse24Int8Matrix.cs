using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Pare.Core.Tensors;
using Pare.Engine.Kernels;

namespace Pare.Engine.Weights;

/// <summary>
/// 2:4 semi-structured sparse weights with int8 values: in every group of 4 consecutive columns 2 values are kept.
/// Per block of 64 columns (42 bytes, 0.66 bytes per weight): an f16 scale, the kept values' 2-bit positions within
/// their group (value k's at bits 2k..2k+1 of a 64-bit word) and the 32 kept values as int8 (q = round(w / d),
/// d = max|w| / 127 over the block). The AVX-512 kernel expands positions to byte indices with vpmultishiftqb,
/// gathers the matching activations with vpermb and takes an int8 dot with them.
/// Built from a 2:4-pruned dense matrix; where a group has more than 2 non-zeros the 2 of largest magnitude are
/// kept (magnitude 2:4 pruning).
/// </summary>
public sealed unsafe class Sparse24Int8Matrix : Int8KernelMatrix
{
    public const int BlockColumns = 64;
    private const int BlockBytes = 2 + 8 + 32;

    private static readonly Vector512<byte> ShiftControl = Vector512.Create(Enumerable.Range(0, 64).Select(j => (byte)(2 * j % 64)).ToArray());
    private static readonly Vector512<byte> GroupBase = Vector512.Create(Enumerable.Range(0, 64).Select(j => (byte)(j < 32 ? 4 * (j / 2) : 0)).ToArray());

    private readonly AlignedBuffer _w;

    private Sparse24Int8Matrix(int rows, int cols) : base(rows, cols, BlockColumns)
        => _w = new AlignedBuffer((long)rows * BlocksPerRow * BlockBytes);

    public static Sparse24Int8Matrix FromDense(ReadOnlySpan<float> w, int rows, int cols)
    {
        var m = new Sparse24Int8Matrix(rows, cols);
        var row = new float[m.PaddedCols];
        Span<int> keep = stackalloc int[32];
        Span<float> kept = stackalloc float[32];
        for (int r = 0; r < rows; r++)
        {
            row.AsSpan().Clear();
            w.Slice(r * cols, cols).CopyTo(row);
            for (int b = 0; b < m.BlocksPerRow; b++)
            {
                byte* blk = m.BlockPointer(r, b);
                ulong positions = 0;
                float amax = 0;
                for (int g = 0; g < 16; g++)
                {
                    int c0 = b * 64 + g * 4;
                    // Two largest magnitudes of the group (first index on ties), stored in column order.
                    int best = 0, second = 1;
                    if (MathF.Abs(row[c0 + 1]) > MathF.Abs(row[c0])) (best, second) = (1, 0);
                    for (int i = 2; i < 4; i++)
                    {
                        float a = MathF.Abs(row[c0 + i]);
                        if (a > MathF.Abs(row[c0 + best])) (best, second) = (i, best);
                        else if (a > MathF.Abs(row[c0 + second])) second = i;
                    }
                    int lo = Math.Min(best, second), hi = Math.Max(best, second);
                    keep[2 * g] = lo;
                    keep[2 * g + 1] = hi;
                    kept[2 * g] = row[c0 + lo];
                    kept[2 * g + 1] = row[c0 + hi];
                    positions |= (ulong)lo << (4 * g) | (ulong)hi << (4 * g + 2);
                    amax = MathF.Max(amax, MathF.Max(MathF.Abs(kept[2 * g]), MathF.Abs(kept[2 * g + 1])));
                }
                float d = amax / 127f;
                float id = d != 0 ? 1f / d : 0f;
                *(ushort*)blk = GgmlQuants.FloatToHalfBits(d);
                *(ulong*)(blk + 2) = positions;
                for (int k = 0; k < 32; k++) ((sbyte*)(blk + 10))[k] = (sbyte)MathF.Round(kept[k] * id, MidpointRounding.AwayFromZero);
            }
        }
        return m;
    }

    public override string Format => WeightFormats.Sparse24Int8;
    public override long StorageBytes => _w.Length;

    private byte* BlockPointer(int row, int block) => _w.Pointer + ((long)row * BlocksPerRow + block) * BlockBytes;

    public override float[] ToDense()
    {
        var result = new float[(long)Rows * Cols];
        for (int r = 0; r < Rows; r++)
        {
            for (int b = 0; b < BlocksPerRow; b++)
            {
                byte* blk = BlockPointer(r, b);
                float d = HalfConvert.ToFloat(*(ushort*)blk);
                ulong pos = *(ulong*)(blk + 2);
                for (int k = 0; k < 32; k++)
                {
                    int col = b * 64 + 4 * (k / 2) + (int)(pos >> (2 * k) & 3);
                    if (col < Cols) result[(long)r * Cols + col] = ((sbyte*)(blk + 10))[k] * d;
                }
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
            byte* row = BlockPointer(r, 0);
            y[r] = simd ? DotAvx512(row, qx, dx, blocks) : DotScalar(row, qx, dx, blocks);
        }
    }

    private static float DotAvx512(byte* w, sbyte* x, float* dx, int blocks)
    {
        var acc = Vector256<float>.Zero;
        var three = Vector512.Create((byte)3);
        var control = ShiftControl;
        var groupBase = GroupBase;
        for (int b = 0; b < blocks; b++)
        {
            byte* blk = w + b * BlockBytes;
            var idx = (Avx512Vbmi.MultiShift(control, Vector512.Create(*(ulong*)(blk + 2))) & three) + groupBase;
            var gathered = Avx512Vbmi.PermuteVar64x8(Vector512.Load(x + b * 64), idx.AsSByte()).GetLower();
            var p = Int8Dot.Signed(Vector256.Load((sbyte*)(blk + 10)), gathered);
            acc = Fma.MultiplyAdd(Avx.ConvertToVector256Single(p), Vector256.Create(HalfConvert.Lookup(*(ushort*)blk) * dx[b]), acc);
        }
        return Vector256.Sum(acc);
    }

    private static float DotScalar(byte* w, sbyte* x, float* dx, int blocks)
    {
        float sum = 0;
        for (int b = 0; b < blocks; b++)
        {
            byte* blk = w + b * BlockBytes;
            ulong pos = *(ulong*)(blk + 2);
            int dot = 0;
            for (int k = 0; k < 32; k++)
                dot += ((sbyte*)(blk + 10))[k] * x[b * 64 + 4 * (k / 2) + (int)(pos >> (2 * k) & 3)];
            sum += dot * (HalfConvert.ToFloat(*(ushort*)blk) * dx[b]);
        }
        return sum;
    }
}
