namespace Pare.Core.Tensors;

/// <summary>Element encodings a stored tensor may have. Block formats follow GGML's layouts byte for byte.</summary>
public enum DType
{
    F32,
    F16,
    BF16,
    /// <summary>GGML q8_0: blocks of 32 weights, an f16 scale then 32 int8 values (34 bytes).</summary>
    Q8_0,
    /// <summary>GGML q4_0: blocks of 32 weights, an f16 scale then 16 bytes of 4-bit values offset by 8 (18 bytes).</summary>
    Q4_0,
}

public static class DTypeInfo
{
    /// <summary>Bytes needed for <paramref name="elements"/> values laid out along rows of <paramref name="rowLength"/>.</summary>
    public static long ByteSize(DType type, long elements, long rowLength)
    {
        switch (type)
        {
            case DType.F32: return elements * 4;
            case DType.F16:
            case DType.BF16: return elements * 2;
            case DType.Q8_0:
            case DType.Q4_0:
                if (rowLength % 32 != 0)
                    throw new ArgumentException($"{type} needs rows that are a multiple of 32 values, got {rowLength}");
                return elements / 32 * (type == DType.Q8_0 ? 34 : 18);
            default: throw new ArgumentOutOfRangeException(nameof(type));
        }
    }

    public static string Name(DType type) => type.ToString().ToLowerInvariant();
}
