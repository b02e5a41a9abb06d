namespace Pare.Core.Tensors;

/// <summary>
/// A weight matrix [rows, columns] quantised on a <see cref="SymmetricGrid"/>: one signed code per weight and one
/// f16 scale per group of <see cref="GroupSize"/> consecutive input columns of a row (the last group of a row may be
/// shorter). Value = scale·code, exact in f32. This is what a quantiser produces and what the packed writers store:
/// GGUF q8_0/q4_0 blocks when the grid is theirs, compressed-tensors pack-quantized otherwise.
/// </summary>
public sealed class GroupQuantizedMatrix
{
    public GroupQuantizedMatrix(int rows, int columns, int bits, int groupSize, sbyte[] codes, ushort[] scales)
    {
        SymmetricGrid.Check(bits);
        if (rows < 1 || columns < 1) throw new ArgumentException($"a quantised matrix needs a positive shape, got [{rows}, {columns}]");
        if (groupSize < 1) throw new ArgumentException($"group size must be positive, got {groupSize}");
        Rows = rows;
        Columns = columns;
        Bits = bits;
        GroupSize = Math.Min(groupSize, columns);
        if (codes.LongLength != (long)rows * columns) throw new ArgumentException($"{codes.LongLength} codes for a [{rows}, {columns}] matrix");
        if (scales.LongLength != (long)rows * Groups) throw new ArgumentException($"{scales.LongLength} scales for {rows} rows of {Groups} groups");
        var (min, max) = SymmetricGrid.Range(bits);
        foreach (var c in codes)
            if (c < min || c > max) throw new ArgumentException($"code {c} is outside the {bits}-bit range {min}..{max}");
        Codes = codes;
        Scales = scales;
    }

    public int Rows { get; }
    public int Columns { get; }
    public int Bits { get; }
    public int GroupSize { get; }
    public int Groups => (Columns + GroupSize - 1) / GroupSize;
    /// <summary>Signed codes, row-major.</summary>
    public sbyte[] Codes { get; }
    /// <summary>f16 bits of each group's scale, [rows, groups] row-major.</summary>
    public ushort[] Scales { get; }

    /// <summary>True when the grid is GGML's q8_0 (8 bits) or q4_0 (4 bits) block grid and the rows are whole blocks.</summary>
    public bool IsGgml => GroupSize == GgmlQuants.BlockSize && Columns % GgmlQuants.BlockSize == 0 && Bits is 8 or 4;

    public float Scale(int row, int column) => GgmlQuants.HalfBitsToFloat(Scales[row * Groups + column / GroupSize]);

    public float[] Dequantize()
    {
        var result = new float[(long)Rows * Columns];
        for (int r = 0; r < Rows; r++)
            for (int c = 0; c < Columns; c++)
                result[(long)r * Columns + c] = Scale(r, c) * Codes[(long)r * Columns + c];
        return result;
    }

    /// <summary>
    /// The matrix as a stored tensor: q8_0/q4_0 blocks written from the codes and scales themselves (no
    /// re-quantisation, so GPTQ's choices survive byte for byte), otherwise f32 values on the grid (lossless).
    /// </summary>
    public TensorData ToTensorData(string name)
    {
        long[] shape = [Rows, Columns];
        if (!IsGgml)
            return TensorData.FromFloat32(name, Dequantize(), shape);
        int blocks = Rows * Columns / GgmlQuants.BlockSize;
        bool q8 = Bits == 8;
        int blockBytes = q8 ? GgmlQuants.Q8_0BlockBytes : GgmlQuants.Q4_0BlockBytes;
        var bytes = new byte[(long)blocks * blockBytes];
        for (int b = 0; b < blocks; b++)
        {
            var block = bytes.AsSpan(b * blockBytes, blockBytes);
            ushort d = Scales[b];
            block[0] = (byte)d;
            block[1] = (byte)(d >> 8);
            var codes = Codes.AsSpan(b * GgmlQuants.BlockSize, GgmlQuants.BlockSize);
            if (q8)
            {
                for (int i = 0; i < GgmlQuants.BlockSize; i++) block[2 + i] = (byte)codes[i];
            }
            else
            {
                // q4_0: element j in the low nibble of byte j, element j + 16 in the high one, offset by 8.
                for (int j = 0; j < GgmlQuants.BlockSize / 2; j++)
                    block[2 + j] = (byte)((codes[j] + 8) | (codes[j + GgmlQuants.BlockSize / 2] + 8) << 4);
            }
        }
        return new TensorData(name, shape, q8 ? DType.Q8_0 : DType.Q4_0, bytes);
    }

    /// <summary>A q8_0/q4_0 tensor's blocks as codes and scales (the inverse of <see cref="ToTensorData"/>).</summary>
    public static GroupQuantizedMatrix FromGgml(TensorData tensor)
    {
        if (tensor.Type is not (DType.Q8_0 or DType.Q4_0) || tensor.Shape.Length != 2)
            throw new ArgumentException($"tensor {tensor.Name} is not a q8_0/q4_0 matrix ({tensor})");
        bool q8 = tensor.Type == DType.Q8_0;
        int rows = tensor.Rows, cols = tensor.Columns, blockBytes = q8 ? GgmlQuants.Q8_0BlockBytes : GgmlQuants.Q4_0BlockBytes;
        int blocks = rows * cols / GgmlQuants.BlockSize;
        var codes = new sbyte[(long)rows * cols];
        var scales = new ushort[blocks];
        var data = tensor.Data.Span;
        for (int b = 0; b < blocks; b++)
        {
            var block = data.Slice(b * blockBytes, blockBytes);
            scales[b] = (ushort)(block[0] | block[1] << 8);
            var dst = codes.AsSpan(b * GgmlQuants.BlockSize, GgmlQuants.BlockSize);
            if (q8)
            {
                for (int i = 0; i < GgmlQuants.BlockSize; i++) dst[i] = (sbyte)block[2 + i];
            }
            else
            {
                for (int j = 0; j < GgmlQuants.BlockSize / 2; j++)
                {
                    dst[j] = (sbyte)((block[2 + j] & 0x0F) - 8);
                    dst[j + GgmlQuants.BlockSize / 2] = (sbyte)((block[2 + j] >> 4) - 8);
                }
            }
        }
        // A q8_0 block may hold −128 (llama.cpp never writes it, other tools might); keep it representable.
        if (q8 && codes.Any(c => c == -128))
            throw new PareFormatException(tensor.Name, "q8_0 block holds the code −128, outside the symmetric grid");
        return new GroupQuantizedMatrix(rows, cols, q8 ? 8 : 4, GgmlQuants.BlockSize, codes, scales);
    }
}
