using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Pare.Engine.Kernels;

/// <summary>
/// 32-lane signed int8 dot products, as llama.cpp's AVX2 q8_0 path does them: the unsigned-by-signed multiply
/// (vpdpbusd with AVX-VNNI, else vpmaddubsw + vpmaddwd) gets |w| and x carrying w's sign (vpsignb), which is
/// exact: |w|·|x| ≤ 127·128 never saturates a pair sum.
/// </summary>
public static class Int8Dot
{
    private static readonly bool HasVnni = AvxVnni.IsSupported;

    /// <summary>Eight int32 partial sums of w·x.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> Signed(Vector256<sbyte> w, Vector256<sbyte> x)
        => Unsigned(Avx2.Abs(w), Avx2.Sign(x, w));

    /// <summary>Eight int32 partial sums of u·x for unsigned u ≤ 127 (or u ≤ 15 for nibbles).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> Unsigned(Vector256<byte> u, Vector256<sbyte> x)
        => HasVnni
            ? AvxVnni.MultiplyWideningAndAdd(Vector256<int>.Zero, u, x)
            : Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(u, x), Vector256<short>.One);
}
