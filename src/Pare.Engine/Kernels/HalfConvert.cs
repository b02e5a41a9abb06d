using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Pare.Engine.Kernels;

/// <summary>
/// f16 → f32 by bit manipulation: the 15 exponent+mantissa bits shifted into f32 position and scaled by 2^112
/// re-bias the exponent exactly (subnormal f16 values come out right too); the sign is OR-ed back. Inf/NaN are
/// not preserved, which weights and scales never are. Cheaper than the library conversion in inner loops.
/// </summary>
public static class HalfConvert
{
    private const float Rebias = 5.192296858534828e33f; // 2^112

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float ToFloat(ushort h)
    {
        float magnitude = BitConverter.UInt32BitsToSingle((uint)(h & 0x7FFF) << 13) * Rebias;
        return BitConverter.UInt32BitsToSingle(BitConverter.SingleToUInt32Bits(magnitude) | (uint)(h & 0x8000) << 16);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> ToFloat(Vector512<uint> h)
    {
        var magnitude = ((h & Vector512.Create(0x7FFFu)) << 13).AsSingle() * Vector512.Create(Rebias);
        return (magnitude.AsUInt32() | ((h & Vector512.Create(0x8000u)) << 16)).AsSingle();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> ToFloat(Vector256<uint> h)
    {
        var magnitude = ((h & Vector256.Create(0x7FFFu)) << 13).AsSingle() * Vector256.Create(Rebias);
        return (magnitude.AsUInt32() | ((h & Vector256.Create(0x8000u)) << 16)).AsSingle();
    }
}
