using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace Pare.Core.Tensors;

/// <summary>Decoding of stored element encodings to f32.</summary>
public static class TensorCodec
{
    public static void Decode(DType type, ReadOnlySpan<byte> src, Span<float> dst)
    {
        switch (type)
        {
            case DType.F32:
                MemoryMarshal.Cast<byte, float>(src).CopyTo(dst);
                break;
            case DType.F16:
                for (int i = 0; i < dst.Length; i++)
                    dst[i] = (float)BitConverter.UInt16BitsToHalf(BinaryPrimitives.ReadUInt16LittleEndian(src[(2 * i)..]));
                break;
            case DType.BF16:
                for (int i = 0; i < dst.Length; i++)
                    dst[i] = BFloat16ToFloat(BinaryPrimitives.ReadUInt16LittleEndian(src[(2 * i)..]));
                break;
            case DType.Q8_0:
                GgmlQuants.DequantizeQ8_0(src, dst);
                break;
            case DType.Q4_0:
                GgmlQuants.DequantizeQ4_0(src, dst);
                break;
            default:
                throw new NotSupportedException($"decoding {type}");
        }
    }

    public static float BFloat16ToFloat(ushort bits) => BitConverter.Int32BitsToSingle(bits << 16);

    /// <summary>Round-to-nearest-even f32 → bf16, as PyTorch does (NaN kept quiet).</summary>
    public static ushort FloatToBFloat16(float value)
    {
        uint u = BitConverter.SingleToUInt32Bits(value);
        if (float.IsNaN(value)) return (ushort)((u >> 16) | 0x40);
        uint rounding = 0x7FFF + ((u >> 16) & 1);
        return (ushort)((u + rounding) >> 16);
    }
}
