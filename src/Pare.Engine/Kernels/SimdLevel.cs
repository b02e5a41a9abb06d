using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Pare.Engine.Kernels;

/// <summary>Instruction sets a kernel may use; the best the CPU has is chosen once at start-up.</summary>
public enum SimdLevel
{
    /// <summary>Plain C#; any CPU.</summary>
    Scalar,
    /// <summary>256-bit AVX2 + FMA (int8 dots with AVX-VNNI where present, else vpmaddubsw).</summary>
    Avx2,
    /// <summary>512-bit AVX-512 F/BW/VBMI/VBMI2 + AVX-VNNI (Zen 4/5, Ice Lake and later).</summary>
    Avx512,
}

/// <summary>The SIMD level kernels run at. Tests lower it to exercise the fallbacks on an AVX-512 machine.</summary>
public static class KernelDispatch
{
    public static SimdLevel Detected { get; } = Detect();

    /// <summary>Current level; setting a level the CPU lacks is refused.</summary>
    public static SimdLevel Level
    {
        get => _level;
        set
        {
            if (value > Detected) throw new ArgumentException($"this CPU supports up to {Detected}, not {value}");
            _level = value;
        }
    }

    private static SimdLevel _level = Detected;

    /// <summary>AVX-VNNI's vpdpbusd (u8 × s8 → i32 in one instruction) for the int8 dots.</summary>
    public static bool Vnni => _level >= SimdLevel.Avx2 && AvxVnni.IsSupported;

    private static SimdLevel Detect()
    {
        if (Avx512F.IsSupported && Avx512BW.IsSupported && Avx512Vbmi.IsSupported && Avx512Vbmi2.IsSupported && AvxVnni.IsSupported
            && Vector512.IsHardwareAccelerated)
            return SimdLevel.Avx512;
        if (Avx2.IsSupported && Fma.IsSupported) return SimdLevel.Avx2;
        return SimdLevel.Scalar;
    }
}
