using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Pare.Engine.Kernels;

/// <summary>How a float weight format turns stored elements into f32 lanes.</summary>
public unsafe interface IFloatElements
{
    static abstract int ElementBytes { get; }
    static abstract Vector512<float> Load512(byte* row, int i);
    static abstract Vector256<float> Load256(byte* row, int i);
    static abstract float Load(byte* row, int i);
}

public unsafe struct F32Elements : IFloatElements
{
    public static int ElementBytes => 4;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Load512(byte* row, int i) => Vector512.Load((float*)row + i);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Load256(byte* row, int i) => Vector256.Load((float*)row + i);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Load(byte* row, int i) => ((float*)row)[i];
}

public unsafe struct F16Elements : IFloatElements
{
    public static int ElementBytes => 2;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Load512(byte* row, int i) => HalfConvert.ToFloat(Avx512F.ConvertToVector512UInt32(Vector256.Load((ushort*)row + i)));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Load256(byte* row, int i) => HalfConvert.ToFloat(Avx2.ConvertToVector256Int32(Vector128.Load((ushort*)row + i)).AsUInt32());
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Load(byte* row, int i) => HalfConvert.ToFloat(((ushort*)row)[i]);
}

public unsafe struct BF16Elements : IFloatElements
{
    public static int ElementBytes => 2;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Load512(byte* row, int i) => (Avx512F.ConvertToVector512UInt32(Vector256.Load((ushort*)row + i)) << 16).AsSingle();
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Load256(byte* row, int i) => (Avx2.ConvertToVector256Int32(Vector128.Load((ushort*)row + i)) << 16).AsSingle();
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Load(byte* row, int i) => BitConverter.UInt32BitsToSingle((uint)((ushort*)row)[i] << 16);
}

/// <summary>Tokens per register block of the AVX-512 kernel (a compile-time constant to the JIT).</summary>
public interface ITokenCount
{
    static abstract int Count { get; }
}

public struct OneToken : ITokenCount { public static int Count => 1; }
public struct TwoTokens : ITokenCount { public static int Count => 2; }
public struct FourTokens : ITokenCount { public static int Count => 4; }
public struct EightTokens : ITokenCount { public static int Count => 8; }

/// <summary>
/// Row dot products for float formats. With AVX-512 a register block is two rows × N tokens (N = 1, 2, 4, 8):
/// each weight vector is loaded once for N tokens and each input vector once for two rows, and every
/// (row, token) pair has one FMA chain over the columns, reduced in a fixed order — so a batch gives every
/// token exactly the bits it gets alone (speculative verification relies on that) while reading the weights
/// once per batch. Decode (N = 1) keeps two chains in flight, enough for a memory-bound stream. The AVX2 and
/// scalar paths run token by token.
/// </summary>
public static unsafe class FloatRowKernels
{
    /// <summary>Software prefetch distance, in rows: with several tokens' work per weight line the core keeps too
    /// few loads in flight for the hardware prefetcher to hold the stream at bandwidth.</summary>
    private const int PrefetchRows = 2;

    public static void Rows<T>(byte* w, int cols, float* x, float* y, int r0, int r1) where T : IFloatElements
    {
        long rowBytes = (long)cols * T.ElementBytes;
        var level = KernelDispatch.Level;
        if (level == SimdLevel.Avx512)
        {
            Block512<T, OneToken>(w, rowBytes, cols, x, y, 0, r0, r1);
            return;
        }
        for (int r = r0; r < r1; r++)
        {
            byte* row = w + r * rowBytes;
            y[r] = level == SimdLevel.Avx2 ? Dot256<T>(row, x, cols) : DotScalar<T>(row, x, cols);
        }
    }

