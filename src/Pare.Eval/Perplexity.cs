using System.Diagnostics;
using Pare.Engine;

namespace Pare.Eval;

/// <summary>
/// Perplexity on the Engine (what users deploy is what is measured): the token stream is cut into
/// ⌊n / W⌋ non-overlapping windows (remainder dropped), each run from position 0 with an empty cache; the NLL of
/// tokens 1..W−1 of each window is averaged. Windows run in parallel, one single-threaded model per worker.
/// </summary>
public static class Perplexity
{
    /// <param name="newModel">Makes each worker's single-threaded model (default a plain <see cref="Transformer"/>; e.g. one with routers).</param>
    public static PerplexityResult Evaluate(LlamaWeights weights, int[] tokens, int window, int? maxWindows = null, int threads = 1, Action<int>? onWindowDone = null,
        Func<Transformer>? newModel = null)
    {
        if (window < 2) throw new ArgumentException($"window must be at least 2 tokens, got {window}");
        if (window > weights.Config.MaxSeqLen) throw new ArgumentException($"window {window} exceeds the model's context {weights.Config.MaxSeqLen}");
        int windows = tokens.Length / window;
        if (maxWindows is int m && m < windows) windows = Math.Max(0, m);
        if (windows == 0) throw new ArgumentException($"{tokens.Length} tokens do not fill one window of {window}");

        var nll = new double[windows];
        var sw = Stopwatch.StartNew();
        int next = -1, done = 0;
        int workers = Math.Clamp(threads, 1, windows);
        var tasks = Enumerable.Range(0, workers).Select(_ => Task.Run(() =>
        {
            using var model = newModel?.Invoke() ?? new Transformer(weights, threads: 1);
            var cache = model.NewCache(window);
            var logits = new float[(long)window * weights.Config.VocabSize];
            int w;
            while ((w = Interlocked.Increment(ref next)) < windows)
            {
                cache.Truncate(0);
                var slice = tokens.AsSpan(w * window, window);
                model.Forward(slice, cache, logits);
                nll[w] = MeanNextTokenNll(logits, slice, weights.Config.VocabSize);
                int d = Interlocked.Increment(ref done);
                onWindowDone?.Invoke(d);
            }
        })).ToArray();
        Task.WaitAll(tasks);
        return new PerplexityResult(window, windows, (long)windows * (window - 1), nll.Average(), nll, sw.Elapsed.TotalSeconds);
    }

    /// <summary>
    /// llama.cpp's llama-perplexity protocol, so its figure can be reproduced on the Engine: the text tokenized once
    /// (BOS first), cut into ⌊n / W⌋ windows, each window's first token replaced by BOS, and the NLL averaged over the
    /// second half only (logits at positions W/2 … W−2 predicting tokens W/2+1 … W−1).
    /// </summary>
    public static PerplexityResult EvaluateLlamaCpp(LlamaWeights weights, int[] tokens, int window, int bos, int threads = 1, Action<int>? onWindowDone = null)
    {
        if (window < 4) throw new ArgumentException($"window must be at least 4 tokens, got {window}");
        if (window > weights.Config.MaxSeqLen) throw new ArgumentException($"window {window} exceeds the model's context {weights.Config.MaxSeqLen}");
        int windows = tokens.Length / window;
        if (windows < 2) throw new ArgumentException($"{tokens.Length} tokens do not fill two windows of {window} (llama-perplexity needs 2)");
        int first = window / 2, vocab = weights.Config.VocabSize;
        var nll = new double[windows];
        var sw = Stopwatch.StartNew();
        int next = -1, done = 0;
        var tasks = Enumerable.Range(0, Math.Clamp(threads, 1, windows)).Select(_ => Task.Run(() =>
        {
            var model = new Transformer(weights, threads: 1);
            var cache = model.NewCache(window);
            var logits = new float[(long)window * vocab];
            var chunk = new int[window];
            int w;
            while ((w = Interlocked.Increment(ref next)) < windows)
            {
                cache.Truncate(0);
                tokens.AsSpan(w * window, window).CopyTo(chunk);
                chunk[0] = bos;
                model.Forward(chunk, cache, logits);
                nll[w] = MeanNextTokenNll(logits.AsSpan(first * vocab), chunk.AsSpan(first), vocab);
                onWindowDone?.Invoke(Interlocked.Increment(ref done));
            }
        })).ToArray();
        Task.WaitAll(tasks);
        return new PerplexityResult(window, windows, (long)windows * (window - 1 - first), nll.Average(), nll, sw.Elapsed.TotalSeconds);
    }

    /// <summary>Mean over t = 0..n−2 of −log softmax(logits[t])[tokens[t+1]], in double precision.</summary>
    public static double MeanNextTokenNll(ReadOnlySpan<float> logits, ReadOnlySpan<int> tokens, int vocab)
    {
        double total = 0;
        for (int t = 0; t + 1 < tokens.Length; t++)
        {
            var row = logits.Slice(t * vocab, vocab);
            float max = float.NegativeInfinity;
            foreach (var v in row) if (v > max) max = v;
            double sum = 0;
            foreach (var v in row) sum += Math.Exp(v - max);
            total += max + Math.Log(sum) - row[tokens[t + 1]];
        }
        return total / (tokens.Length - 1);
    }
}
