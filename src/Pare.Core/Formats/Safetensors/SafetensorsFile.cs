using System.Buffers.Binary;
using System.Text.Json;
using Pare.Core.Tensors;

namespace Pare.Core.Formats.Safetensors;

/// <summary>
/// A safetensors file, memory-mapped: an 8-byte little-endian header length, a JSON header naming each tensor's
/// dtype, shape and [begin, end) byte range in the data section, then the data. Everything the header claims is
/// checked against the file before a tensor is handed out.
/// </summary>
public sealed class SafetensorsFile
{
    /// <summary>The safetensors library refuses headers over 100 MB; so does Pare.</summary>
    public const long MaxHeaderBytes = 100_000_000;
    public const string MetadataKey = "__metadata__";

    private readonly Dictionary<string, TensorData> _tensors;

    private SafetensorsFile(string path, Dictionary<string, TensorData> tensors, IReadOnlyDictionary<string, string> metadata, List<string> order,
        Dictionary<string, SafetensorsInteger> integers)
    {
        Path = path;
        _tensors = tensors;
        Integers = integers;
        Metadata = metadata;
        Names = order;
    }

    public string Path { get; }
    public IReadOnlyDictionary<string, string> Metadata { get; }
    /// <summary>Tensor names in header order.</summary>
    public IReadOnlyList<string> Names { get; }
    public IReadOnlyDictionary<string, TensorData> Tensors => _tensors;
    /// <summary>Integer tensors (I8, U8, I16, I32, I64), read only when <c>Open</c> is asked for them (compressed-tensors' packed weights).</summary>
    public IReadOnlyDictionary<string, SafetensorsInteger> Integers { get; }

    /// <summary>Bytes per element of the integer dtypes, 0 for any other name.</summary>
    public static int IntegerSize(string dtype) => dtype switch { "I8" or "U8" => 1, "I16" => 2, "I32" => 4, "I64" => 8, _ => 0 };

    public TensorData this[string name] => _tensors.TryGetValue(name, out var t) ? t : throw new PareFormatException(Path, $"tensor '{name}' is missing");

    public static DType ParseDType(string path, string tensor, string dtype) => dtype switch
    {
        "F32" => DType.F32,
        "F16" => DType.F16,
        "BF16" => DType.BF16,
        _ => throw new PareFormatException(path, $"tensor '{tensor}' has dtype {dtype}, which Pare does not read (it reads F32, F16 and BF16)"),
    };

    public static string DTypeName(DType type) => type switch
    {
        DType.F32 => "F32",
        DType.F16 => "F16",
        DType.BF16 => "BF16",
        _ => throw new ArgumentException($"{type} has no safetensors dtype", nameof(type)),
    };

