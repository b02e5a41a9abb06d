using System.Diagnostics;
using System.Text;
using Pare.Core.Tokenizers;
using Pare.Engine;

namespace Pare.Eval;

/// <summary>The model's score of one pair: summed log-probability of the continuation's tokens, their count, and
/// whether greedy decoding would have produced every one of them.</summary>
public readonly record struct PairScore(double LogProb, int Tokens, bool Greedy)
{
    public double PerToken => LogProb / Tokens;
}

/// <summary>One item's pair scores and the choice each metric picked.</summary>
public sealed record ZeroShotItemResult(int Gold, IReadOnlyList<PairScore> Scores, int PickAcc, int PickNorm, int PickPerToken);

/// <summary>A metric's value over the items and its standard error (of the mean, as lm-evaluation-harness reports it).</summary>
public readonly record struct Metric(double Value, double StdErr);

/// <summary>A task's metrics: acc / acc_norm / acc_per_token for multiple choice; acc (greedy exact match) and ppl for completions.</summary>
public sealed record ZeroShotResult(string Task, ZeroShotKind Kind, int Items, IReadOnlyDictionary<string, Metric> Metrics, IReadOnlyList<ZeroShotItemResult> PerItem, double Seconds);

/// <summary>
/// Zero-shot scoring on the Engine. Context and continuation are tokenised as lm-evaluation-harness does: trailing
/// whitespace of the context moves to the continuation, the context is encode(context) with BOS, and the
/// continuation's tokens are those of encode(context + continuation) after the context's count. Choices that share a
/// context run it once and branch from its KV cache (the Engine's batched and incremental forwards give the same
/// logits bit for bit, so this equals running each choice whole). Items run in parallel, one model per worker.
/// </summary>
public static class ZeroShot
{
    /// <summary>Token ids of one pair as lm-evaluation-harness forms them.</summary>
    public static (int[] Context, int[] Continuation) Tokenize(ITokenizer tokenizer, string context, string continuation)
    {
        int spaces = context.Length - context.TrimEnd().Length;
        if (spaces > 0)
        {
            continuation = context[^spaces..] + continuation;
            context = context[..^spaces];
        }
        if (context.Length == 0) return ([tokenizer.BosId], tokenizer.Encode(continuation, addBos: false));
        var whole = tokenizer.Encode(context + continuation, addBos: true);
        var ctx = tokenizer.Encode(context, addBos: true);
        var cont = whole.Length > ctx.Length ? whole[ctx.Length..] : [];
        if (cont.Length == 0) throw new ArgumentException($"the continuation '{continuation}' adds no tokens after its context");
        return (ctx, cont);
    }

    /// <param name="newModel">Makes one single-threaded model per worker (a plain <see cref="Transformer"/>, or one with routers).</param>
    public static ZeroShotResult Evaluate(ZeroShotTask task, ITokenizer tokenizer, Func<Transformer> newModel, int threads = 1, Action<int>? onItemDone = null)
    {
        var sw = Stopwatch.StartNew();
        var tokenized = task.Items.Select(item => item.Pairs.Select(p => Tokenize(tokenizer, p.Context, p.Continuation)).ToArray()).ToArray();
        var scores = new PairScore[task.Items.Count][];
        int next = -1, done = 0;
        int workers = Math.Clamp(threads, 1, task.Items.Count);
        var tasks = Enumerable.Range(0, workers).Select(_ => Task.Run(() =>
        {
            using var model = newModel();
            var scorer = new PairScorer(model);
            int i;
            while ((i = Interlocked.Increment(ref next)) < tokenized.Length)
            {
                scores[i] = scorer.Score(tokenized[i]);
                onItemDone?.Invoke(Interlocked.Increment(ref done));
            }
        })).ToArray();
        Task.WaitAll(tasks);
        return Summarise(task, scores, sw.Elapsed.TotalSeconds);
    }

    /// <summary>Metrics from the pair scores (exposed so tests can check the aggregation on known scores).</summary>
    public static ZeroShotResult Summarise(ZeroShotTask task, PairScore[][] scores, double seconds = 0)
    {
        var perItem = new List<ZeroShotItemResult>(scores.Length);
        for (int i = 0; i < scores.Length; i++)
        {
            var item = task.Items[i];
            var s = scores[i];
            int acc = ArgMax(s.Select(x => x.LogProb));
            int norm = ArgMax(s.Select((x, j) => x.LogProb / Math.Max(1, Encoding.UTF8.GetByteCount(item.Pairs[j].Choice))));
            int perToken = ArgMax(s.Select(x => x.PerToken));
            perItem.Add(new ZeroShotItemResult(item.Gold, s, acc, norm, perToken));
        }
        var metrics = new Dictionary<string, Metric>();
        if (task.Kind == ZeroShotKind.MultipleChoice)
        {
            metrics["acc"] = Mean(perItem.Select(r => r.PickAcc == r.Gold ? 1.0 : 0.0));
            metrics["acc_norm"] = Mean(perItem.Select(r => r.PickNorm == r.Gold ? 1.0 : 0.0));
            metrics["acc_per_token"] = Mean(perItem.Select(r => r.PickPerToken == r.Gold ? 1.0 : 0.0));
        }
        else
        {
            metrics["acc"] = Mean(perItem.Select(r => r.Scores[0].Greedy ? 1.0 : 0.0));
            // lm-evaluation-harness's LAMBADA perplexity: exp of minus the mean (over items) of the continuation's summed
            // log-likelihood; its error by the delta method from the standard error of that mean.
            var ll = Mean(perItem.Select(r => r.Scores[0].LogProb));
            double ppl = Math.Exp(-ll.Value);
            metrics["ppl"] = new Metric(ppl, ppl * ll.StdErr);
        }
        return new ZeroShotResult(task.Name, task.Kind, scores.Length, metrics, perItem, seconds);
    }

