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

/// <summary>Tokens per register block of the batched AVX-512 kernel (a compile-time constant to the JIT).</summary>
public interface ITokenCount
{
    static abstract int Count { get; }
}

public struct TwoTokens : ITokenCount { public static int Count => 2; }
public struct FourTokens : ITokenCount { public static int Count => 4; }

/// <summary>
/// Row dot products for float formats. With AVX-512 every (row, token) pair is computed the same way — two FMA
/// chains over alternate 16-column blocks, added and reduced in a fixed order, then the tail columns in order —
/// whether alone (decode: one row streamed at a time, which the hardware prefetcher follows best) or in a
/// register block of two rows × 2 or 4 tokens (batched: each weight vector loaded once for all tokens and each
/// input vector once for both rows). So a batch gives every token exactly the bits it gets alone (speculative
/// verification relies on that) while reading the weights once. The AVX2 and scalar paths run token by token.
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
        for (int r = r0; r < r1; r++)
        {
            byte* row = w + r * rowBytes;
            y[r] = level switch
            {
                SimdLevel.Avx512 => Dot512<T>(row, x, cols),
                SimdLevel.Avx2 => Dot256<T>(row, x, cols),
                _ => DotScalar<T>(row, x, cols),
            };
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
                for (; t + 4 <= n; t += 4) Block512<T, FourTokens>(w, rowBytes, cols, x + (long)t * cols, y + (long)t * rows, rows, c0, c1);
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

    /// <summary>Two rows × N tokens; per (row, token) the chains of <see cref="Dot512{T}"/>: a on even 16-column
    /// blocks, b on odd ones.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Pair512<T, N>(byte* w0, byte* w1, long rowBytes, int cols, float* x, float* y, int yStride, bool second)
        where T : IFloatElements where N : ITokenCount
    {
        float* x1 = x + cols, x2 = x1 + cols, x3 = x2 + cols;
        // p/q: rows 0/1; digit: token; a/b: even/odd blocks.
        Vector512<float> p0a = default, p0b = default, p1a = default, p1b = default, p2a = default, p2b = default, p3a = default, p3b = default;
        Vector512<float> q0a = default, q0b = default, q1a = default, q1b = default, q2a = default, q2b = default, q3a = default, q3b = default;
        long ahead = PrefetchRows * rowBytes;
        int c = 0;
        for (; c <= cols - 32; c += 32)
        {
            long at = (long)c * T.ElementBytes;
            Sse.Prefetch0(w0 + ahead + at);
            Sse.Prefetch0(w1 + ahead + at);
            if (T.ElementBytes == 4)
            {
                Sse.Prefetch0(w0 + ahead + at + 64);
                Sse.Prefetch0(w1 + ahead + at + 64);
            }
            var v = T.Load512(w0, c);
            var vv = T.Load512(w0, c + 16);
            var u = T.Load512(w1, c);
            var uu = T.Load512(w1, c + 16);
            var e = Vector512.Load(x + c);
            var ee = Vector512.Load(x + c + 16);
            p0a = Avx512F.FusedMultiplyAdd(v, e, p0a);
            p0b = Avx512F.FusedMultiplyAdd(vv, ee, p0b);
            q0a = Avx512F.FusedMultiplyAdd(u, e, q0a);
            q0b = Avx512F.FusedMultiplyAdd(uu, ee, q0b);
            e = Vector512.Load(x1 + c);
            ee = Vector512.Load(x1 + c + 16);
            p1a = Avx512F.FusedMultiplyAdd(v, e, p1a);
            p1b = Avx512F.FusedMultiplyAdd(vv, ee, p1b);
            q1a = Avx512F.FusedMultiplyAdd(u, e, q1a);
            q1b = Avx512F.FusedMultiplyAdd(uu, ee, q1b);
            if (N.Count > 2)
            {
                e = Vector512.Load(x2 + c);
                ee = Vector512.Load(x2 + c + 16);
                p2a = Avx512F.FusedMultiplyAdd(v, e, p2a);
                p2b = Avx512F.FusedMultiplyAdd(vv, ee, p2b);
                q2a = Avx512F.FusedMultiplyAdd(u, e, q2a);
                q2b = Avx512F.FusedMultiplyAdd(uu, ee, q2b);
                e = Vector512.Load(x3 + c);
                ee = Vector512.Load(x3 + c + 16);
                p3a = Avx512F.FusedMultiplyAdd(v, e, p3a);
                p3b = Avx512F.FusedMultiplyAdd(vv, ee, p3b);
                q3a = Avx512F.FusedMultiplyAdd(u, e, q3a);
                q3b = Avx512F.FusedMultiplyAdd(uu, ee, q3b);
            }
        }
        if (c <= cols - 16)
        {
            var v = T.Load512(w0, c);
            var u = T.Load512(w1, c);
            var e = Vector512.Load(x + c);
            p0a = Avx512F.FusedMultiplyAdd(v, e, p0a);
            q0a = Avx512F.FusedMultiplyAdd(u, e, q0a);
            e = Vector512.Load(x1 + c);
            p1a = Avx512F.FusedMultiplyAdd(v, e, p1a);
            q1a = Avx512F.FusedMultiplyAdd(u, e, q1a);
            if (N.Count > 2)
            {
                e = Vector512.Load(x2 + c);
                p2a = Avx512F.FusedMultiplyAdd(v, e, p2a);
                q2a = Avx512F.FusedMultiplyAdd(u, e, q2a);
                e = Vector512.Load(x3 + c);
                p3a = Avx512F.FusedMultiplyAdd(v, e, p3a);
                q3a = Avx512F.FusedMultiplyAdd(u, e, q3a);
            }
            c += 16;
        }
        Finish<T>(w0, w1, c, cols, x, p0a + p0b, q0a + q0b, y, second);
        Finish<T>(w0, w1, c, cols, x1, p1a + p1b, q1a + q1b, y + yStride, second);
        if (N.Count > 2)
        {
            Finish<T>(w0, w1, c, cols, x2, p2a + p2b, q2a + q2b, y + 2 * yStride, second);
            Finish<T>(w0, w1, c, cols, x3, p3a + p3b, q3a + q3b, y + 3 * yStride, second);
        }
    }

    /// <summary>Reduces one token's two rows and adds the columns past the last full vector, in column order.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Finish<T>(byte* w0, byte* w1, int c, int cols, float* x, Vector512<float> a, Vector512<float> b, float* y, bool second)
        where T : IFloatElements
    {
        float s0 = HorizontalSum.Of(a), s1 = HorizontalSum.Of(b);
        for (; c < cols; c++)
        {
            s0 += T.Load(w0, c) * x[c];
            s1 += T.Load(w1, c) * x[c];
        }
        y[0] = s0;
        if (second) y[1] = s1;
    }

    /// <summary>One row, one token: the arithmetic of a (row, token) pair in <see cref="Pair512{T, N}"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Dot512<T>(byte* row, float* x, int n) where T : IFloatElements
    {
        var a = Vector512<float>.Zero;
        var b = Vector512<float>.Zero;
        int c = 0;
        for (; c <= n - 32; c += 32)
        {
            a = Avx512F.FusedMultiplyAdd(T.Load512(row, c), Vector512.Load(x + c), a);
            b = Avx512F.FusedMultiplyAdd(T.Load512(row, c + 16), Vector512.Load(x + c + 16), b);
        }
        if (c <= n - 16)
        {
            a = Avx512F.FusedMultiplyAdd(T.Load512(row, c), Vector512.Load(x + c), a);
            c += 16;
        }
        float sum = HorizontalSum.Of(a + b);
        for (; c < n; c++) sum += T.Load(row, c) * x[c];
        return sum;
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