    public static SafetensorsFile Open(string path, bool integers = false)
    {
        var file = MappedFile.Open(path);
        if (file.Length < 8)
            throw new PareFormatException(path, $"truncated safetensors file: {file.Length} bytes, the header length alone needs 8");
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(file.Span(0, 8, "header length"));
        if (headerLength > (ulong)(file.Length - 8))
            throw new PareFormatException(path, $"safetensors header claims {headerLength} bytes, the file has {file.Length - 8} after the length field (truncated or not safetensors)");
        if (headerLength > MaxHeaderBytes)
            throw new PareFormatException(path, $"safetensors header claims {headerLength} bytes, more than the format's limit of {MaxHeaderBytes}");
        long dataStart = 8 + (long)headerLength;
        long dataBytes = file.Length - dataStart;

        var headerBytes = file.Slice(8, (long)headerLength, "header");
        // System.Text.Json parses invalid UTF-8 inside strings and only fails when a name is read, with another exception type.
        if (!System.Text.Unicode.Utf8.IsValid(headerBytes.Span))
            throw new PareFormatException(path, "malformed safetensors JSON header: not valid UTF-8");
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(headerBytes, new JsonDocumentOptions { MaxDepth = 16 });
        }
        catch (JsonException e)
        {
            throw new PareFormatException(path, $"malformed safetensors JSON header: {e.Message}", e);
        }
        try
        {
            using (doc)
            {
                if (doc.RootElement.ValueKind != JsonValueKind.Object)
                    throw new PareFormatException(path, $"safetensors header is a JSON {doc.RootElement.ValueKind}, not an object");

                var tensors = new Dictionary<string, TensorData>(StringComparer.Ordinal);
                var order = new List<string>();
                var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
                var ranges = new List<(long Begin, long End, string Name)>();
                var ints = new Dictionary<string, SafetensorsInteger>(StringComparer.Ordinal);
                foreach (var entry in doc.RootElement.EnumerateObject())
                {
                    if (entry.Name == MetadataKey)
                    {
                        if (entry.Value.ValueKind != JsonValueKind.Object)
                            throw new PareFormatException(path, $"{MetadataKey} is not a JSON object");
                        foreach (var kv in entry.Value.EnumerateObject())
                            metadata[kv.Name] = kv.Value.ValueKind == JsonValueKind.String ? kv.Value.GetString()! : kv.Value.GetRawText();
                        continue;
                    }
                    var (dtypeName, shape, begin, end) = ParseEntry(path, entry);
                    if (end > dataBytes)
                        throw new PareFormatException(path, $"tensor '{entry.Name}' data [{begin}, {end}) lies outside the data section ({dataBytes} bytes; truncated file?)");
                    long expected;
                    if (integers && IntegerSize(dtypeName) is int size and > 0)
                    {
                        try { expected = checked(shape.Aggregate(1L, (a, d) => checked(a * d)) * size); }
                        catch (OverflowException) { throw new PareFormatException(path, $"tensor '{entry.Name}' claims an absurd shape {TensorData.FormatShape(shape)}"); }
                        if (end - begin != expected)
                            throw new PareFormatException(path, $"tensor '{entry.Name}' has {end - begin} bytes of data, its dtype {dtypeName} and shape {TensorData.FormatShape(shape)} need {expected}");
                        if (!ints.TryAdd(entry.Name, new SafetensorsInteger(entry.Name, dtypeName, shape, file.Slice(dataStart + begin, end - begin, $"tensor '{entry.Name}'"))) || tensors.ContainsKey(entry.Name))
                            throw new PareFormatException(path, $"tensor '{entry.Name}' appears twice in the header");
                        order.Add(entry.Name);
                        ranges.Add((begin, end, entry.Name));
                        continue;
                    }
                    var type = ParseDType(path, entry.Name, dtypeName);
                    try { expected = DTypeInfo.ByteSize(type, shape.Aggregate(1L, (a, d) => checked(a * d)), shape.Length == 0 ? 1 : shape[^1]); }
                    catch (OverflowException) { throw new PareFormatException(path, $"tensor '{entry.Name}' claims an absurd shape {TensorData.FormatShape(shape)}"); }
                    if (end - begin != expected)
                        throw new PareFormatException(path, $"tensor '{entry.Name}' has {end - begin} bytes of data, its dtype and shape {TensorData.FormatShape(shape)} need {expected}");
                    if (ints.ContainsKey(entry.Name) || !tensors.TryAdd(entry.Name, new TensorData(entry.Name, shape, type, file.Slice(dataStart + begin, end - begin, $"tensor '{entry.Name}'"))))
                        throw new PareFormatException(path, $"tensor '{entry.Name}' appears twice in the header");
                    order.Add(entry.Name);
                    ranges.Add((begin, end, entry.Name));
                }
                CheckTiling(path, ranges, dataBytes);
                return new SafetensorsFile(path, tensors, metadata, order, ints);
            }
        }
        catch (InvalidOperationException e)
        {
            // A string value with an escape that is no valid UTF-16 (a lone surrogate) fails only when read.
            throw new PareFormatException(path, $"malformed safetensors JSON header: {e.Message}", e);
        }
    }

    /// <summary>
    /// The spec (and the reference implementation's validate) requires the tensors' byte ranges to cover the data
    /// section exactly: sorted, each begins where the previous ended, the first at 0 and the last at its end. A
    /// header length off by a byte still parses when the JSON ends in padding, and shifts every tensor by that
    /// byte; only this check notices.
    /// </summary>
    private static void CheckTiling(string path, List<(long Begin, long End, string Name)> ranges, long dataBytes)
    {
        ranges.Sort((a, b) => a.Begin != b.Begin ? a.Begin.CompareTo(b.Begin) : a.End.CompareTo(b.End));
        long expected = 0;
        string? previous = null;
        foreach (var (begin, end, name) in ranges)
        {
            if (begin < expected)
                throw new PareFormatException(path, $"tensors '{previous}' and '{name}' overlap in the data section (bytes [{begin}, {expected}))");
            if (begin > expected)
                throw new PareFormatException(path, previous == null
                    ? $"the data section starts with {begin} bytes no tensor covers (tensor '{name}' begins at {begin}, expected 0)"
                    : $"{begin - expected} bytes between tensors '{previous}' and '{name}' belong to no tensor (data offsets must tile the data section)");
            expected = end;
            previous = name;
        }
        if (expected != dataBytes)
            throw new PareFormatException(path, $"the tensors cover {expected} bytes of data, the data section after the JSON header has {dataBytes} (a wrong header length or trailing bytes)");
    }

    private static (string DType, long[] Shape, long Begin, long End) ParseEntry(string path, JsonProperty entry)
    {
        var v = entry.Value;
        string name = entry.Name;
        if (v.ValueKind != JsonValueKind.Object
            || !v.TryGetProperty("dtype", out var dtype) || dtype.ValueKind != JsonValueKind.String
            || !v.TryGetProperty("shape", out var shape) || shape.ValueKind != JsonValueKind.Array
            || !v.TryGetProperty("data_offsets", out var offsets) || offsets.ValueKind != JsonValueKind.Array || offsets.GetArrayLength() != 2)
            throw new PareFormatException(path, $"tensor '{name}' needs \"dtype\" (string), \"shape\" (array) and \"data_offsets\" ([begin, end])");
        var type = dtype.GetString()!;
        if (shape.GetArrayLength() > 8)
            throw new PareFormatException(path, $"tensor '{name}' has {shape.GetArrayLength()} dimensions");
        var dims = shape.EnumerateArray().Select(d => NonNegative(path, name, "shape", d)).ToArray();
        long begin = NonNegative(path, name, "data_offsets", offsets[0]);
        long end = NonNegative(path, name, "data_offsets", offsets[1]);
        if (end < begin)
            throw new PareFormatException(path, $"tensor '{name}' has data_offsets [{begin}, {end}] that end before they begin");
        return (type, dims, begin, end);
    }

    private static long NonNegative(string path, string tensor, string field, JsonElement e)
        => e.ValueKind == JsonValueKind.Number && e.TryGetInt64(out long v) && v >= 0
            ? v
            : throw new PareFormatException(path, $"tensor '{tensor}' has a {field} entry that is not a non-negative integer: {e.GetRawText()}");
}

/// <summary>An integer tensor of a safetensors file: its dtype name (I8, U8, I16, I32, I64), shape and raw little-endian bytes.</summary>
public sealed record SafetensorsInteger(string Name, string DType, long[] Shape, ReadOnlyMemory<byte> Data)
{
    public long ElementCount => Shape.Aggregate(1L, (a, d) => a * d);

    /// <summary>The values widened to long.</summary>
    public long[] ToInt64()
    {
        var span = Data.Span;
        var result = new long[ElementCount];
        for (long i = 0; i < result.LongLength; i++)
        {
            result[i] = DType switch
            {
                "I8" => (sbyte)span[(int)i],
                "U8" => span[(int)i],
                "I16" => System.Buffers.Binary.BinaryPrimitives.ReadInt16LittleEndian(span[(int)(2 * i)..]),
                "I32" => System.Buffers.Binary.BinaryPrimitives.ReadInt32LittleEndian(span[(int)(4 * i)..]),
                _ => System.Buffers.Binary.BinaryPrimitives.ReadInt64LittleEndian(span[(int)(8 * i)..]),
            };
        }
        return result;
    }
}