    private static int ArgMax(IEnumerable<double> values)
    {
        int best = -1, i = 0;
        double max = double.NegativeInfinity;
        foreach (var v in values)
        {
            // First of equal maxima, as numpy's argmax and llama.cpp's strict comparison both pick.
            if (best < 0 || v > max)
            {
                best = i;
                max = v;
            }
            i++;
        }
        return best;
    }

    /// <summary>Mean and its standard error with the sample (n − 1) standard deviation, lm-evaluation-harness's mean_stderr.</summary>
    public static Metric Mean(IEnumerable<double> values)
    {
        var v = values.ToArray();
        double mean = v.Average();
        if (v.Length < 2) return new Metric(mean, double.NaN);
        double ss = v.Sum(x => (x - mean) * (x - mean));
        return new Metric(mean, Math.Sqrt(ss / (v.Length - 1) / v.Length));
    }

    /// <summary>Scores an item's pairs on one model, sharing the context's forward between pairs with equal contexts.</summary>
    private sealed class PairScorer(Transformer model)
    {
        private readonly KvCache _cache = model.NewCache();
        private readonly int _vocab = model.Config.VocabSize;
        private readonly float[] _last = new float[model.Config.VocabSize];
        private float[] _logits = [];

        public PairScore[] Score((int[] Context, int[] Continuation)[] pairs)
        {
            var result = new PairScore[pairs.Length];
            int max = Math.Min(model.Config.MaxSeqLen, _cache.Capacity);
            var groups = Enumerable.Range(0, pairs.Length).GroupBy(j => pairs[j].Context, ArrayComparer.Instance);
            foreach (var group in groups)
            {
                var ctx = group.Key;
                int longest = group.Max(j => pairs[j].Continuation.Length);
                if (longest >= max) throw new ArgumentException($"a continuation of {longest} tokens does not fit the model's context of {max}");
                // Too long: drop the oldest context tokens, as lm-evaluation-harness truncates on the left; the shared
                // context is cut for the group's longest continuation so its choices still share one forward.
                int overflow = ctx.Length + longest - 1 - max;
                var context = overflow > 0 ? ctx.AsSpan(overflow) : ctx.AsSpan();
                _cache.Truncate(0);
                model.Forward(context, _cache, _last);
                foreach (int j in group)
                {
                    var cont = pairs[j].Continuation;
                    _cache.Truncate(context.Length);
                    double lp = LogProb(_last, cont[0], out bool greedy);
                    if (cont.Length > 1)
                    {
                        int n = cont.Length - 1;
                        if (_logits.Length < n * _vocab) _logits = new float[n * _vocab];
                        model.Forward(cont.AsSpan(0, n), _cache, _logits.AsSpan(0, n * _vocab));
                        for (int t = 1; t < cont.Length; t++)
                        {
                            lp += LogProb(_logits.AsSpan((t - 1) * _vocab, _vocab), cont[t], out bool g);
                            greedy &= g;
                        }
                    }
                    result[j] = new PairScore(lp, cont.Length, greedy);
                }
            }
            return result;
        }

        /// <summary>log softmax(row)[token] in double precision, and whether token is the row's (first) argmax.</summary>
        private static double LogProb(ReadOnlySpan<float> row, int token, out bool argmax)
        {
            float max = float.NegativeInfinity;
            int best = 0;
            for (int i = 0; i < row.Length; i++)
                if (row[i] > max)
                {
                    max = row[i];
                    best = i;
                }
            double sum = 0;
            foreach (var v in row) sum += Math.Exp(v - max);
            argmax = best == token;
            return row[token] - max - Math.Log(sum);
        }
    }

    private sealed class ArrayComparer : IEqualityComparer<int[]>
    {
        public static readonly ArrayComparer Instance = new();
        public bool Equals(int[]? a, int[]? b) => a.AsSpan().SequenceEqual(b);
        public int GetHashCode(int[] a)
        {
            var h = new HashCode();
            foreach (var v in a) h.Add(v);
            return h.ToHashCode();
        }
    }
}
