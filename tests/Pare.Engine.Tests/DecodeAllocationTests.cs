using Pare.Core.Formats;
using Pare.Engine.Kernels;
using Pare.Engine.Weights;
using Pare.TestSupport;

namespace Pare.Engine.Tests;

/// <summary>Steady-state decode allocates nothing (workers, work items, activation scratch and buffers are reused).</summary>
[Collection(KernelLevelCollection.Name)]
public class DecodeAllocationTests
{
    [Theory]
    [InlineData("f32", 1)]
    [InlineData("f32", 2)]
    [InlineData("int8", 1)]
    [InlineData("int8", 2)]
    [InlineData("sparse-int8", 2)]
    public void DecodeStepsAllocateNothing(string format, int threads)
    {
        var checkpoint = ModelLoader.Load(Shared.Stories260K);
        using var model = new Transformer(LlamaWeights.FromCheckpoint(checkpoint, WeightMatrixFactory.To(format)), threads);
        var cache = model.NewCache(128);
        var logits = new float[model.Config.VocabSize];
        int token = 1;
        void Step()
        {
            model.Forward(new ReadOnlySpan<int>(ref token), cache, logits);
            token = Simd.ArgMax(logits);
        }
        for (int i = 0; i < 64; i++) Step(); // warm-up: JIT tiers, per-thread scratch
        // Per-thread counters of the threads that run the model (the test runner allocates on its own threads).
        var probe = new AllocationProbe(threads);
        int[] idsBefore = new int[threads], idsAfter = new int[threads];
        long[] bytesBefore = new long[threads], bytesAfter = new long[threads];
        probe.Run(model.Workers, idsBefore, bytesBefore);
        for (int i = 0; i < 64; i++) Step();
        probe.Run(model.Workers, idsAfter, bytesAfter);
        var before = idsBefore.Zip(bytesBefore).ToDictionary(p => p.First, p => p.Second);
        var after = idsAfter.Zip(bytesAfter).ToDictionary(p => p.First, p => p.Second);
        Assert.Equal(threads, before.Count);
        Assert.Equal(before.Keys.Order(), after.Keys.Order());
        foreach (var (id, bytes) in before)
            Assert.True(after[id] == bytes, $"{format} × {threads} threads: thread {id} allocated {after[id] - bytes} bytes in 64 decode steps");
    }

    /// <summary>
    /// Reads each model thread's allocation counter, keyed by thread. Workers hand parts to whichever thread is
    /// free, so the parts meet at a barrier: no thread can take a second part before every part has started, so
    /// every thread of the pool reads its own counter once.
    /// </summary>
    private sealed class AllocationProbe(int threads) : IParallelWork
    {
        private readonly int[] _ids = new int[threads];
        private readonly long[] _bytes = new long[threads];
        private int _arrived;

        /// <summary>Fills ids and bytes (allocates nothing itself, so it can bracket the measured steps).</summary>
        public void Run(Workers workers, int[] ids, long[] bytes)
        {
            _arrived = 0;
            workers.Run(this);
            _ids.CopyTo(ids, 0);
            _bytes.CopyTo(bytes, 0);
        }

        public void Execute(int part, int parts)
        {
            Interlocked.Increment(ref _arrived);
            var spin = new SpinWait();
            while (Volatile.Read(ref _arrived) < parts) spin.SpinOnce(sleep1Threshold: -1);
            _ids[part] = Environment.CurrentManagedThreadId;
            _bytes[part] = GC.GetAllocatedBytesForCurrentThread();
        }
    }

    [Fact]
    public void FallbackLevelsGiveTheSameLogits()
    {
        var weights = LlamaWeights.FromCheckpoint(ModelLoader.Load(Shared.Stories260K));
        int[] ids = [1, 403, 407, 261, 378, 429, 271, 307, 262, 1033 % 512];
        float[] Run()
        {
            using var model = new Transformer(weights, 2);
            var all = new float[ids.Length * model.Config.VocabSize];
            model.Forward(ids, model.NewCache(), all);
            return all;
        }
        var saved = KernelDispatch.Level;
        try
        {
            var best = Run();
            foreach (var level in Enum.GetValues<SimdLevel>().Where(l => l < KernelDispatch.Detected))
            {
                KernelDispatch.Level = level;
                var other = Run();
                float worst = 0;
                for (int i = 0; i < best.Length; i++) worst = Math.Max(worst, Math.Abs(best[i] - other[i]));
                Assert.True(worst < 1e-4f, $"{level}: max |Δ logit| = {worst}");
            }
        }
        finally
        {
            KernelDispatch.Level = saved;
        }
    }
}
