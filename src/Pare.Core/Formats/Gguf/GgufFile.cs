using System.Text;
using Pare.Core.Tensors;

namespace Pare.Core.Formats.Gguf;

/// <summary>
/// A GGUF file (versions 2 and 3), memory-mapped: header, metadata and tensor table parsed and bounds-checked on
/// open; tensor data handed out as slices of the map, without copying.
/// </summary>
public sealed class GgufFile
{
    public const uint Magic = 0x46554747; // "GGUF" read as a little-endian uint32
    public const int DefaultAlignment = 32;
    public const string AlignmentKey = "general.alignment";
    /// <summary>GGML_MAX_DIMS.</summary>
    public const int MaxDims = 4;
    /// <summary>Far beyond any model Pare can run (2^40 values); larger claims are corruption.</summary>
    private const long MaxElements = 1L << 40;

    private readonly MappedFile _file;
    private readonly Dictionary<string, GgufTensorInfo> _byName = new(StringComparer.Ordinal);

    private GgufFile(MappedFile file, uint version, GgufMetadata metadata, List<GgufTensorInfo> tensors, int alignment, long dataOffset)
    {
        _file = file;
        Version = version;
        Metadata = metadata;
        Tensors = tensors;
        Alignment = alignment;
        DataOffset = dataOffset;
        foreach (var t in tensors)
            if (!_byName.TryAdd(t.Name, t))
                throw new PareFormatException(Path, $"tensor '{t.Name}' appears twice in the tensor table");
    }

    public string Path => _file.Path;
    public uint Version { get; }
    public GgufMetadata Metadata { get; }
    /// <summary>The tensor table in file order.</summary>
    public IReadOnlyList<GgufTensorInfo> Tensors { get; }
    public int Alignment { get; }
    /// <summary>Absolute file offset of the data section (tensor offsets are relative to it).</summary>
    public long DataOffset { get; }

    public bool HasTensor(string name) => _byName.ContainsKey(name);

    public GgufTensorInfo TensorInfo(string name) => _byName.TryGetValue(name, out var t)
        ? t
        : throw new PareFormatException(Path, $"tensor '{name}' is missing");

    /// <summary>A tensor's data in Pare's shape order ([out, in]), named <paramref name="rename"/> if given.</summary>
    public TensorData ReadTensor(string name, string? rename = null)
    {
        var info = TensorInfo(name);
        if (GgmlTypeInfo.ToDType(info.Type) is not { } type)
            throw new PareFormatException(Path, $"tensor '{name}' has GGML type {GgmlTypeInfo.Name(info.Type)}, which Pare does not read (it reads f32, f16, bf16, q8_0 and q4_0)");
        long size = info.ByteSize ?? throw new PareFormatException(Path, $"tensor '{name}' is {GgmlTypeInfo.Name(info.Type)} but its rows of {info.Dims[0]} values are not whole blocks of {GgmlQuants.BlockSize}");
        var bytes = _file.Slice(DataOffset + info.Offset, size, $"data of tensor '{name}'");
        return new TensorData(rename ?? name, info.Shape, type, bytes);
    }

    public static GgufFile Open(string path)
    {
        var file = MappedFile.Open(path);
        const int fixedHeader = 24; // magic, version, tensor count, metadata count
        if (file.Length < fixedHeader)
            throw new PareFormatException(path, $"truncated GGUF file: {file.Length} bytes, the fixed header alone needs {fixedHeader}");
        var header = file.Slice(0, Math.Min(file.Length, int.MaxValue), "GGUF header").Span;
        var cursor = new GgufReadCursor(header, path);

        uint magic = cursor.UInt32("magic");
        if (magic != Magic)
            throw new PareFormatException(path, $"not a GGUF file: magic is \"{Printable(header[..4])}\", expected \"GGUF\"");
        uint version = cursor.UInt32("version");
        if (version is not (2 or 3))
            throw new PareFormatException(path, $"unsupported GGUF version {version} (Pare reads versions 2 and 3; a big-endian file also shows a garbled version)");

        // Smallest possible entries: a tensor info has a name length, n_dims, one dim, type and offset (32 bytes);
        // a key/value has a key length, a type and at least one byte of value (13 bytes).
        long tensorCount = cursor.Count("tensors", 32);
        long kvCount = cursor.Count("metadata entries", 13);

        var metadata = new GgufMetadata(path);
        for (long i = 0; i < kvCount; i++)
        {
            string key = cursor.String($"key of metadata entry {i}");
            var type = cursor.ValueType($"metadata key '{key}'");
            metadata.Add(key, cursor.Value(type, $"metadata key '{key}'"));
        }

        var tensors = new List<GgufTensorInfo>((int)tensorCount);
        for (long i = 0; i < tensorCount; i++)
        {
            string name = cursor.String($"name of tensor {i}");
            uint nDims = cursor.UInt32($"dimension count of tensor '{name}'");
            if (nDims is 0 or > MaxDims)
                throw new PareFormatException(path, $"tensor '{name}' claims {nDims} dimensions (GGUF allows 1 to {MaxDims})");
            var dims = new long[nDims];
            long elements = 1;
            for (int d = 0; d < nDims; d++)
            {
                ulong ne = cursor.UInt64($"dimension {d} of tensor '{name}'");
                if (ne == 0 || ne > (ulong)(MaxElements / elements))
                    throw new PareFormatException(path, $"tensor '{name}' claims an absurd size (dimension {d} is {ne})");
                elements *= (long)ne;
                dims[d] = (long)ne;
            }
            var ggmlType = (GgmlType)cursor.UInt32($"type of tensor '{name}'");
            ulong offset = cursor.UInt64($"offset of tensor '{name}'");
            if (offset > (ulong)file.Length)
                throw new PareFormatException(path, $"tensor '{name}' has data offset {offset}, beyond the end of the file ({file.Length} bytes)");
            tensors.Add(new GgufTensorInfo(name, dims, ggmlType, (long)offset));
        }

        int alignment = DefaultAlignment;
        if (metadata.Contains(AlignmentKey))
        {
            long a = metadata.GetInt64(AlignmentKey);
            if (a <= 0 || a > 1 << 20 || (a & (a - 1)) != 0)
                throw new PareFormatException(path, $"{AlignmentKey} = {a} is not a power of two");
            alignment = (int)a;
        }
        long dataOffset = AlignUp(cursor.Position, alignment);
        var gguf = new GgufFile(file, version, metadata, tensors, alignment, dataOffset);
        gguf.CheckTensorPlacement();
        return gguf;
    }

