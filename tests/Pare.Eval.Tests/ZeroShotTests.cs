using Pare.Core;
using Pare.Core.Formats;
using Pare.Core.Tokenizers;
using Pare.Engine;
using Pare.TestSupport;

namespace Pare.Eval.Tests;

/// <summary>The zero-shot harness: task formats, lm-evaluation-harness tokenisation and metrics, bad input.</summary>
public class ZeroShotTests
{
    private static readonly Lazy<LlamaWeights> Weights = new(() => LlamaWeights.FromCheckpoint(ModelLoader.Load(Shared.Stories260K)));
    private static readonly Lazy<Llama2cTokenizer> Tokenizer = new(() => Llama2cTokenizer.Load(Shared.Stories260KTokenizer));

    private static ZeroShotTask LoadLines(TempDir dir, params string[] lines)
    {
        var path = dir.File("task.jsonl");
        File.WriteAllLines(path, lines);
        return ZeroShotTask.Load(path);
    }

    [Fact]
    public void ReadsTheThreeLlmFoundryFormats()
    {
        using var dir = new TempDir();
        var mc = LoadLines(dir, """{"query": "Q?", "choices": ["a", "b c"], "gold": 1}""");
        Assert.Equal(ZeroShotKind.MultipleChoice, mc.Kind);
        Assert.Equal(new[] { new ZeroShotPair("Q?", " a", "a"), new ZeroShotPair("Q?", " b c", "b c") }, mc.Items[0].Pairs);
        Assert.Equal(1, mc.Items[0].Gold);

        var wino = LoadLines(dir, """{"context_options": ["x so A", "x so B"], "continuation": "won.", "gold": 0}""");
        Assert.Equal(new[] { new ZeroShotPair("x so A", " won.", "won."), new ZeroShotPair("x so B", " won.", "won.") }, wino.Items[0].Pairs);

        var lambada = LoadLines(dir, """{"context": "the end of the", "continuation": "story"}""");
        Assert.Equal(ZeroShotKind.Completion, lambada.Kind);
        Assert.Equal(new ZeroShotPair("the end of the", " story", "story"), lambada.Items[0].Pairs[0]);
    }

    [Fact]
    public void ReadsEveryBundledTaskFile()
    {
        foreach (var name in new[] { "piqa", "arc_easy", "arc_challenge", "boolq", "winogrande", "openbook_qa", "copa", "lambada_openai" })
        {
            var task = ZeroShotTask.Load(Shared.PathOf("data", "zeroshot", name + ".jsonl"), name);
            Assert.True(task.Items.Count >= 100, name);
            Assert.Equal(name == "lambada_openai" ? ZeroShotKind.Completion : ZeroShotKind.MultipleChoice, task.Kind);
        }
    }

