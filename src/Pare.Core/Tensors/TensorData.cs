using System.Runtime.InteropServices;

namespace Pare.Core.Tensors;

/// <summary>
/// A named tensor as stored: shape outermost first (a linear weight is [out, in], rows contiguous), an element
/// encoding and its raw little-endian bytes. Raw bytes may be a slice of a memory-mapped file.
/// </summary>
public sealed class TensorData
{
    public TensorData(string name, long[] shape, DType type, ReadOnlyMemory<byte> data)
    {
        Name = name;
        Shape = shape;
        Type = type;
        Data = data;
        long expected = DTypeInfo.ByteSize(type, ElementCount, shape.Length == 0 ? 1 : shape[^1]);
        if (data.Length != expected)
            throw new ArgumentException($"tensor {name}: {data.Length} bytes given, {expected} needed for {type} {FormatShape(shape)}");
    }

    public string Name { get; }
    public long[] Shape { get; }
    public DType Type { get; }
    public ReadOnlyMemory<byte> Data { get; }

    public long ElementCount
    {
        get
        {
            long n = 1;
            foreach (var d in Shape) n *= d;
            return n;
        }
    }

    public int Rows => Shape.Length == 1 ? 1 : checked((int)(ElementCount / Shape[^1]));
    public int Columns => checked((int)Shape[^1]);

    public static TensorData FromFloat32(string name, float[] values, params long[] shape)
        => new(name, shape, DType.F32, MemoryMarshal.AsBytes(values.AsSpan()).ToArray());

    /// <summary>Values decoded to f32 (a copy).</summary>
    public float[] ToFloat32()
    {
        var result = new float[ElementCount];
        TensorCodec.Decode(Type, Data.Span, result);
        return result;
    }

    public TensorData WithName(string name) => new(name, Shape, Type, Data);

    public static string FormatShape(long[] shape) => "[" + string.Join(", ", shape) + "]";

    public override string ToString() => $"{Name} {DTypeInfo.Name(Type)} {FormatShape(Shape)}";
}