    /// <summary>
    /// Y[t, r] = W[r,:]·X[t,:] for n tokens (X is [n, cols], Y is [n, rows]), bit for bit what
    /// <see cref="Rows{T}"/> gives each token. Rows go in chunks that stay in L1 while the token blocks pass
    /// over them, so the weights stream from memory once per batch.
    /// </summary>
    public static void Batched<T>(byte* w, int cols, float* x, int n, float* y, int rows, int r0, int r1) where T : IFloatElements
    {
        long rowBytes = (long)cols * T.ElementBytes;
        var level = KernelDispatch.Level;
        int chunk = (int)Math.Clamp(16 * 1024 / rowBytes, 2, 64) & ~1;
        for (int c0 = r0; c0 < r1; c0 += chunk)
        {
            int c1 = Math.Min(r1, c0 + chunk);
            int t = 0;
            if (level == SimdLevel.Avx512)
            {
                for (; t + 8 <= n; t += 8) Block512<T, EightTokens>(w, rowBytes, cols, x + (long)t * cols, y + (long)t * rows, rows, c0, c1);
                if (t + 4 <= n) { Block512<T, FourTokens>(w, rowBytes, cols, x + (long)t * cols, y + (long)t * rows, rows, c0, c1); t += 4; }
                if (t + 2 <= n) { Block512<T, TwoTokens>(w, rowBytes, cols, x + (long)t * cols, y + (long)t * rows, rows, c0, c1); t += 2; }
            }
            for (; t < n; t++) Rows<T>(w, cols, x + (long)t * cols, y + (long)t * rows, c0, c1);
        }
    }

