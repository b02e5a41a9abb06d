using System.Buffers;
using System.IO.MemoryMappedFiles;

namespace Pare.Core.Formats;

/// <summary>
/// A read-only memory map of a whole file. Slices stay valid as long as any of them is referenced, so tensors
/// can point into the file without copying.
/// </summary>
public sealed unsafe class MappedFile
{
    private readonly MemoryMappedFile? _map;
    private readonly MemoryMappedViewAccessor? _view;
    private readonly byte* _base;

    private MappedFile(string path)
    {
        Path = path;
        if (!File.Exists(path))
            throw new PareFormatException(path, "file not found");
        // The stream's length is the file's, through symbolic links (FileInfo.Length would be the link's own size).
        var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        Length = stream.Length;
        if (Length == 0)
        {
            stream.Dispose();
            return;
        }
        _map = MemoryMappedFile.CreateFromFile(stream, null, 0, MemoryMappedFileAccess.Read, HandleInheritability.None, leaveOpen: false);
        _view = _map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
        byte* p = null;
        _view.SafeMemoryMappedViewHandle.AcquirePointer(ref p);
        _base = p + _view.PointerOffset;
    }

    public static MappedFile Open(string path) => new(path);

    public string Path { get; }
    public long Length { get; }

    /// <summary>Bytes [offset, offset+length), bounds-checked against the file.</summary>
    public ReadOnlyMemory<byte> Slice(long offset, long length, string what)
    {
        if (offset < 0 || length < 0 || offset > Length || length > Length - offset)
            throw new PareFormatException(Path, $"{what} lies outside the file (offset {offset}, {length} bytes, file is {Length} bytes)");
        if (length > int.MaxValue)
            throw new PareFormatException(Path, $"{what} is {length} bytes; tensors over 2 GiB are not supported");
        if (length == 0) return ReadOnlyMemory<byte>.Empty;
        return new Region(this, _base + offset, (int)length).Memory;
    }

    public ReadOnlySpan<byte> Span(long offset, int length, string what) => Slice(offset, length, what).Span;

    private sealed class Region : MemoryManager<byte>
    {
        // Holding the file keeps the mapping alive while the slice is in use.
        private readonly MappedFile _owner;
        private readonly byte* _pointer;
        private readonly int _length;

        public Region(MappedFile owner, byte* pointer, int length)
        {
            _owner = owner;
            _pointer = pointer;
            _length = length;
        }

        public override Span<byte> GetSpan() => new(_pointer, _length);
        public override MemoryHandle Pin(int elementIndex = 0) => new(_pointer + elementIndex, default, this);
        public override void Unpin() { }
        protected override void Dispose(bool disposing) { }
        public MappedFile Owner => _owner;
    }
}
