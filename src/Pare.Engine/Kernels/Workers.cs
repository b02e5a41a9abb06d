namespace Pare.Engine.Kernels;

/// <summary>Splits index ranges (matrix rows, attention heads) across threads.</summary>
public sealed class Workers
{
    public Workers(int threads) => Threads = Math.Max(1, threads);

    public int Threads { get; }

    /// <summary>
    /// Runs body(chunk, start, end) over [0, count) in at most Threads contiguous chunks; inline when there is one
    /// thread or too little work to repay the hand-off.
    /// </summary>
    public void For(int count, long workPerItem, Action<int, int, int> body)
    {
        int chunks = Math.Min(Threads, count);
        if (chunks <= 1 || count * workPerItem < 32_768)
        {
            body(0, 0, count);
            return;
        }
        Parallel.For(0, chunks, new ParallelOptions { MaxDegreeOfParallelism = Threads }, c =>
            body(c, (int)((long)count * c / chunks), (int)((long)count * (c + 1) / chunks)));
    }
}
