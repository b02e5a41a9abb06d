using Pare.Core.Tensors;

namespace Pare.Core.Formats.Gguf;

/// <summary>
/// A tensor's entry in a GGUF header. <see cref="Dims"/> are GGML's ne[], fastest-varying first (a linear weight is
/// [in, out]); <see cref="Shape"/> is the same reversed, Pare's outermost-first order ([out, in]).
/// </summary>
public sealed record GgufTensorInfo(string Name, long[] Dims, GgmlType Type, long Offset)
{
    public long[] Shape => Dims.Reverse().ToArray();

    public long ElementCount => Dims.Aggregate(1L, (a, d) => a * d);

    /// <summary>Bytes of data, or null for a type Pare cannot hold.</summary>
    public long? ByteSize => GgmlTypeInfo.ToDType(Type) is { } t && (t is not (DType.Q8_0 or DType.Q4_0) || Dims[0] % GgmlQuants.BlockSize == 0)
        ? DTypeInfo.ByteSize(t, ElementCount, Dims[0])
        : null;
}
