using System.Diagnostics;

namespace Pare.Engine.Kernels;

/// <summary>
/// Persistent worker threads for splitting an operator (matrix rows, attention heads) across cores. A dispatch is
/// cut into chunks (a few per thread); each thread claims its own chunks first and then any left unclaimed, the
/// calling thread included, so a worker the OS has descheduled (another process on the core) costs the chunks it
/// has not started rather than a stall of the whole operator until it runs again. Workers are woken by a
/// generation counter they spin on for a short while after each dispatch (decode issues operators microseconds
/// apart, so a blocked thread's wake-up latency would dominate) before blocking on an event. A worker that wakes
/// late can only claim chunks of the dispatch in progress (claims are compare-and-swaps on flags reset, after the
/// work is published, for each dispatch), so it helps that one or does nothing. Nothing is allocated per dispatch.
/// One caller at a time.
/// </summary>
public sealed class Workers : IDisposable
{
    /// <summary>How long an idle worker spins before it blocks.</summary>
    private static readonly long SpinTicks = Stopwatch.Frequency / 5000; // 200 µs

    private readonly Thread[] _threads;
    private readonly ManualResetEventSlim[] _wake;
    /// <summary>Most chunks one dispatch can have.</summary>
    public const int MaxChunks = 64;

    private readonly int[] _claimed = new int[MaxChunks];
    private IParallelWork? _work;
    private long _generation;
    private int _chunks, _remaining;
    private volatile bool _stopping;
    private Exception? _failure;

    public Workers(int threads)
    {
        if (threads < 1) throw new ArgumentException($"thread count must be at least 1, got {threads}", nameof(threads));
        if (threads > MaxChunks) throw new ArgumentException($"at most {MaxChunks} threads, got {threads}", nameof(threads));
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

    /// <summary>
    /// Runs work.Execute(c, chunks) for every chunk c of Threads × <paramref name="chunksPerThread"/>, each exactly
    /// once, returning when all are done. Work whose parts must run at the same time (a barrier inside Execute)
    /// takes one chunk per thread: a thread only claims another's chunk after finishing its own, so it never holds
    /// two parts of a barrier.
    /// </summary>
    public void Run(IParallelWork work, int chunksPerThread = 1)
    {
        if (Threads == 1)
        {
            work.Execute(0, 1);
            return;
        }
        ObjectDisposedException.ThrowIf(_stopping, this);
        int chunks = Math.Clamp(Threads * chunksPerThread, Threads, MaxChunks);
        _work = work;
        _chunks = chunks;
        Volatile.Write(ref _remaining, chunks);
        // Unused flags stay claimed, so a late worker holding a larger chunk count from before claims nothing.
        for (int i = 0; i < MaxChunks; i++) Volatile.Write(ref _claimed[i], i < chunks ? 0 : 1);
        Interlocked.Increment(ref _generation);
        foreach (var e in _wake) e.Set();
        try
        {
            Participate(0);
        }
        finally
        {
            var spin = new SpinWait();
            while (Volatile.Read(ref _remaining) != 0) spin.SpinOnce(sleep1Threshold: -1);
            _work = null;
        }
        if (_failure is { } failure)
        {
            _failure = null;
            throw new AggregateException("a parallel part failed", failure);
        }
    }

    /// <summary>Claims and runs chunks: this thread's own first, then any still unclaimed.</summary>
    private void Participate(int self)
    {
        int chunks = Volatile.Read(ref _chunks), first = self * (chunks / Threads);
        for (int j = 0; j < chunks; j++)
        {
            int c = (first + j) % chunks;
            if (Interlocked.CompareExchange(ref _claimed[c], 1, 0) != 0) continue;
            // Read after the claim: the work and its chunk count belong to the dispatch whose flag was won, and
            // cannot change before this chunk is done.
            var work = Volatile.Read(ref _work)!;
            try
            {
                work.Execute(c, Volatile.Read(ref _chunks));
            }
            catch (Exception e)
            {
                Interlocked.CompareExchange(ref _failure, e, null);
            }
            finally
            {
                Interlocked.Decrement(ref _remaining);
            }
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
            Participate(part);
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
