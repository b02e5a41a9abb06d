using Pare.Engine.Kernels;

namespace Pare.Engine.Tests;

public class WorkersTests
{
    /// <summary>Counts, per dispatch, how often each chunk ran; some chunks stall so that others get claimed by whoever is free.</summary>
    private sealed class CountingWork : IParallelWork
    {
        public int[] Runs = new int[Workers.MaxChunks];
        public int Parts = -1;
        public int Stall = -1;

        public void Execute(int part, int parts)
        {
            Parts = parts;
            Interlocked.Increment(ref Runs[part]);
            if (part == Stall) Thread.Sleep(1);
        }
    }

    [Fact]
    public void EveryChunkRunsExactlyOnceAcrossManyDispatches()
    {
        using var workers = new Workers(3);
        var rng = new Random(5);
        var works = new[] { new CountingWork(), new CountingWork() };
        for (int d = 0; d < 3000; d++)
        {
            // Alternate work objects and chunk counts so a late worker meets a different dispatch than it woke for.
            var work = works[d % 2];
            Array.Clear(work.Runs);
            int perThread = 1 + rng.Next(5);
            work.Stall = d % 97 == 0 ? rng.Next(3 * perThread) : -1;
            workers.Run(work, perThread);
            Assert.Equal(3 * perThread, work.Parts);
            for (int c = 0; c < Workers.MaxChunks; c++)
                Assert.True(work.Runs[c] == (c < 3 * perThread ? 1 : 0), $"dispatch {d}: chunk {c} ran {work.Runs[c]} times");
        }
    }

    [Fact]
    public void AFailingChunkSurfacesAndLeavesTheWorkersUsable()
    {
        using var workers = new Workers(2);
        var failing = new FailingWork();
        Assert.Throws<AggregateException>(() => workers.Run(failing, 2));
        var ok = new CountingWork();
        workers.Run(ok, 2);
        Assert.Equal(4, ok.Runs.Take(4).Sum());
    }

    private sealed class FailingWork : IParallelWork
    {
        public void Execute(int part, int parts)
        {
            if (part == 3) throw new InvalidOperationException("chunk 3 fails");
        }
    }
}
