namespace Pare.Core.Tensors;

/// <summary>GGML's q8_0 and q4_0 block formats (blocks of 32 values along a row).</summary>
public static class GgmlQuants
{
    public const int BlockSize = 32;

    public static void DequantizeQ8_0(ReadOnlySpan<byte> src, Span<float> dst)
    {
        int blocks = dst.Length / BlockSize;
        for (int b = 0; b < blocks; b++)
        {
            var block = src.Slice(b * 34, 34);
            float d = (float)BitConverter.UInt16BitsToHalf((ushort)(block[0] | block[1] << 8));
            for (int i = 0; i < BlockSize; i++)
                dst[b * BlockSize + i] = (sbyte)block[2 + i] * d;
        }
    }

    public static void DequantizeQ4_0(ReadOnlySpan<byte> src, Span<float> dst)
    {
        int blocks = dst.Length / BlockSize;
        for (int b = 0; b < blocks; b++)
        {
            var block = src.Slice(b * 18, 18);
            float d = (float)BitConverter.UInt16BitsToHalf((ushort)(block[0] | block[1] << 8));
            for (int i = 0; i < BlockSize / 2; i++)
            {
                int q = block[2 + i];
                dst[b * BlockSize + i] = ((q & 0x0F) - 8) * d;
                dst[b * BlockSize + i + BlockSize / 2] = ((q >> 4) - 8) * d;
            }
        }
    }
}
