using System.Numerics;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Pare.Core.Tensors;
using Pare.Engine.Kernels;

namespace Pare.Engine.Weights;

/// <summary>
/// Unstructured sparse weights with int8 values, streamed block by block: per block of 64 columns a 64-bit
/// occupancy mask, an f16 scale (max|w| / 127 over the block) and the non-zero values packed in column order,
/// so a row is one sequential read of ≈ 10 + nnz bytes per 64 columns (0.66 bytes per weight at 50% sparsity).
/// The mask is stored bit-transposed — column j at bit 8·(j mod 8) + j/8 — so that broadcasting it to all eight
/// qwords and testing bit j/8 of byte j gives the lane mask in two instructions; vpexpandb then loads the packed
/// values straight into their lanes for a dense int8 dot with the activations. Zeros of the input are what is
/// dropped: prune first (any pattern) to get the saving.
/// </summary>
public sealed unsafe class SparseInt8Matrix : Int8KernelMatrix
{
    public const int BlockColumns = 64;
    private const int HeaderBytes = 10;

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

    public static SparseInt8Matrix FromDense(ReadOnlySpan<float> w, int rows, int cols)
    {
        int blocks = (cols + BlockColumns - 1) / BlockColumns;
        long nnz = 0;
        foreach (var v in w) if (v != 0) nnz++;
        var offsets = new long[rows + 1];
        var buffer = new AlignedBuffer((long)rows * blocks * HeaderBytes + nnz);
        long at = 0;
        for (int r = 0; r < rows; r++)
        {
            offsets[r] = at;
            var row = w.Slice(r * cols, cols);
            for (int b = 0; b < blocks; b++)
            {
                int start = b * BlockColumns, len = Math.Min(BlockColumns, cols - start);
                var values = row.Slice(start, len);
                float amax = 0;
                ulong mask = 0;
                for (int j = 0; j < len; j++)
                {
                    if (values[j] == 0) continue;
                    mask |= 1UL << (8 * (j % 8) + j / 8);
                    amax = MathF.Max(amax, MathF.Abs(values[j]));
                }
                float d = amax / 127f;
                float id = d != 0 ? 1f / d : 0f;
                byte* blk = buffer.Pointer + at;
                *(ulong*)blk = mask;
                *(ushort*)(blk + 8) = GgmlQuants.FloatToHalfBits(d);
                int k = 0;
                for (int j = 0; j < len; j++)
                    if (values[j] != 0) ((sbyte*)(blk + HeaderBytes))[k++] = (sbyte)MathF.Round(values[j] * id, MidpointRounding.AwayFromZero);
                at += HeaderBytes + k;
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
            for (int b = 0; b < BlocksPerRow; b++)
            {
                ulong mask = *(ulong*)p;
                float d = HalfConvert.ToFloat(*(ushort*)(p + 8));
                int k = 0;
                for (int j = 0; j < BlockColumns; j++)
                    if ((mask >> (8 * (j % 8) + j / 8) & 1) != 0)
                        result[(long)r * Cols + b * BlockColumns + j] = ((sbyte*)(p + HeaderBytes))[k++] * d;
                p += HeaderBytes + k;
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
        var acc = Vector256<float>.Zero;
        var laneBit = LaneBit;
        for (int b = 0; b < blocks; b++)
        {
            ulong m = *(ulong*)p;
            var lanes = Vector512.Equals(Vector512.Create(m).AsByte() & laneBit, laneBit).AsSByte();
            var w = Avx512Vbmi2.ExpandLoad((sbyte*)(p + HeaderBytes), lanes, Vector512<sbyte>.Zero);
            var xv = Vector512.Load(x + b * 64);
            var dot = Int8Dot.Signed(w.GetLower(), xv.GetLower()) + Int8Dot.Signed(w.GetUpper(), xv.GetUpper());
            acc = Fma.MultiplyAdd(Avx.ConvertToVector256Single(dot), Vector256.Create(HalfConvert.ToFloat(*(ushort*)(p + 8)) * dx[b]), acc);
            p += HeaderBytes + BitOperations.PopCount(m);
        }
        return Vector256.Sum(acc);
    }

    private static float DotScalar(byte* p, sbyte* x, float* dx, int blocks)
    {
        float sum = 0;
        for (int b = 0; b < blocks; b++)
        {
            ulong mask = *(ulong*)p;
            int k = 0, dot = 0;
            for (int j = 0; j < BlockColumns; j++)
                if ((mask >> (8 * (j % 8) + j / 8) & 1) != 0)
                    dot += ((sbyte*)(p + HeaderBytes))[k++] * x[b * 64 + j];
            sum += dot * (HalfConvert.ToFloat(*(ushort*)(p + 8)) * dx[b]);
            p += HeaderBytes + k;
        }
        return sum;
    }
}
