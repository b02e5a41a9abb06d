using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Pare.Engine.Kernels;

/// <summary>
/// Sum of a vector's lanes by halving: upper half onto lower, then two in-register shuffles. Fewer instructions than
/// Vector256/512.Sum's lowering (which reduces each 128-bit part separately) — it matters when a kernel reduces once
/// per short row. The order is fixed, so every kernel that reduces through here rounds alike.
/// </summary>
public static class HorizontalSum
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Of(Vector512<float> v) => Of(v.GetLower() + v.GetUpper());

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Of(Vector256<float> v)
    {
        var s4 = v.GetLower() + v.GetUpper();
        s4 += Vector128.Shuffle(s4, Vector128.Create(2, 3, 0, 1));
        s4 += Vector128.Shuffle(s4, Vector128.Create(1, 0, 3, 2));
        return s4.ToScalar();
    }
}
