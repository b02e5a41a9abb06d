using System.Text.Json;
using Pare.Core.Formats;
using Pare.Engine.Sampling;
using Pare.TestSupport;

namespace Pare.Engine.Tests;

/// <summary>stories260K through the Engine against outputs of llama2.c's run.c.</summary>
public class Llama2cReferenceTests
{
    private static readonly Lazy<LlamaWeights> Weights = new(() => LlamaWeights.FromCheckpoint(ModelLoader.Load(Shared.Stories260K)));

    [Fact]
    public void GreedyGenerationMatchesRunC()
    {
        var gen = new Generator(new Transformer(Weights.Value));
        int prompts = 0;
        foreach (var row in Shared.ReadJsonLines(Shared.Reference("stories260K.greedy.jsonl")))
        {
            var prompt = Shared.Ints(row.GetProperty("prompt_ids"));
            var expected = Shared.Ints(row.GetProperty("generated_ids"));
            var result = gen.Generate(prompt, row.GetProperty("max_new_tokens").GetInt32(), SamplingOptions.Greedy, stopToken: 1);
            Assert.Equal(expected, result.GeneratedIds);
            prompts++;
        }
        Assert.Equal(10, prompts);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void LogitsOfFirst64PositionsMatchRunC(int threads)
    {
        var meta = JsonDocument.Parse(File.ReadAllText(Shared.Reference("stories260K.logits64.json"))).RootElement;
        var ids = Shared.Ints(meta.GetProperty("ids"));
        int vocab = meta.GetProperty("vocab").GetInt32();
        var bytes = File.ReadAllBytes(Shared.Reference("stories260K.logits64.f32"));
        var expected = new float[bytes.Length / 4];
        Buffer.BlockCopy(bytes, 0, expected, 0, bytes.Length);

        var model = new Transformer(Weights.Value, threads);
        // One token at a time (as run.c) and all at once (batched prefill) must both agree.
        var cache = model.NewCache();
        var step = new float[vocab];
        float worst = 0;
        for (int p = 0; p < ids.Length; p++)
        {
            model.Forward([ids[p]], cache, step);
            for (int v = 0; v < vocab; v++) worst = Math.Max(worst, Math.Abs(step[v] - expected[p * vocab + v]));
        }
        Assert.True(worst < 1e-4f, $"token-by-token max |Δ| = {worst}");

        var all = new float[ids.Length * vocab];
        model.Forward(ids, model.NewCache(), all);
        worst = 0;
        for (int i = 0; i < all.Length; i++) worst = Math.Max(worst, Math.Abs(all[i] - expected[i]));
        Assert.True(worst < 1e-4f, $"batched max |Δ| = {worst}");
    }
}
