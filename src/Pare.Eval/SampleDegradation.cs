using Pare.Engine;

namespace Pare.Eval;

/// <summary>
/// How much pruning hurt one sample, measured on the Engine: the mean next-token NLL of the dense and of the pruned
/// model, and the mean Jensen–Shannon divergence between their next-token distributions (PASER's capability
/// degradation signal: it sees a change of the whole distribution, not only of the observed token's probability).
/// </summary>
public sealed record SampleScore(int Tokens, double DenseNll, double PrunedNll, double Jsd)
{
    public double NllIncrease => PrunedNll - DenseNll;
}

public static class SampleDegradation
{
    /// <summary>Scores every token row (BOS first, at least 2 tokens); rows run in parallel, one single-threaded model pair per worker.</summary>
    public static SampleScore[] Score(LlamaWeights dense, LlamaWeights pruned, IReadOnlyList<int[]> rows, int threads = 1, Action<int>? onDone = null)
    {
        if (dense.Config.VocabSize != pruned.Config.VocabSize || dense.Config.Dim != pruned.Config.Dim || dense.Config.Layers != pruned.Config.Layers)
            throw new ArgumentException("the teacher and the pruned model have different shapes; --teacher must be the dense model the pruned one came from");
        int vocab = dense.Config.VocabSize;
        var scores = new SampleScore[rows.Count];
        int next = -1, done = 0;
        int maxLen = rows.Count == 0 ? 0 : rows.Max(r => r.Length);
        var tasks = Enumerable.Range(0, Math.Clamp(threads, 1, Math.Max(1, rows.Count))).Select(_ => Task.Run(() =>
        {
            var d = new Transformer(dense, threads: 1);
            var p = new Transformer(pruned, threads: 1);
            var dc = d.NewCache(maxLen);
            var pc = p.NewCache(maxLen);
            var dl = new float[(long)maxLen * vocab];
            var pl = new float[(long)maxLen * vocab];
            int i;
            while ((i = Interlocked.Increment(ref next)) < rows.Count)
            {
                var row = rows[i];
                if (row.Length < 2) throw new ArgumentException($"sample {i} has {row.Length} token(s); at least 2 are needed");
                dc.Truncate(0);
                pc.Truncate(0);
                d.Forward(row, dc, dl);
                p.Forward(row, pc, pl);
                double dn = 0, pn = 0, js = 0;
                for (int t = 0; t + 1 < row.Length; t++)
                {
                    var a = dl.AsSpan(t * vocab, vocab);
                    var b = pl.AsSpan(t * vocab, vocab);
                    var (nllA, nllB, jsd) = TokenTerms(a, b, row[t + 1]);
                    dn += nllA;
                    pn += nllB;
                    js += jsd;
                }
                int n = row.Length - 1;
                scores[i] = new SampleScore(row.Length, dn / n, pn / n, js / n);
                onDone?.Invoke(Interlocked.Increment(ref done));
            }
        })).ToArray();
        Task.WaitAll(tasks);
        return scores;
    }

    /// <summary>NLL of <paramref name="target"/> under softmax(a) and softmax(b), and JSD(softmax a, softmax b) in nats, in double precision.</summary>
    public static (double NllA, double NllB, double Jsd) TokenTerms(ReadOnlySpan<float> a, ReadOnlySpan<float> b, int target)
    {
        double la = LogSumExp(a), lb = LogSumExp(b);
        double jsd = 0;
        for (int v = 0; v < a.Length; v++)
        {
            double lpa = a[v] - la, lpb = b[v] - lb;
            double pa = Math.Exp(lpa), pb = Math.Exp(lpb);
            double m = 0.5 * (pa + pb);
            if (m <= 0) continue;
            double lm = Math.Log(m);
            if (pa > 0) jsd += 0.5 * pa * (lpa - lm);
            if (pb > 0) jsd += 0.5 * pb * (lpb - lm);
        }
        return (la - a[target], lb - b[target], Math.Max(0, jsd));
    }

    private static double LogSumExp(ReadOnlySpan<float> x)
    {
        double max = double.NegativeInfinity;
        foreach (var v in x) max = Math.Max(max, v);
        double sum = 0;
        foreach (var v in x) sum += Math.Exp(v - max);
        return max + Math.Log(sum);
    }
}
