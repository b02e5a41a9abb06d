using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Pare.Engine.Kernels;

/// <summary>
/// f16 → f32 by bit manipulation: the 15 exponent+mantissa bits shifted into f32 position and scaled by 2^112
/// re-bias the exponent exactly (subnormal f16 values come out right too); the sign is OR-ed back. Inf/NaN are
/// not preserved, which weights and scales never are. Cheaper than the library conversion in inner loops.
/// </summary>
public static unsafe class HalfConvert
{
    private const float Rebias = 5.192296858534828e33f; // 2^112

    /// <summary>
    /// All 65,536 f16 values as f32 (256 KiB, pinned), for block scales in int kernels: one load instead of the
    /// ~7 instructions of the bit conversion, off the loop's critical path; a layer's scales span few table lines.
    /// </summary>
    private static readonly float* Table = CreateTable();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Lookup(ushort h) => Table[h];

    private static float* CreateTable()
    {
        var table = (float*)System.Runtime.InteropServices.NativeMemory.AlignedAlloc(65536 * 4, 64);
        for (int i = 0; i < 65536; i++) table[i] = ToFloat((ushort)i);
        return table;
    }

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
