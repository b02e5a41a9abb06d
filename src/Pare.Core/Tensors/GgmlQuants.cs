namespace Pare.Core.Tensors;

/// <summary>
/// GGML's q8_0 and q4_0 block formats (blocks of 32 values along a row): dequantisation, and quantisation with
/// the same arithmetic as llama.cpp's reference quantisers (quantize_row_q8_0_ref / quantize_row_q4_0_ref), so the
/// bytes match what llama-quantize writes without an importance matrix.
/// </summary>
public static class GgmlQuants
{
    public const int BlockSize = 32;
    public const int Q8_0BlockBytes = 34;
    public const int Q4_0BlockBytes = 18;

    public static void DequantizeQ8_0(ReadOnlySpan<byte> src, Span<float> dst)
    {
        int blocks = dst.Length / BlockSize;
        for (int b = 0; b < blocks; b++)
        {
            var block = src.Slice(b * Q8_0BlockBytes, Q8_0BlockBytes);
            float d = HalfBitsToFloat((ushort)(block[0] | block[1] << 8));
            for (int i = 0; i < BlockSize; i++)
                dst[b * BlockSize + i] = (sbyte)block[2 + i] * d;
        }
    }

    public static void DequantizeQ4_0(ReadOnlySpan<byte> src, Span<float> dst)
    {
        int blocks = dst.Length / BlockSize;
        for (int b = 0; b < blocks; b++)
        {
            var block = src.Slice(b * Q4_0BlockBytes, Q4_0BlockBytes);
            float d = HalfBitsToFloat((ushort)(block[0] | block[1] << 8));
            for (int i = 0; i < BlockSize / 2; i++)
            {
                int q = block[2 + i];
                dst[b * BlockSize + i] = ((q & 0x0F) - 8) * d;
                dst[b * BlockSize + i + BlockSize / 2] = ((q >> 4) - 8) * d;
            }
        }
    }

    /// <summary>
    /// q8_0 of whole blocks: d = max|x| / 127 (stored as f16, round to nearest even), q = roundf(x / d) with C's
    /// roundf (halves away from zero) and the reciprocal of the f32 d, as llama.cpp computes it.
    /// </summary>
    public static void QuantizeQ8_0(ReadOnlySpan<float> src, Span<byte> dst)
    {
        if (src.Length % BlockSize != 0) throw new ArgumentException($"q8_0 needs a multiple of {BlockSize} values, got {src.Length}");
        int blocks = src.Length / BlockSize;
        if (dst.Length < blocks * Q8_0BlockBytes) throw new ArgumentException("q8_0 destination is too small", nameof(dst));
        for (int b = 0; b < blocks; b++)
        {
            var x = src.Slice(b * BlockSize, BlockSize);
            var block = dst.Slice(b * Q8_0BlockBytes, Q8_0BlockBytes);
            float amax = 0;
            foreach (var v in x) amax = MathF.Max(amax, MathF.Abs(v));
            float d = amax / 127f;
            float id = d != 0 ? 1f / d : 0f;
            WriteHalf(block, d);
            for (int i = 0; i < BlockSize; i++)
                block[2 + i] = (byte)(sbyte)MathF.Round(x[i] * id, MidpointRounding.AwayFromZero);
        }
    }

    /// <summary>
    /// q4_0 of whole blocks: d = m / −8 where m is the value of largest magnitude (sign kept, first one on ties),
    /// q = min(15, (int8)(x / d + 8.5)) — truncation, as llama.cpp; element j in the low nibble of byte j, element
    /// j + 16 in its high nibble.
    /// </summary>
    public static void QuantizeQ4_0(ReadOnlySpan<float> src, Span<byte> dst)
    {
        if (src.Length % BlockSize != 0) throw new ArgumentException($"q4_0 needs a multiple of {BlockSize} values, got {src.Length}");
        int blocks = src.Length / BlockSize;
        if (dst.Length < blocks * Q4_0BlockBytes) throw new ArgumentException("q4_0 destination is too small", nameof(dst));
        for (int b = 0; b < blocks; b++)
        {
            var x = src.Slice(b * BlockSize, BlockSize);
            var block = dst.Slice(b * Q4_0BlockBytes, Q4_0BlockBytes);
            float amax = 0, max = 0;
            foreach (var v in x)
            {
                if (amax < MathF.Abs(v))
                {
                    amax = MathF.Abs(v);
                    max = v;
                }
            }
            float d = max / -8f;
            float id = d != 0 ? 1f / d : 0f;
            WriteHalf(block, d);
            for (int j = 0; j < BlockSize / 2; j++)
            {
                int q0 = Math.Min(15, (int)(sbyte)(x[j] * id + 8.5f));
                int q1 = Math.Min(15, (int)(sbyte)(x[BlockSize / 2 + j] * id + 8.5f));
                block[2 + j] = (byte)(q0 | q1 << 4);
            }
        }
    }

    /// <summary>Bytes of a tensor of whole-block rows quantised to q8_0 (values a multiple of 32).</summary>
    public static byte[] QuantizeQ8_0(ReadOnlySpan<float> src)
    {
        var dst = new byte[src.Length / BlockSize * Q8_0BlockBytes];
        QuantizeQ8_0(src, dst);
        return dst;
    }

    /// <summary>Bytes of a tensor of whole-block rows quantised to q4_0 (values a multiple of 32).</summary>
    public static byte[] QuantizeQ4_0(ReadOnlySpan<float> src)
    {
        var dst = new byte[src.Length / BlockSize * Q4_0BlockBytes];
        QuantizeQ4_0(src, dst);
        return dst;
    }

    public static float HalfBitsToFloat(ushort bits) => (float)BitConverter.UInt16BitsToHalf(bits);

    /// <summary>f32 → f16 bits, round to nearest even (what F16C's vcvtps2ph does in llama.cpp's x86 build).</summary>
    public static ushort FloatToHalfBits(float value) => BitConverter.HalfToUInt16Bits((Half)value);

    private static void WriteHalf(Span<byte> block, float d)
    {
        ushort h = FloatToHalfBits(d);
        block[0] = (byte)h;
        block[1] = (byte)(h >> 8);
    }
}
