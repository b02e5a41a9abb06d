namespace Pare.Core.Tensors;

/// <summary>
/// The symmetric group grid that GGML's q8_0/q4_0 blocks use, generalised to any bit width b ≤ 8 and group length:
/// one scale d per group of consecutive input columns of a row, value = f16(d)·q. For b = 8 it is q8_0's rule,
/// d = max|x|/127, q = round-half-away(x/d) ∈ [−127, 127]; for b &lt; 8 it is q4_0's, d = m/−2^(b−1) with m the value
/// of largest magnitude (sign kept, first on ties), q = min(2^(b−1)−1, ⌊x/d + 2^(b−1) + ½⌋) − 2^(b−1), so the
/// group's extreme lands exactly on −2^(b−1) and one more level is used than with max|x|/(2^(b−1)−1). The
/// arithmetic (f32 d, f32 reciprocal, truncation) is llama.cpp's, so b = 8 / b = 4 with groups of 32 give its
/// bytes. Quantising a value that lies outside the range the scale was fitted to (GPTQ's updated weights) clamps.
/// Zero is always a grid point (q = 0), so pruned weights stay exactly zero.
/// </summary>
public static class SymmetricGrid
{
    /// <summary>Fits the f32 scale of one group (before rounding it to f16).</summary>
    public static float Scale(ReadOnlySpan<float> group, int bits)
    {
        Check(bits);
        if (bits == 8)
        {
            float amax = 0;
            foreach (var v in group) amax = MathF.Max(amax, MathF.Abs(v));
            return amax / 127f;
        }
        float best = 0, max = 0;
        foreach (var v in group)
        {
            if (best < MathF.Abs(v))
            {
                best = MathF.Abs(v);
                max = v;
            }
        }
        return max / -(1 << (bits - 1));
    }

    /// <summary>The signed code of x given the f32 scale's reciprocal (0 when the scale is 0).</summary>
    public static int Code(float x, float inverseScale, int bits)
    {
        if (bits == 8)
            return Math.Clamp((int)MathF.Round(x * inverseScale, MidpointRounding.AwayFromZero), -127, 127);
        int offset = 1 << (bits - 1);
        // llama.cpp: (int8)(x·id + 8.5) truncates toward zero; clamped at both ends for values outside the fit.
        return Math.Clamp((int)(x * inverseScale + (offset + 0.5f)), 0, 2 * offset - 1) - offset;
    }

    public static float Inverse(float scale) => scale != 0 ? 1f / scale : 0f;

    /// <summary>Codes range of b bits: q8_0 uses ±127, the others −2^(b−1) … 2^(b−1)−1.</summary>
    public static (int Min, int Max) Range(int bits) => bits == 8 ? (-127, 127) : (-(1 << (bits - 1)), (1 << (bits - 1)) - 1);

    public static void Check(int bits)
    {
        if (bits < 2 || bits > 8) throw new ArgumentException($"quantization bits must be 2..8, got {bits}");
    }

    /// <summary>Round-to-nearest of a whole [rows, cols] matrix on the grid (no calibration; GPTQ's baseline).</summary>
    public static GroupQuantizedMatrix RoundToNearest(ReadOnlySpan<float> weights, int rows, int columns, int bits, int groupSize)
    {
        Check(bits);
        int g = groupSize <= 0 ? columns : groupSize;
        int groups = (columns + g - 1) / g;
        var codes = new sbyte[(long)rows * columns];
        var scales = new ushort[(long)rows * groups];
        for (int r = 0; r < rows; r++)
        {
            var row = weights.Slice(r * columns, columns);
            for (int k = 0; k < groups; k++)
            {
                int start = k * g, len = Math.Min(g, columns - start);
                float d = Scale(row.Slice(start, len), bits);
                float id = Inverse(d);
                scales[r * groups + k] = GgmlQuants.FloatToHalfBits(d);
                for (int j = 0; j < len; j++)
                    codes[(long)r * columns + start + j] = (sbyte)Code(row[start + j], id, bits);
            }
        }
        return new GroupQuantizedMatrix(rows, columns, bits, g, codes, scales);
    }
}