    /// <summary>Rows [r0, r1) for N tokens (x rows cols apart, y rows yStride apart), two rows at a time; an odd
    /// last row runs as both rows of a pair (same arithmetic, result written once).</summary>
    private static void Block512<T, N>(byte* w, long rowBytes, int cols, float* x, float* y, int yStride, int r0, int r1)
        where T : IFloatElements where N : ITokenCount
    {
        for (int r = r0; r < r1; r += 2)
        {
            byte* w0 = w + r * rowBytes;
            byte* w1 = r + 1 < r1 ? w0 + rowBytes : w0;
            Pair512<T, N>(w0, w1, rowBytes, cols, x, y + r, yStride, r + 1 < r1);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Pair512<T, N>(byte* w0, byte* w1, long rowBytes, int cols, float* x, float* y, int yStride, bool second)
        where T : IFloatElements where N : ITokenCount
    {
        float* x1 = x + cols, x2 = x1 + cols, x3 = x2 + cols, x4 = x3 + cols, x5 = x4 + cols, x6 = x5 + cols, x7 = x6 + cols;
        Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default, a4 = default, a5 = default, a6 = default, a7 = default;
        Vector512<float> b0 = default, b1 = default, b2 = default, b3 = default, b4 = default, b5 = default, b6 = default, b7 = default;
        long ahead = PrefetchRows * rowBytes;
        int c = 0;
        for (; c <= cols - 16; c += 16)
        {
            Sse.Prefetch0(w0 + ahead + (long)c * T.ElementBytes);
            Sse.Prefetch0(w1 + ahead + (long)c * T.ElementBytes);
            var v = T.Load512(w0, c);
            var u = T.Load512(w1, c);
            var e = Vector512.Load(x + c);
            a0 = Avx512F.FusedMultiplyAdd(v, e, a0);
            b0 = Avx512F.FusedMultiplyAdd(u, e, b0);
            if (N.Count > 1)
            {
                e = Vector512.Load(x1 + c);
                a1 = Avx512F.FusedMultiplyAdd(v, e, a1);
                b1 = Avx512F.FusedMultiplyAdd(u, e, b1);
            }
            if (N.Count > 2)
            {
                e = Vector512.Load(x2 + c);
                a2 = Avx512F.FusedMultiplyAdd(v, e, a2);
                b2 = Avx512F.FusedMultiplyAdd(u, e, b2);
                e = Vector512.Load(x3 + c);
                a3 = Avx512F.FusedMultiplyAdd(v, e, a3);
                b3 = Avx512F.FusedMultiplyAdd(u, e, b3);
            }
            if (N.Count > 4)
            {
                e = Vector512.Load(x4 + c);
                a4 = Avx512F.FusedMultiplyAdd(v, e, a4);
                b4 = Avx512F.FusedMultiplyAdd(u, e, b4);
                e = Vector512.Load(x5 + c);
                a5 = Avx512F.FusedMultiplyAdd(v, e, a5);
                b5 = Avx512F.FusedMultiplyAdd(u, e, b5);
                e = Vector512.Load(x6 + c);
                a6 = Avx512F.FusedMultiplyAdd(v, e, a6);
                b6 = Avx512F.FusedMultiplyAdd(u, e, b6);
                e = Vector512.Load(x7 + c);
                a7 = Avx512F.FusedMultiplyAdd(v, e, a7);
                b7 = Avx512F.FusedMultiplyAdd(u, e, b7);
            }
        }
        Finish<T>(w0, w1, c, cols, x, a0, b0, y, second);
        if (N.Count > 1) Finish<T>(w0, w1, c, cols, x1, a1, b1, y + yStride, second);
        if (N.Count > 2)
        {
            Finish<T>(w0, w1, c, cols, x2, a2, b2, y + 2 * yStride, second);
            Finish<T>(w0, w1, c, cols, x3, a3, b3, y + 3 * yStride, second);
        }
        if (N.Count > 4)
        {
            Finish<T>(w0, w1, c, cols, x4, a4, b4, y + 4 * yStride, second);
            Finish<T>(w0, w1, c, cols, x5, a5, b5, y + 5 * yStride, second);
            Finish<T>(w0, w1, c, cols, x6, a6, b6, y + 6 * yStride, second);
            Finish<T>(w0, w1, c, cols, x7, a7, b7, y + 7 * yStride, second);
        }
    }

    /// <summary>Reduces one token's two chains and adds the columns past the last full vector, in column order.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Finish<T>(byte* w0, byte* w1, int c, int cols, float* x, Vector512<float> a, Vector512<float> b, float* y, bool second)
        where T : IFloatElements
    {
        float s0 = Reduce(a), s1 = Reduce(b);
        for (; c < cols; c++)
        {
            s0 += T.Load(w0, c) * x[c];
            s1 += T.Load(w1, c) * x[c];
        }
        y[0] = s0;
        if (second) y[1] = s1;
    }

    /// <summary>Sum of the 16 lanes by halving (fewer instructions than Vector512.Sum's lowering).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Reduce(Vector512<float> v)
    {
        var s8 = v.GetLower() + v.GetUpper();
        var s4 = s8.GetLower() + s8.GetUpper();
        s4 += Vector128.Shuffle(s4, Vector128.Create(2, 3, 0, 1));
        s4 += Vector128.Shuffle(s4, Vector128.Create(1, 0, 3, 2));
        return s4.ToScalar();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Dot256<T>(byte* row, float* x, int n) where T : IFloatElements
    {
        var a0 = Vector256<float>.Zero;
        var a1 = Vector256<float>.Zero;
        var a2 = Vector256<float>.Zero;
        var a3 = Vector256<float>.Zero;
        int i = 0;
        for (; i <= n - 32; i += 32)
        {
            a0 = Fma.MultiplyAdd(T.Load256(row, i), Vector256.Load(x + i), a0);
            a1 = Fma.MultiplyAdd(T.Load256(row, i + 8), Vector256.Load(x + i + 8), a1);
            a2 = Fma.MultiplyAdd(T.Load256(row, i + 16), Vector256.Load(x + i + 16), a2);
            a3 = Fma.MultiplyAdd(T.Load256(row, i + 24), Vector256.Load(x + i + 24), a3);
        }
        for (; i <= n - 8; i += 8)
            a0 = Fma.MultiplyAdd(T.Load256(row, i), Vector256.Load(x + i), a0);
        float sum = Vector256.Sum((a0 + a1) + (a2 + a3));
        for (; i < n; i++) sum += T.Load(row, i) * x[i];
        return sum;
    }

    private static float DotScalar<T>(byte* row, float* x, int n) where T : IFloatElements
    {
        float sum = 0;
        for (int i = 0; i < n; i++) sum += T.Load(row, i) * x[i];
        return sum;
    }
}
