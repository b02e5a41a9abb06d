using System.Diagnostics;
using System.Runtime.Intrinsics;

namespace Pare.Engine.Kernels;

/// <summary>
/// The machine's streaming read bandwidth, measured the way decode reads weights: each thread sums its contiguous
/// share of a buffer far larger than the caches with wide loads. The best of several passes is reported.
/// </summary>
public sealed unsafe class MemoryBandwidth : IParallelWork, IDisposable
{
    private readonly AlignedBuffer _buffer;
    private readonly float[] _sums = new float[64];

    public MemoryBandwidth(long bytes = 1L << 29)
    {
        _buffer = new AlignedBuffer(bytes / 256 * 256);
        // Touch every page so the first pass does not measure page faults.
        new Span<byte>(_buffer.Pointer, checked((int)Math.Min(_buffer.Length, int.MaxValue))).Fill(1);
    }

    public long Bytes => _buffer.Length;

    public void Dispose() => _buffer.Dispose();

    /// <summary>Best read bandwidth over <paramref name="passes"/> passes, in bytes per second.</summary>
    public double Measure(Workers workers, int passes = 5)
    {
        double best = 0;
        for (int p = 0; p < passes; p++)
        {
            long start = Stopwatch.GetTimestamp();
            workers.Run(this);
            double seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
            best = Math.Max(best, _buffer.Length / seconds);
        }
        return best;
    }

    public void Execute(int part, int parts)
    {
        long chunk = _buffer.Length / 256 / parts * 256;
        byte* p = _buffer.Pointer + chunk * part;
        long end = part == parts - 1 ? _buffer.Length : chunk * (part + 1);
        float* q = (float*)p, qe = (float*)(_buffer.Pointer + end);
        var a0 = Vector512<float>.Zero;
        var a1 = Vector512<float>.Zero;
        var a2 = Vector512<float>.Zero;
        var a3 = Vector512<float>.Zero;
        for (; q + 64 <= qe; q += 64)
        {
            a0 += Vector512.Load(q);
            a1 += Vector512.Load(q + 16);
            a2 += Vector512.Load(q + 32);
            a3 += Vector512.Load(q + 48);
        }
        _sums[part] = Vector512.Sum(a0 + a1 + a2 + a3); // keeps the loads alive
    }
}
