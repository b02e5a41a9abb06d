using System.Text.Json;
using Pare.Core;
using Pare.Core.Formats;
using Pare.TestSupport;

namespace Pare.Engine.Tests;

/// <summary>The same model read from different file formats gives the same logits through the engine.</summary>
public class CrossFormatLogitsTests
{
    internal static int[] ReferenceIds()
    {
        var meta = JsonDocument.Parse(File.ReadAllText(Shared.Reference("stories260K.logits64.json"))).RootElement;
        return Shared.Ints(meta.GetProperty("ids"));
    }

    internal static float[] Logits(Checkpoint checkpoint, int[] ids)
    {
        var model = new Transformer(LlamaWeights.FromCheckpoint(checkpoint));
        var logits = new float[ids.Length * checkpoint.Config.VocabSize];
        model.Forward(ids, model.NewCache(), logits);
        return logits;
    }

    internal static float MaxAbsDifference(float[] a, float[] b)
    {
        Assert.Equal(a.Length, b.Length);
        float worst = 0;
        for (int i = 0; i < a.Length; i++) worst = Math.Max(worst, Math.Abs(a[i] - b[i]));
        return worst;
    }

    [Fact]
    public void LlamaCppGgufGivesTheLogitsOfTheLlama2cFile()
    {
        var ids = ReferenceIds();
        var expected = Logits(ModelLoader.Load(Shared.Stories260K), ids);
        var actual = Logits(ModelLoader.Load(Shared.Stories260KGguf), ids);
        float worst = MaxAbsDifference(expected, actual);
        Assert.True(worst <= 1e-5f, $"max |Δ| = {worst}");
    }

    [Fact]
    public void Int8ExportStaysCloseToTheF32Model()
    {
        // Weights are within half a quantization step of the f32 ones (checked in Pare.Core.Tests), so the logits
        // carry small noise: the same top token at every position, errors a few percent of the logit scale, and
        // greedy text that follows run.c's f32 output until a near-tie. A misread file fails all three from token one.
        var ids = ReferenceIds();
        var expected = Logits(ModelLoader.Load(Shared.Stories260K), ids);
        var q8 = ModelLoader.Load(Shared.Stories260KQ8);
        var actual = Logits(q8, ids);
        int vocab = q8.Config.VocabSize;
        for (int p = 0; p < ids.Length; p++)
            Assert.Equal(ArgMax(expected.AsSpan(p * vocab, vocab)), ArgMax(actual.AsSpan(p * vocab, vocab)));
        float worst = MaxAbsDifference(expected, actual), scale = expected.Max(Math.Abs);
        Assert.True(worst < 0.05f * scale, $"max |Δ| = {worst}, max |logit| = {scale}");

        var gen = new Generator(new Transformer(LlamaWeights.FromCheckpoint(q8)));
        foreach (var row in Shared.ReadJsonLines(Shared.Reference("stories260K.greedy.jsonl")))
        {
            var runC = Shared.Ints(row.GetProperty("generated_ids"));
            var mine = gen.Generate(Shared.Ints(row.GetProperty("prompt_ids")), 10, Sampling.SamplingOptions.Greedy, stopToken: 1).GeneratedIds;
            Assert.Equal(runC.Take(10), mine);
        }
    }

    private static int ArgMax(ReadOnlySpan<float> v)
    {
        int best = 0;
        for (int i = 1; i < v.Length; i++) if (v[i] > v[best]) best = i;
        return best;
    }
}
