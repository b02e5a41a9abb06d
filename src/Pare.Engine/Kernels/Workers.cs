using System.Diagnostics;

namespace Pare.Engine.Kernels;

/// <summary>
/// Persistent worker threads for splitting an operator (matrix rows, attention heads) across cores. The calling
/// thread does part 0 itself; the others are woken by a generation counter they spin on for a short while after
/// each dispatch (decode issues operators microseconds apart, so a blocked thread's wake-up latency would dominate)
/// before blocking on an event. Nothing is allocated per dispatch. One caller at a time.
/// </summary>
public sealed class Workers : IDisposable
{
    /// <summary>How long an idle worker spins before it blocks.</summary>
    private static readonly long SpinTicks = Stopwatch.Frequency / 5000; // 200 µs

    private readonly Thread[] _threads;
    private readonly ManualResetEventSlim[] _wake;
    private IParallelWork? _work;
    private long _generation;
    private int _pending;
    private volatile bool _stopping;
    private Exception? _failure;

    public Workers(int threads)
    {
        if (threads < 1) throw new ArgumentException($"thread count must be at least 1, got {threads}", nameof(threads));
        Threads = threads;
        _threads = new Thread[threads - 1];
        _wake = new ManualResetEventSlim[threads - 1];
        for (int i = 0; i < _threads.Length; i++)
        {
            _wake[i] = new ManualResetEventSlim(false);
            // The event creates its lock object on the first wait that blocks; do that now, not during decode.
            _wake[i].Wait(1);
            int part = i + 1;
            _threads[i] = new Thread(() => Loop(part)) { IsBackground = true, Name = $"pare-worker-{part}" };
            _threads[i].Start();
        }
    }

    public int Threads { get; }

    /// <summary>Runs work.Execute(p, Threads) for every part p, returning when all are done.</summary>
    public void Run(IParallelWork work)
    {
        if (Threads == 1)
        {
            work.Execute(0, 1);
            return;
        }
        ObjectDisposedException.ThrowIf(_stopping, this);
        _work = work;
        Volatile.Write(ref _pending, Threads - 1);
        Interlocked.Increment(ref _generation);
        foreach (var e in _wake) e.Set();
        try
        {
            work.Execute(0, Threads);
        }
        finally
        {
            var spin = new SpinWait();
            while (Volatile.Read(ref _pending) != 0) spin.SpinOnce(sleep1Threshold: -1);
            _work = null;
        }
        if (_failure is { } failure)
        {
            _failure = null;
            throw new AggregateException("a worker thread failed", failure);
        }
    }

    /// <summary>
    /// Runs body(part, start, end) over [0, count) in contiguous chunks, inline when the work is too small to repay
    /// a hand-off. Allocates a closure: for set-up code, not for the per-token path.
    /// </summary>
    public void For(int count, long workPerItem, Action<int, int, int> body)
    {
        int parts = Math.Min(Threads, count);
        if (parts <= 1 || count * workPerItem < 32_768)
        {
            body(0, 0, count);
            return;
        }
        Run(new RangeWork(count, parts, body));
    }

    public void Dispose()
    {
        if (_stopping) return;
        _stopping = true;
        Interlocked.Increment(ref _generation);
        foreach (var e in _wake) e.Set();
        foreach (var t in _threads) t.Join();
        foreach (var e in _wake) e.Dispose();
    }

    private void Loop(int part)
    {
        var wake = _wake[part - 1];
        long seen = 0;
        while (true)
        {
            long deadline = Stopwatch.GetTimestamp() + SpinTicks;
            int spins = 0;
            while (Volatile.Read(ref _generation) == seen)
            {
                if (deadline != 0)
                {
                    Thread.SpinWait(16);
                    if ((++spins & 63) == 0 && Stopwatch.GetTimestamp() > deadline) deadline = 0;
                }
                else
                {
                    // Set before the generation moved is harmless: the loop re-checks and waits again.
                    wake.Wait();
                    wake.Reset();
                }
            }
            seen = Volatile.Read(ref _generation);
            if (_stopping) return;
            try
            {
                _work!.Execute(part, Threads);
            }
            catch (Exception e)
            {
                Interlocked.CompareExchange(ref _failure, e, null);
            }
            finally
            {
                Interlocked.Decrement(ref _pending);
            }
        }
    }

    private sealed class RangeWork(int count, int parts, Action<int, int, int> body) : IParallelWork
    {
        public void Execute(int part, int totalParts)
        {
            if (part >= parts) return;
            body(part, (int)((long)count * part / parts), (int)((long)count * (part + 1) / parts));
        }
    }
}