    [Theory]
    [InlineData("""{"query": "Q", "choices": ["a", "b"], "gold": 2}""", "'gold' is 2, outside the 2 choices")]
    [InlineData("""{"query": "Q", "choices": ["a", "b"], "gold": -1}""", "outside the 2 choices")]
    [InlineData("""{"query": "Q", "choices": [], "gold": 0}""", "'choices' is an empty list")]
    [InlineData("""{"context_options": [], "continuation": "c", "gold": 0}""", "'context_options' is an empty list")]
    [InlineData("""{"query": "Q", "choices": ["a"]}""", "'gold' is missing")]
    [InlineData("""{"text": "no known fields"}""", "expected query/choices/gold")]
    [InlineData("""not json""", "not valid JSON")]
    public void BadItemsFailWithOneClearError(string line, string message)
    {
        using var dir = new TempDir();
        var e = Assert.Throws<PareFormatException>(() => LoadLines(dir, """{"query": "fine", "choices": ["a", "b"], "gold": 0}""", line));
        Assert.Contains("line 2", e.Message);
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void ContinuationTokensAreThoseOfTheWholeStringAfterTheContext()
    {
        var tok = Tokenizer.Value;
        // Trailing whitespace of the context moves to the continuation, as lm-evaluation-harness does.
        var (ctx, cont) = ZeroShot.Tokenize(tok, "Once upon a time ", "there");
        Assert.Equal(tok.Encode("Once upon a time", addBos: true), ctx);
        var whole = tok.Encode("Once upon a time there", addBos: true);
        Assert.Equal(whole[ctx.Length..], cont);
        Assert.Equal(1, ctx[0]);
    }

    [Fact]
    public void PairScoreEqualsLogSoftmaxOfOneWholeForward()
    {
        // Independent path: one forward over context + continuation, log-softmax summed over the continuation rows.
        var tok = Tokenizer.Value;
        var task = new ZeroShotTask("t", ZeroShotKind.MultipleChoice, [new ZeroShotItem([
            new ZeroShotPair("Lily went to the park. She saw a big", " dog", "dog"),
            new ZeroShotPair("Lily went to the park. She saw a big", " red ball", "red ball")], 1)]);
        var result = ZeroShot.Evaluate(task, tok, () => new Transformer(Weights.Value));
        for (int j = 0; j < 2; j++)
        {
            var (ctx, cont) = ZeroShot.Tokenize(tok, task.Items[0].Pairs[j].Context, task.Items[0].Pairs[j].Continuation);
            var all = ctx.Concat(cont).ToArray();
            int v = Weights.Value.Config.VocabSize;
            using var model = new Transformer(Weights.Value);
            var logits = new float[all.Length * v];
            model.Forward(all, model.NewCache(), logits);
            double expected = 0;
            for (int t = ctx.Length; t < all.Length; t++)
            {
                var row = logits.AsSpan((t - 1) * v, v).ToArray().Select(x => (double)x).ToArray();
                double max = row.Max();
                expected += row[all[t]] - max - Math.Log(row.Sum(x => Math.Exp(x - max)));
            }
            Assert.Equal(expected, result.PerItem[0].Scores[j].LogProb, 9);
            Assert.Equal(cont.Length, result.PerItem[0].Scores[j].Tokens);
        }
    }

    [Fact]
    public void MetricsFollowTheirDefinitions()
    {
        // Hand-made scores: item 0's choices "aaaa" (4 bytes) and "b" (1 byte), item 1's "x" and "yy".
        var task = new ZeroShotTask("t", ZeroShotKind.MultipleChoice, [
            new ZeroShotItem([new("c", " aaaa", "aaaa"), new("c", " b", "b")], 0),
            new ZeroShotItem([new("c", " x", "x"), new("c", " yy", "yy")], 1)]);
        var scores = new[]
        {
            // acc picks 0 (−2 > −3); acc_norm −2/4 = −0.5 vs −3/1: picks 0; per token −2/4 vs −3/1: picks 0.
            new[] { new PairScore(-2, 4, false), new PairScore(-3, 1, false) },
            // acc picks 0 (−1 > −1.5); acc_norm −1/1 vs −1.5/2 = −0.75: picks 1; per token −1/1 vs −1.5/3 = −0.5: picks 1.
            new[] { new PairScore(-1, 1, false), new PairScore(-1.5, 3, false) },
        };
        var r = ZeroShot.Summarise(task, scores);
        Assert.Equal(0.5, r.Metrics["acc"].Value);
        Assert.Equal(1.0, r.Metrics["acc_norm"].Value);
        Assert.Equal(1.0, r.Metrics["acc_per_token"].Value);
        // Sample standard deviation of {1, 0} is √0.5; over √2 items: 0.5.
        Assert.Equal(0.5, r.Metrics["acc"].StdErr, 12);
        Assert.Equal(0.0, r.Metrics["acc_norm"].StdErr, 12);
    }

    [Fact]
    public void CompletionScoresExactMatchAndPerplexity()
    {
        var task = new ZeroShotTask("t", ZeroShotKind.Completion, [
            new ZeroShotItem([new("c", " a", "a")], 0), new ZeroShotItem([new("c", " b", "b")], 0)]);
        var r = ZeroShot.Summarise(task, [[new PairScore(-1, 2, true)], [new PairScore(-3, 1, false)]]);
        Assert.Equal(0.5, r.Metrics["acc"].Value);
        Assert.Equal(Math.Exp(2), r.Metrics["ppl"].Value, 9);
    }

    [Fact]
    public void StoriesClozeIsFarAboveChanceOnStories260K()
    {
        var stories = EvalText.Stories(File.ReadAllText(Shared.TinyStories));
        var second = stories.Skip(stories.Count / 2).ToList();
        var task = TinyStoriesCloze.MultipleChoice(second, limit: 60);
        Assert.All(task.Items, i => Assert.Equal(4, i.Pairs.Select(p => p.Choice.ToLowerInvariant()).Distinct().Count()));
        var r = ZeroShot.Evaluate(task, Tokenizer.Value, () => new Transformer(Weights.Value), threads: 2);
        Assert.True(r.Metrics["acc"].Value > 0.5, $"acc {r.Metrics["acc"].Value} on a four-way cloze");
    }

    [Fact]
    public void ClozeSplitsTheLastWordOffWithoutPunctuation()
    {
        var split = TinyStoriesCloze.Split(["Tom had a red ball. He was happy.", "One"]);
        Assert.Equal([("Tom had a red ball. He was", "happy")], split);
    }
}
