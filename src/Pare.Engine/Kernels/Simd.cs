using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Pare.Engine.Kernels;

/// <summary>Vectorised float primitives used by the forward pass.</summary>
public static class Simd
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Dot(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        int n = a.Length, i = 0;
        ref float pa = ref MemoryMarshal.GetReference(a);
        ref float pb = ref MemoryMarshal.GetReference(b);
        float sum = 0;
        if (Vector256.IsHardwareAccelerated && n >= 8)
        {
            var s0 = Vector256<float>.Zero;
            var s1 = Vector256<float>.Zero;
            var s2 = Vector256<float>.Zero;
            var s3 = Vector256<float>.Zero;
            for (; i <= n - 32; i += 32)
            {
                s0 += Vector256.LoadUnsafe(ref pa, (nuint)i) * Vector256.LoadUnsafe(ref pb, (nuint)i);
                s1 += Vector256.LoadUnsafe(ref pa, (nuint)(i + 8)) * Vector256.LoadUnsafe(ref pb, (nuint)(i + 8));
                s2 += Vector256.LoadUnsafe(ref pa, (nuint)(i + 16)) * Vector256.LoadUnsafe(ref pb, (nuint)(i + 16));
                s3 += Vector256.LoadUnsafe(ref pa, (nuint)(i + 24)) * Vector256.LoadUnsafe(ref pb, (nuint)(i + 24));
            }
            for (; i <= n - 8; i += 8)
                s0 += Vector256.LoadUnsafe(ref pa, (nuint)i) * Vector256.LoadUnsafe(ref pb, (nuint)i);
            sum = Vector256.Sum((s0 + s1) + (s2 + s3));
        }
        for (; i < n; i++)
            sum += Unsafe.Add(ref pa, i) * Unsafe.Add(ref pb, i);
        return sum;
    }

    /// <summary>y += a·x.</summary>
    public static void Axpy(float a, ReadOnlySpan<float> x, Span<float> y)
    {
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var va = Vector256.Create(a);
            ref float px = ref MemoryMarshal.GetReference(x);
            ref float py = ref MemoryMarshal.GetReference(y);
            for (; i <= x.Length - 8; i += 8)
                (Vector256.LoadUnsafe(ref py, (nuint)i) + va * Vector256.LoadUnsafe(ref px, (nuint)i)).StoreUnsafe(ref py, (nuint)i);
        }
        for (; i < x.Length; i++) y[i] += a * x[i];
    }

    /// <summary>y += x.</summary>
    public static void Add(ReadOnlySpan<float> x, Span<float> y)
    {
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            ref float px = ref MemoryMarshal.GetReference(x);
            ref float py = ref MemoryMarshal.GetReference(y);
            for (; i <= x.Length - 8; i += 8)
                (Vector256.LoadUnsafe(ref py, (nuint)i) + Vector256.LoadUnsafe(ref px, (nuint)i)).StoreUnsafe(ref py, (nuint)i);
        }
        for (; i < x.Length; i++) y[i] += x[i];
    }

    /// <summary>RMSNorm as llama2.c: o = w ⊙ x / sqrt(mean(x²) + eps).</summary>
    public static void RmsNorm(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, Span<float> o, float eps)
    {
        float ss = Dot(x, x) / x.Length + eps;
        float inv = 1f / MathF.Sqrt(ss);
        for (int i = 0; i < x.Length; i++) o[i] = weight[i] * (inv * x[i]);
    }

    /// <summary>In-place softmax with max subtraction (vector exp, ~1 ulp from MathF.Exp).</summary>
    public static void Softmax(Span<float> x)
    {
        int n = x.Length, i = 0;
        ref float p = ref MemoryMarshal.GetReference(x);
        float max = float.NegativeInfinity;
        if (Vector512.IsHardwareAccelerated && n >= 16)
        {
            var vmax = Vector512.Create(float.NegativeInfinity);
            for (; i <= n - 16; i += 16) vmax = Vector512.Max(vmax, Vector512.LoadUnsafe(ref p, (nuint)i));
            for (int k = 0; k < 16; k++) max = MathF.Max(max, vmax.GetElement(k));
        }
        for (; i < n; i++) max = MathF.Max(max, Unsafe.Add(ref p, i));
        float sum = 0;
        i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var vm = Vector512.Create(max);
            var vs = Vector512<float>.Zero;
            for (; i <= n - 16; i += 16)
            {
                var e = Vector512.Exp(Vector512.LoadUnsafe(ref p, (nuint)i) - vm);
                e.StoreUnsafe(ref p, (nuint)i);
                vs += e;
            }
            sum = Vector512.Sum(vs);
        }
        for (; i < n; i++)
        {
            float e = MathF.Exp(Unsafe.Add(ref p, i) - max);
            Unsafe.Add(ref p, i) = e;
            sum += e;
        }
        float inv = 1f / sum;
        i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var vi = Vector512.Create(inv);
            for (; i <= n - 16; i += 16) (Vector512.LoadUnsafe(ref p, (nuint)i) * vi).StoreUnsafe(ref p, (nuint)i);
        }
        for (; i < n; i++) Unsafe.Add(ref p, i) *= inv;
    }

    /// <summary>SwiGLU in place: gate = silu(gate) ⊙ up, silu(g) = g / (1 + e^−g) (vector exp).</summary>
    public static void SwiGlu(Span<float> gate, ReadOnlySpan<float> up)
    {
        int n = gate.Length, i = 0;
        ref float g = ref MemoryMarshal.GetReference(gate);
        ref float u = ref MemoryMarshal.GetReference(up);
        if (Vector512.IsHardwareAccelerated)
        {
            var one = Vector512<float>.One;
            for (; i <= n - 16; i += 16)
            {
                var v = Vector512.LoadUnsafe(ref g, (nuint)i);
                (v * (one / (one + Vector512.Exp(-v))) * Vector512.LoadUnsafe(ref u, (nuint)i)).StoreUnsafe(ref g, (nuint)i);
            }
        }
        for (; i < n; i++)
        {
            float v = Unsafe.Add(ref g, i);
            Unsafe.Add(ref g, i) = v * (1f / (1f + MathF.Exp(-v))) * Unsafe.Add(ref u, i);
        }
    }

    /// <summary>Index of the first maximum (llama2.c's argmax tie rule).</summary>
    public static int ArgMax(ReadOnlySpan<float> x)
    {
        int best = 0;
        for (int i = 1; i < x.Length; i++) if (x[i] > x[best]) best = i;
        return best;
    }
}