    public static long AlignUp(long offset, int alignment) => (offset + alignment - 1) / alignment * alignment;

    /// <summary>
    /// Every tensor of a known type must be aligned and lie inside the file; when every type is known, the tensors
    /// must also tile the data section as llama.cpp's reader requires: in table order, each at the previous one's
    /// end rounded up to the alignment, and the file must end there (the last padding may be left out). So a tensor
    /// whose type or shape was changed (f32 read as f16 is half the bytes) is refused instead of read from the wrong
    /// place or followed by bytes no tensor owns.
    /// </summary>
    private void CheckTensorPlacement()
    {
        long dataBytes = _file.Length - DataOffset;
        bool allKnown = true;
        foreach (var t in Tensors)
        {
            if (t.Offset % Alignment != 0)
                throw new PareFormatException(Path, $"tensor '{t.Name}' has data offset {t.Offset}, not a multiple of the alignment {Alignment}");
            if (t.ByteSize is not { } size)
            {
                allKnown = false; // unknown types fail when read
                continue;
            }
            if (dataBytes < 0 || t.Offset > dataBytes || size > dataBytes - t.Offset)
                throw new PareFormatException(Path, $"tensor '{t.Name}' ({GgmlTypeInfo.Name(t.Type)}, shape {TensorData.FormatShape(t.Shape)}: {size} bytes at data offset {t.Offset}) lies outside the file: the data section has {Math.Max(0, dataBytes)} bytes (truncated file, or a wrong type or shape?)");
        }
        if (!allKnown || Tensors.Count == 0) return;

        long expected = 0, end = 0;
        GgufTensorInfo? previous = null;
        foreach (var t in Tensors)
        {
            if (t.Offset != expected)
                throw new PareFormatException(Path, previous == null
                    ? $"tensor '{t.Name}' has data offset {t.Offset}, expected 0 (the first tensor starts the data section)"
                    : t.Offset < expected
                        ? $"tensors '{previous.Name}' and '{t.Name}' overlap: '{t.Name}' starts at data offset {t.Offset}, '{previous.Name}' ({GgmlTypeInfo.Name(previous.Type)}, {previous.ByteSize} bytes) ends at {end}"
                        : $"tensor '{t.Name}' has data offset {t.Offset}, expected {expected}: '{previous.Name}' ({GgmlTypeInfo.Name(previous.Type)}, shape {TensorData.FormatShape(previous.Shape)}) takes {previous.ByteSize} bytes, so {t.Offset - end} bytes between them belong to no tensor (a wrong type or shape?)");
            end = t.Offset + t.ByteSize!.Value;
            expected = AlignUp(end, Alignment);
            previous = t;
        }
        if (dataBytes < end || dataBytes > expected)
            throw new PareFormatException(Path, $"the tensors take {end} bytes of data ({expected} padded), the data section has {dataBytes} (a wrong type or shape, or trailing bytes?)");
    }

    private static string Printable(ReadOnlySpan<byte> bytes)
    {
        var sb = new StringBuilder();
        foreach (var b in bytes) sb.Append(b is >= 0x20 and < 0x7F ? (char)b : '?');
        return sb.ToString();
    }
}
