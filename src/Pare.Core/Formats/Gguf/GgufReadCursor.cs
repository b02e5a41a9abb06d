using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;

namespace Pare.Core.Formats.Gguf;

/// <summary>
/// Sequential little-endian reads over a GGUF header. Every read is checked against the bytes that remain, and
/// counts are checked against the smallest encoding their elements could have, so a corrupt count fails at once
/// instead of allocating or looping for it.
/// </summary>
internal ref struct GgufReadCursor
{
    private readonly ReadOnlySpan<byte> _bytes;
    private readonly string _path;

    public GgufReadCursor(ReadOnlySpan<byte> bytes, string path)
    {
        _bytes = bytes;
        _path = path;
        Position = 0;
    }

    public int Position { get; private set; }
    public long Remaining => _bytes.Length - Position;

    private ReadOnlySpan<byte> Take(long count, string what)
    {
        if (count < 0 || count > Remaining)
            throw new PareFormatException(_path, $"truncated GGUF header: {what} needs {count} bytes at offset {Position}, {Remaining} remain");
        var s = _bytes.Slice(Position, (int)count);
        Position += (int)count;
        return s;
    }

    public uint UInt32(string what) => BinaryPrimitives.ReadUInt32LittleEndian(Take(4, what));
    public ulong UInt64(string what) => BinaryPrimitives.ReadUInt64LittleEndian(Take(8, what));

    /// <summary>A uint64 count of items that each take at least <paramref name="minItemBytes"/> bytes.</summary>
    public long Count(string what, int minItemBytes)
    {
        ulong n = UInt64(what);
        if (n > (ulong)(Remaining / Math.Max(1, minItemBytes)))
            throw new PareFormatException(_path, $"GGUF header claims {n} {what}, but only {Remaining} bytes remain at offset {Position}");
        return (long)n;
    }

    public string String(string what)
    {
        long n = Count($"bytes of {what}", 1);
        return Encoding.UTF8.GetString(Take(n, what));
    }

    public GgufValue Value(GgufValueType type, string what)
    {
        switch (type)
        {
            case GgufValueType.String: return GgufValue.Of(String(what));
            case GgufValueType.Array: return Array(what);
            default:
                var b = Take(GgufValueTypeInfo.FixedSize(type), what);
                object v = type switch
                {
                    GgufValueType.UInt8 => b[0],
                    GgufValueType.Int8 => (sbyte)b[0],
                    GgufValueType.UInt16 => BinaryPrimitives.ReadUInt16LittleEndian(b),
                    GgufValueType.Int16 => BinaryPrimitives.ReadInt16LittleEndian(b),
                    GgufValueType.UInt32 => BinaryPrimitives.ReadUInt32LittleEndian(b),
                    GgufValueType.Int32 => BinaryPrimitives.ReadInt32LittleEndian(b),
                    GgufValueType.Float32 => BinaryPrimitives.ReadSingleLittleEndian(b),
                    GgufValueType.Bool => b[0] != 0,
                    GgufValueType.UInt64 => BinaryPrimitives.ReadUInt64LittleEndian(b),
                    GgufValueType.Int64 => BinaryPrimitives.ReadInt64LittleEndian(b),
                    GgufValueType.Float64 => BinaryPrimitives.ReadDoubleLittleEndian(b),
                    _ => throw new PareFormatException(_path, $"{what} has unknown GGUF value type {(uint)type}"),
                };
                return GgufValue.Scalar(type, v);
        }
    }

    public GgufValueType ValueType(string what)
    {
        uint t = UInt32($"type of {what}");
        if (!GgufValueTypeInfo.IsDefined(t))
            throw new PareFormatException(_path, $"{what} has unknown GGUF value type {t}");
        return (GgufValueType)t;
    }

    private GgufValue Array(string what)
    {
        var elementType = ValueType($"elements of {what}");
        if (elementType == GgufValueType.Array)
            throw new PareFormatException(_path, $"{what} is an array of arrays, which Pare does not read");
        int size = GgufValueTypeInfo.FixedSize(elementType);
        long n = Count($"elements of {what}", elementType == GgufValueType.String ? 8 : size);
        switch (elementType)
        {
            case GgufValueType.String:
                var strings = new string[n];
                for (long i = 0; i < n; i++) strings[i] = String($"{what}[{i}]");
                return GgufValue.Array(elementType, strings);
            case GgufValueType.Bool:
                var flags = new bool[n];
                var fb = Take(n, what);
                for (int i = 0; i < flags.Length; i++) flags[i] = fb[i] != 0;
                return GgufValue.Array(elementType, flags);
            default:
                // Fixed-size numbers: the host is little-endian like the file, so a byte copy decodes them.
                var result = System.Array.CreateInstance(GgufValue.ClrType(elementType), n);
                var raw = Take(n * size, what);
                var target = MemoryMarshal.CreateSpan(ref MemoryMarshal.GetArrayDataReference(result), checked((int)(n * size)));
                raw.CopyTo(target);
                return GgufValue.Array(elementType, result);
        }
    }
}
