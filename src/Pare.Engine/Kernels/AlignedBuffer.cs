using System.Runtime.InteropServices;

namespace Pare.Engine.Kernels;

/// <summary>
/// Zeroed unmanaged memory aligned to a cache line, for weights that kernels stream: 64-byte alignment keeps
/// 512-bit loads within one line, and the block does not move under the garbage collector. A tail of
/// <see cref="Slack"/> bytes lets kernels read a full vector past the last value.
/// </summary>
public sealed unsafe class AlignedBuffer : IDisposable
{
    public const int Alignment = 64;
    public const int Slack = 64;
    private byte* _pointer;

    public AlignedBuffer(long bytes)
    {
        if (bytes < 0) throw new ArgumentOutOfRangeException(nameof(bytes));
        Length = bytes;
        nuint size = (nuint)(bytes + Slack);
        _pointer = (byte*)NativeMemory.AlignedAlloc(size, Alignment);
        NativeMemory.Clear(_pointer, size);
        if (bytes > 0) GC.AddMemoryPressure(bytes);
    }

    ~AlignedBuffer() => Free();

    public long Length { get; }

    public byte* Pointer => _pointer != null ? _pointer : throw new ObjectDisposedException(nameof(AlignedBuffer));

    public Span<T> AsSpan<T>(long byteOffset, int count) where T : unmanaged => new(Pointer + byteOffset, count);

    public void Dispose()
    {
        Free();
        GC.SuppressFinalize(this);
    }

    private void Free()
    {
        if (_pointer == null) return;
        NativeMemory.AlignedFree(_pointer);
        _pointer = null;
        if (Length > 0) GC.RemoveMemoryPressure(Length);
    }
}
