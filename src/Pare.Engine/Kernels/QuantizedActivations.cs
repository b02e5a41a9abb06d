using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Pare.Engine.Kernels;

/// <summary>
/// Activations quantised to int8 per block, as llama.cpp quantises them for its q8_0·q8_0 dot: per block of B
/// values (32 or 64) d = max|x| / 127 and q = round(x / d) to nearest even, with the block's sum Σq kept for
/// the q4_0 offset. Rows are zero-padded to whole blocks, which changes no product (padded weights are zero
/// too). One scratch per thread, grown on demand and then reused, so steady-state decode allocates nothing.
/// Numerics: an int8 kernel's result differs from the f32 product of the same weights by at most
/// Σ_blocks Σ|w| · d_x / 2 (the activation rounding), and is exact in its integer part.
/// </summary>
public sealed unsafe class QuantizedActivations
{
    [ThreadStatic] private static QuantizedActivations? t_current;

    private AlignedBuffer _values = new(0), _scales = new(0), _sums = new(0);

    /// <summary>The calling thread's scratch.</summary>
    public static QuantizedActivations Current => t_current ??= new QuantizedActivations();

    public sbyte* Values => (sbyte*)_values.Pointer;
    public float* Scales => (float*)_scales.Pointer;
    public int* Sums => (int*)_sums.Pointer;

    /// <summary>Quantises n rows of <paramref name="cols"/> values (x is [n, cols]) into rows of paddedCols values.</summary>
    public void Quantize(ReadOnlySpan<float> x, int n, int cols, int paddedCols, int block)
    {
        long values = (long)n * paddedCols, blocks = values / block;
        if (_values.Length < values)
        {
            _values.Dispose();
            _values = new AlignedBuffer(values);
        }
        if (_scales.Length < blocks * 4)
        {
            _scales.Dispose();
            _sums.Dispose();
            _scales = new AlignedBuffer(blocks * 4);
            _sums = new AlignedBuffer(blocks * 4);
        }
        int perRow = paddedCols / block;
        fixed (float* px = x)
        {
            for (int t = 0; t < n; t++)
            {
                for (int b = 0; b < perRow; b++)
                {
                    int start = b * block, len = Math.Min(block, cols - start);
                    long k = (long)t * perRow + b;
                    QuantizeBlock(px + (long)t * cols + start, len, block, Values + (long)t * paddedCols + start, Scales + k, Sums + k);
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void QuantizeBlock(float* x, int len, int block, sbyte* q, float* scale, int* sum)
    {
        if (len == block && KernelDispatch.Level == SimdLevel.Avx512)
        {
            var amax = Vector512<float>.Zero;
            for (int i = 0; i < block; i += 16) amax = Vector512.Max(amax, Vector512.Abs(Vector512.Load(x + i)));
            float d = MaxAcross(amax) / 127f;
            float id = d != 0 ? 1f / d : 0f;
            var vid = Vector512.Create(id);
            var s = Vector512<int>.Zero;
            for (int i = 0; i < block; i += 16)
            {
                var qi = Avx512F.ConvertToVector512Int32(Vector512.Load(x + i) * vid); // MXCSR default: nearest even
                s += qi;
                Avx512F.ConvertToVector128SByte(qi).Store(q + i);
            }
            *scale = d;
            *sum = Vector512.Sum(s);
            return;
        }
        float m = 0;
        for (int i = 0; i < len; i++) m = MathF.Max(m, MathF.Abs(x[i]));
        float dd = m / 127f;
        float inv = dd != 0 ? 1f / dd : 0f;
        int total = 0;
        for (int i = 0; i < len; i++)
        {
            int v = (int)MathF.Round(x[i] * inv, MidpointRounding.ToEven);
            q[i] = (sbyte)v;
            total += v;
        }
        for (int i = len; i < block; i++) q[i] = 0;
        *scale = dd;
        *sum = total;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float MaxAcross(Vector512<float> v)
    {
        var m = Vector256.Max(v.GetLower(), v.GetUpper());
        var h = Vector128.Max(m.GetLower(), m.GetUpper());
        h = Vector128.Max(h, Vector128.Shuffle(h, Vector128.Create(2, 3, 0, 1)));
        h = Vector128.Max(h, Vector128.Shuffle(h, Vector128.Create(1, 0, 3, 2)));
        return h.ToScalar();
    }
}
