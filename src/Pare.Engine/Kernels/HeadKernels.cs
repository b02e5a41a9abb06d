using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Pare.Engine.Kernels;

/// <summary>
/// The two inner operations of attention on one head's slice (head size hd): a query·key score and the
/// accumulation of a weighted value row. Called once per cached position per head, so they are written on raw
/// pointers with whole-head vectors (hd = 64 is four 512-bit FMAs) rather than through general span loops.
/// </summary>
public static unsafe class HeadKernels
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Dot(float* a, float* b, int hd)
    {
        if (hd % 16 == 0 && KernelDispatch.Level == SimdLevel.Avx512)
        {
            var s = Vector512.Load(a) * Vector512.Load(b);
            for (int i = 16; i < hd; i += 16) s = Avx512F.FusedMultiplyAdd(Vector512.Load(a + i), Vector512.Load(b + i), s);
            return HorizontalSum.Of(s);
        }
        if (hd % 8 == 0 && KernelDispatch.Level >= SimdLevel.Avx2)
        {
            var s = Vector256.Load(a) * Vector256.Load(b);
            for (int i = 8; i < hd; i += 8) s = Fma.MultiplyAdd(Vector256.Load(a + i), Vector256.Load(b + i), s);
            return HorizontalSum.Of(s);
        }
        float sum = 0;
        for (int i = 0; i < hd; i++) sum += a[i] * b[i];
        return sum;
    }

    /// <summary>y += w·x over one head.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Axpy(float w, float* x, float* y, int hd)
    {
        if (hd % 16 == 0 && KernelDispatch.Level == SimdLevel.Avx512)
        {
            var vw = Vector512.Create(w);
            for (int i = 0; i < hd; i += 16) Avx512F.FusedMultiplyAdd(vw, Vector512.Load(x + i), Vector512.Load(y + i)).Store(y + i);
            return;
        }
        if (hd % 8 == 0 && KernelDispatch.Level >= SimdLevel.Avx2)
        {
            var vw = Vector256.Create(w);
            for (int i = 0; i < hd; i += 8) Fma.MultiplyAdd(vw, Vector256.Load(x + i), Vector256.Load(y + i)).Store(y + i);
            return;
        }
        for (int i = 0; i < hd; i++) y[i] = MathF.FusedMultiplyAdd(w, x[i], y[i]);
    }
}
