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

/// <summary>
/// Row dot products for float formats: four independent 512-bit (or 256-bit) FMA chains per row so the adds do
/// not serialise, the row streamed once from memory; the x vector stays in L1.
/// </summary>
public static unsafe class FloatRowKernels
{
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

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Dot512<T>(byte* row, float* x, int n) where T : IFloatElements
    {
        var a0 = Vector512<float>.Zero;
        var a1 = Vector512<float>.Zero;
        var a2 = Vector512<float>.Zero;
        var a3 = Vector512<float>.Zero;
        int i = 0;
        for (; i <= n - 64; i += 64)
        {
            a0 = Avx512F.FusedMultiplyAdd(T.Load512(row, i), Vector512.Load(x + i), a0);
            a1 = Avx512F.FusedMultiplyAdd(T.Load512(row, i + 16), Vector512.Load(x + i + 16), a1);
            a2 = Avx512F.FusedMultiplyAdd(T.Load512(row, i + 32), Vector512.Load(x + i + 32), a2);
            a3 = Avx512F.FusedMultiplyAdd(T.Load512(row, i + 48), Vector512.Load(x + i + 48), a3);
        }
        for (; i <= n - 16; i += 16)
            a0 = Avx512F.FusedMultiplyAdd(T.Load512(row, i), Vector512.Load(x + i), a0);
        float sum = Vector512.Sum((a0 + a1) + (a2 + a3));
        for (; i < n; i++) sum += T.Load(row, i) * x[i];
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
