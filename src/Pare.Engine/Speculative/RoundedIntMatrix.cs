using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Pare.Engine.Weights;

namespace Pare.Engine.Speculative;

/// <summary>
/// Stand-in compressed weights for self-drafts: one signed byte per weight with a per-row scale (symmetric
/// round-to-nearest to 2^(bits−1) − 1 levels), so a 4-bit grid is stored in bytes too. Streams a quarter of the
/// f32 bytes. The kernels branch's q8_0/q4_0 formats supersede it.
/// </summary>
public sealed class RoundedIntMatrix : IWeightMatrix
{
    private readonly sbyte[] _q;
    private readonly float[] _scale;

    private RoundedIntMatrix(sbyte[] q, float[] scale, int rows, int cols, int bits)
    {
        _q = q;
        _scale = scale;
        Rows = rows;
        Cols = cols;
        Bits = bits;
    }

    public int Rows { get; }
    public int Cols { get; }
    public int Bits { get; }
    public string Format => $"rtn-int{Bits}";
    public long StorageBytes => _q.Length + _scale.Length * 4L;

    public static RoundedIntMatrix Quantize(float[] w, int rows, int cols, int bits)
    {
        if (bits < 2 || bits > 8) throw new ArgumentException($"round-to-nearest needs 2..8 bits, got {bits}", nameof(bits));
        int levels = (1 << (bits - 1)) - 1;
        var q = new sbyte[(long)rows * cols];
        var scale = new float[rows];
        for (int r = 0; r < rows; r++)
        {
            var row = w.AsSpan(r * cols, cols);
            float max = 0;
            foreach (var v in row) max = Math.Max(max, MathF.Abs(v));
            float s = max / levels, inv = s > 0 ? 1f / s : 0f;
            scale[r] = s;
            for (int c = 0; c < cols; c++) q[(long)r * cols + c] = (sbyte)Math.Clamp(MathF.Round(row[c] * inv), -levels, levels);
        }
        return new RoundedIntMatrix(q, scale, rows, cols, bits);
    }

    public void MatVec(ReadOnlySpan<float> x, Span<float> y, int rowStart, int rowEnd)
    {
        for (int r = rowStart; r < rowEnd; r++)
            y[r] = _scale[r] * Dot(_q.AsSpan(r * Cols, Cols), x);
    }

    public void MatMul(ReadOnlySpan<float> x, Span<float> y, int n, int rowStart, int rowEnd)
    {
        for (int r = rowStart; r < rowEnd; r++)
        {
            var row = _q.AsSpan(r * Cols, Cols);
            for (int t = 0; t < n; t++)
                y[t * Rows + r] = _scale[r] * Dot(row, x.Slice(t * Cols, Cols));
        }
    }

    public float[] ToDense()
    {
        var d = new float[_q.Length];
        for (int i = 0; i < d.Length; i++) d[i] = _q[i] * _scale[i / Cols];
        return d;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Dot(ReadOnlySpan<sbyte> w, ReadOnlySpan<float> x)
    {
        int n = w.Length, i = 0;
        float sum = 0;
        ref sbyte pw = ref MemoryMarshal.GetReference(w);
        ref float px = ref MemoryMarshal.GetReference(x);
        if (Avx512F.IsSupported)
        {
            var acc0 = Vector512<float>.Zero;
            var acc1 = Vector512<float>.Zero;
            for (; i <= n - 32; i += 32)
            {
                var w0 = Avx512F.ConvertToVector512Single(Avx512F.ConvertToVector512Int32(Vector128.LoadUnsafe(ref pw, (nuint)i)));
                var w1 = Avx512F.ConvertToVector512Single(Avx512F.ConvertToVector512Int32(Vector128.LoadUnsafe(ref pw, (nuint)(i + 16))));
                acc0 = Avx512F.FusedMultiplyAdd(w0, Vector512.LoadUnsafe(ref px, (nuint)i), acc0);
                acc1 = Avx512F.FusedMultiplyAdd(w1, Vector512.LoadUnsafe(ref px, (nuint)(i + 16)), acc1);
            }
            for (; i <= n - 16; i += 16)
                acc0 = Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(Avx512F.ConvertToVector512Int32(Vector128.LoadUnsafe(ref pw, (nuint)i))), Vector512.LoadUnsafe(ref px, (nuint)i), acc0);
            sum = Vector512.Sum(acc0 + acc1);
        }
        for (; i < n; i++) sum += Unsafe.Add(ref pw, i) * Unsafe.Add(ref px, i);
        return sum;
    }
}
