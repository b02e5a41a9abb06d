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
        var before = new long[threads];
        model.Workers.Run(probe);
        probe.Bytes.CopyTo(before, 0);
        for (int i = 0; i < 64; i++) Step();
        model.Workers.Run(probe);
        for (int t = 0; t < threads; t++)
            Assert.True(probe.Bytes[t] == before[t], $"{format} × {threads} threads: thread {t} allocated {probe.Bytes[t] - before[t]} bytes in 64 decode steps");
    }

    private sealed class AllocationProbe(int threads) : IParallelWork
    {
        public long[] Bytes { get; } = new long[threads];

        public void Execute(int part, int parts) => Bytes[part] = GC.GetAllocatedBytesForCurrentThread();
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
