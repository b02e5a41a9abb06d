using System.Diagnostics;
using System.Runtime.Intrinsics;

namespace Pare.Engine.Kernels;

/// <summary>
/// The machine's streaming read bandwidth, measured the way decode reads weights: each thread sums its contiguous
/// share of a buffer far larger than the caches (512 MiB by default) with wide loads.
/// <para>
/// Each pass times only the interval in which every thread reads: the threads meet at a spin barrier, and the
/// pass runs from the first thread leaving it to the last one finishing. Timing the whole dispatch instead counts a
/// sleeping worker's wake-up (milliseconds on a busy VM) and, while one thread waits, credits the other with
/// single-thread reading; both skew the 2-thread figure. Every pass is returned, so callers can report the spread
/// (a VM's host bandwidth varies between passes) rather than one lucky maximum.
/// </para>
/// </summary>
public sealed unsafe class MemoryBandwidth : IParallelWork, IDisposable
{
    private readonly AlignedBuffer _buffer;
    private readonly float[] _sums = new float[64];
    private readonly long[] _start = new long[64], _end = new long[64];
    private int _arrived;

    public MemoryBandwidth(long bytes = 1L << 29)
    {
        _buffer = new AlignedBuffer(bytes / 256 * 256);
        // Touch every page so the first pass does not measure page faults.
        for (long at = 0; at < _buffer.Length; at += int.MaxValue)
            new Span<byte>(_buffer.Pointer + at, (int)Math.Min(_buffer.Length - at, int.MaxValue)).Fill(1);
    }

    public long Bytes => _buffer.Length;

    public void Dispose() => _buffer.Dispose();

    /// <summary>Read bandwidth of each of <paramref name="passes"/> passes, in bytes per second.</summary>
    public double[] Measure(Workers workers, int passes = 9)
    {
        if (workers.Threads > _start.Length) throw new ArgumentException($"at most {_start.Length} threads");
        var result = new double[passes];
        for (int p = 0; p < passes; p++)
        {
            _arrived = 0;
            workers.Run(this);
            long first = long.MaxValue, last = long.MinValue;
            for (int t = 0; t < workers.Threads; t++)
            {
                first = Math.Min(first, _start[t]);
                last = Math.Max(last, _end[t]);
            }
            result[p] = _buffer.Length / ((double)(last - first) / Stopwatch.Frequency);
        }
        return result;
    }

    public void Execute(int part, int parts)
    {
        Interlocked.Increment(ref _arrived);
        var spin = new SpinWait();
        while (Volatile.Read(ref _arrived) < parts) spin.SpinOnce(sleep1Threshold: -1);
        _start[part] = Stopwatch.GetTimestamp();
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
        _end[part] = Stopwatch.GetTimestamp();
    }
}
