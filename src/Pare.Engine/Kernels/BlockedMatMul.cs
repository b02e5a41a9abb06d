using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Pare.Engine.Kernels;

/// <summary>
/// Y[t, r] = W[r,:]·X[t,:] for a few tokens at once (prefill, speculative verification). A register block of
/// 2 weight rows × 4 tokens loads each weight vector once for four tokens, so a batch streams the weights once and
/// costs far less than one matrix-vector product per token — what makes verifying k drafts cheap.
/// </summary>
public static class BlockedMatMul
{
    public static void F32(ReadOnlySpan<float> w, int rows, int cols, ReadOnlySpan<float> x, Span<float> y, int n, int rowStart, int rowEnd)
    {
        int r = rowStart;
        if (Vector512.IsHardwareAccelerated && n >= 4 && cols >= 16)
        {
            int quads = n / 4 * 4;
            for (; r + 1 < rowEnd; r += 2)
            {
                var w0 = w.Slice(r * cols, cols);
                var w1 = w.Slice((r + 1) * cols, cols);
                for (int t = 0; t < quads; t += 4) Block2x4(w0, w1, x, cols, t, r, rows, y);
                for (int t = quads; t < n; t++)
                {
                    var xt = x.Slice(t * cols, cols);
                    y[t * rows + r] = Simd.Dot(w0, xt);
                    y[t * rows + r + 1] = Simd.Dot(w1, xt);
                }
            }
        }
        for (; r < rowEnd; r++)
        {
            var row = w.Slice(r * cols, cols);
            for (int t = 0; t < n; t++)
                y[t * rows + r] = Simd.Dot(row, x.Slice(t * cols, cols));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Block2x4(ReadOnlySpan<float> w0, ReadOnlySpan<float> w1, ReadOnlySpan<float> x, int cols, int t, int r, int rows, Span<float> y)
    {
        ref float a = ref MemoryMarshal.GetReference(w0);
        ref float b = ref MemoryMarshal.GetReference(w1);
        ref float x0 = ref MemoryMarshal.GetReference(x.Slice(t * cols, cols));
        ref float x1 = ref MemoryMarshal.GetReference(x.Slice((t + 1) * cols, cols));
        ref float x2 = ref MemoryMarshal.GetReference(x.Slice((t + 2) * cols, cols));
        ref float x3 = ref MemoryMarshal.GetReference(x.Slice((t + 3) * cols, cols));
        Vector512<float> s00 = default, s01 = default, s02 = default, s03 = default;
        Vector512<float> s10 = default, s11 = default, s12 = default, s13 = default;
        int c = 0;
        for (; c <= cols - 16; c += 16)
        {
            var va = Vector512.LoadUnsafe(ref a, (nuint)c);
            var vb = Vector512.LoadUnsafe(ref b, (nuint)c);
            var v0 = Vector512.LoadUnsafe(ref x0, (nuint)c);
            var v1 = Vector512.LoadUnsafe(ref x1, (nuint)c);
            var v2 = Vector512.LoadUnsafe(ref x2, (nuint)c);
            var v3 = Vector512.LoadUnsafe(ref x3, (nuint)c);
            s00 = Vector512.FusedMultiplyAdd(va, v0, s00);
            s01 = Vector512.FusedMultiplyAdd(va, v1, s01);
            s02 = Vector512.FusedMultiplyAdd(va, v2, s02);
            s03 = Vector512.FusedMultiplyAdd(va, v3, s03);
            s10 = Vector512.FusedMultiplyAdd(vb, v0, s10);
            s11 = Vector512.FusedMultiplyAdd(vb, v1, s11);
            s12 = Vector512.FusedMultiplyAdd(vb, v2, s12);
            s13 = Vector512.FusedMultiplyAdd(vb, v3, s13);
        }
        float t00 = Vector512.Sum(s00), t01 = Vector512.Sum(s01), t02 = Vector512.Sum(s02), t03 = Vector512.Sum(s03);
        float t10 = Vector512.Sum(s10), t11 = Vector512.Sum(s11), t12 = Vector512.Sum(s12), t13 = Vector512.Sum(s13);
        for (; c < cols; c++)
        {
            float wa = Unsafe.Add(ref a, c), wb = Unsafe.Add(ref b, c);
            float e0 = Unsafe.Add(ref x0, c), e1 = Unsafe.Add(ref x1, c), e2 = Unsafe.Add(ref x2, c), e3 = Unsafe.Add(ref x3, c);
            t00 += wa * e0; t01 += wa * e1; t02 += wa * e2; t03 += wa * e3;
            t10 += wb * e0; t11 += wb * e1; t12 += wb * e2; t13 += wb * e3;
        }
        y[t * rows + r] = t00; y[(t + 1) * rows + r] = t01; y[(t + 2) * rows + r] = t02; y[(t + 3) * rows + r] = t03;
        y[t * rows + r + 1] = t10; y[(t + 1) * rows + r + 1] = t11; y[(t + 2) * rows + r + 1] = t12; y[(t + 3) * rows + r + 1] = t13;
    }
}
