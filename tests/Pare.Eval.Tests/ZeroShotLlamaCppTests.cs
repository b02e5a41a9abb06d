using Pare.Core.Formats;
using Pare.Core.Tokenizers;
using Pare.Engine;
using Pare.TestSupport;

namespace Pare.Eval.Tests;

/// <summary>
/// acc_per_token against an independent implementation: llama.cpp's llama-perplexity --hellaswag (mean log-probability
/// per ending token) on stories260K's GGUF, item by item. data/make-llama-cpp-hellaswag.sh made the items and recorded
/// the ending llama.cpp picked for each.
/// </summary>
public class ZeroShotLlamaCppTests
{
    private static string Data(string name) => Path.Combine(AppContext.BaseDirectory, "data", name);

    [Fact]
    public void PerTokenPicksEqualLlamaCppItemForItem()
    {
        var task = ZeroShotTask.Load(Data("hellaswag-cloze.jsonl"));
        var picks = File.ReadAllLines(Data("hellaswag-cloze.llama-cpp.txt")).Select(l => int.Parse(l.Split(' ')[1])).ToArray();
        Assert.Equal(task.Items.Count, picks.Length);
        Assert.True(task.Items.Count >= 30);
        var tok = Llama2cTokenizer.Load(Shared.Stories260KTokenizer);
        // llama.cpp scores the tokens after the common prefix of the four whole strings; the harness scores those after
        // encode(context). The items were chosen where the two coincide, which this checks first.
        foreach (var item in task.Items)
        {
            var whole = item.Pairs.Select(p => tok.Encode(p.Context + p.Continuation, addBos: true)).ToArray();
            int common = 0;
            while (whole.All(w => w.Length > common && w[common] == whole[0][common])) common++;
            Assert.Equal(tok.Encode(item.Pairs[0].Context, addBos: true).Length, common);
        }
        var weights = LlamaWeights.FromCheckpoint(ModelLoader.Load(Shared.Stories260KGguf));
        var result = ZeroShot.Evaluate(task, tok, () => new Transformer(weights), threads: 2);
        for (int i = 0; i < picks.Length; i++)
            Assert.True(picks[i] == result.PerItem[i].PickPerToken, $"item {i}: llama.cpp picked {picks[i]}, Pare {result.PerItem[i].PickPerToken}");
    }
}
