using System.Text.Json;
using Pare.Core.Formats;
using Pare.Core.Tokenizers;
using Pare.Engine;
using Pare.Engine.Sampling;
using Pare.Engine.Weights;
using Pare.TestSupport;

namespace Pare.Eval.Tests;

/// <summary>stories260K on the int8 (q8_0 weights × q8 activations) kernels keeps its quality.</summary>
public class Int8PerplexityTests
{
    private const int Windows = 16;

    [Fact]
    public void Int8PerplexityWithinOnePercentOfRunC()
    {
        var checkpoint = ModelLoader.Load(Shared.Stories260K);
        var tokenizer = Llama2cTokenizer.Load(Shared.Stories260KTokenizer);
        var tokens = new List<int>();
        foreach (var story in EvalText.Stories(File.ReadAllText(Shared.TinyStories)))
        {
            tokens.AddRange(tokenizer.Encode(story, addBos: true));
            if (tokens.Count >= 256 * Windows) break;
        }
        var reference = JsonDocument.Parse(File.ReadAllText(Shared.Reference("stories260K.ppl.json"))).RootElement.GetProperty("windows").GetProperty("256");
        double referenceNll = reference.GetProperty("window_nll").EnumerateArray().Take(Windows).Average(e => e.GetDouble());

        var int8 = Perplexity.Evaluate(LlamaWeights.FromCheckpoint(checkpoint, WeightMatrixFactory.To("int8")), tokens.ToArray(), 256, Windows, threads: 2);
        double change = Math.Exp(int8.MeanNll) / Math.Exp(referenceNll) - 1;
        Assert.True(Math.Abs(change) < 0.01, $"int8 perplexity {Math.Exp(int8.MeanNll):F4} vs run.c's {Math.Exp(referenceNll):F4}: {change:P2}");
    }

    [Fact]
    public void Int8GreedyTextFollowsRunC()
    {
        var model = new Transformer(LlamaWeights.FromCheckpoint(ModelLoader.Load(Shared.Stories260K), WeightMatrixFactory.To("int8")));
        var gen = new Generator(model);
        int agreeing = 0, total = 0;
        foreach (var row in Shared.ReadJsonLines(Shared.Reference("stories260K.greedy.jsonl")))
        {
            var prompt = Shared.Ints(row.GetProperty("prompt_ids"));
            var expected = Shared.Ints(row.GetProperty("generated_ids"));
            var ids = gen.Generate(prompt, 40, SamplingOptions.Greedy, stopToken: 1).GeneratedIds;
            // Greedy paths diverge at the first near-tie; count the tokens produced before that.
            int same = 0;
            while (same < Math.Min(ids.Length, expected.Length) && ids[same] == expected[same]) same++;
            agreeing += same;
            total += Math.Min(40, expected.Length);
        }
        Assert.True(agreeing >= total / 2, $"int8 greedy output agrees with run.c for {agreeing} of {total} tokens before diverging");
    }
}
