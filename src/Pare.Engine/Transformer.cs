using Pare.Core;
using Pare.Engine.Kernels;
using Pare.Engine.Weights;

namespace Pare.Engine;

/// <summary>
/// The LLaMA forward pass (RMSNorm, interleaved-pair RoPE, grouped-query attention, SwiGLU) over a KV cache, for
/// one token (decode) or several at once (prefill, perplexity, speculative verification). Numerics follow
/// llama2.c's run.c. One instance is single-caller; create one per thread of generation.
/// </summary>
public sealed class Transformer
{
    private readonly LlamaWeights _w;
    private readonly float[] _cos, _sin;
    private float[] _x = [], _xb = [], _xb2 = [], _q = [], _k = [], _v = [], _h1 = [], _h3 = [], _att = [];
    private int _batchCapacity;

    public Transformer(LlamaWeights weights, int threads = 1)
    {
        _w = weights;
        Workers = new Workers(threads);
        var c = weights.Config;
        int half = c.HeadDim / 2;
        _cos = new float[(long)c.MaxSeqLen * half];
        _sin = new float[(long)c.MaxSeqLen * half];
        for (int pos = 0; pos < c.MaxSeqLen; pos++)
        {
            for (int i = 0; i < half; i++)
            {
                // Same float expression as run.c: freq = 1 / theta^(2i / head_size), angle = pos * freq.
                float freq = 1.0f / MathF.Pow(c.RopeTheta, 2 * i / (float)c.HeadDim);
                float val = pos * freq;
                _cos[pos * half + i] = MathF.Cos(val);
                _sin[pos * half + i] = MathF.Sin(val);
            }
        }
        EnsureBatch(1);
    }

    public ModelConfig Config => _w.Config;
    public LlamaWeights Weights => _w;
    public Workers Workers { get; }

    public KvCache NewCache(int? capacity = null) => new(Config.Layers, capacity ?? Config.MaxSeqLen, Config.KvDim);

    private void EnsureBatch(int n)
    {
        if (n <= _batchCapacity) return;
        var c = Config;
        _x = new float[n * c.Dim];
        _xb = new float[n * c.Dim];
        _xb2 = new float[n * c.Dim];
        _q = new float[n * c.Dim];
        _k = new float[n * c.KvDim];
        _v = new float[n * c.KvDim];
        _h1 = new float[n * c.HiddenDim];
        _h3 = new float[n * c.HiddenDim];
        _att = new float[(long)Math.Max(Workers.Threads, 1) * c.MaxSeqLen];
        _batchCapacity = n;
    }

    /// <summary>
    /// Runs <paramref name="tokens"/> at positions cache.Length… and appends them to the cache. Writes the logits of
    /// the last token to <paramref name="logits"/> ([vocab]), or of every token when it has room for all ([n, vocab]).
    /// </summary>
    public void Forward(ReadOnlySpan<int> tokens, KvCache cache, Span<float> logits)
    {
        var c = Config;
        int n = tokens.Length;
        if (n == 0) throw new ArgumentException("no tokens to run", nameof(tokens));
        int start = cache.Length;
        if (start + n > cache.Capacity || start + n > c.MaxSeqLen)
            throw new InvalidOperationException($"sequence of {start + n} tokens exceeds the context ({Math.Min(cache.Capacity, c.MaxSeqLen)})");
        bool all = logits.Length >= n * c.VocabSize;
        if (!all && logits.Length < c.VocabSize) throw new ArgumentException("logits buffer is smaller than the vocabulary", nameof(logits));
        EnsureBatch(n);

        int dim = c.Dim, kvDim = c.KvDim;
        for (int t = 0; t < n; t++)
            _w.Embed(tokens[t], _x.AsSpan(t * dim, dim));

        for (int l = 0; l < c.Layers; l++)
        {
            var layer = _w.Layers[l];
            for (int t = 0; t < n; t++)
                Simd.RmsNorm(_x.AsSpan(t * dim, dim), layer.AttentionNorm, _xb.AsSpan(t * dim, dim), c.NormEps);
            Linear(layer.Query, _xb, _q, n);
            Linear(layer.Key, _xb, _k, n);
            Linear(layer.Value, _xb, _v, n);
            for (int t = 0; t < n; t++)
            {
                Rope(_q.AsSpan(t * dim, dim), start + t);
                Rope(_k.AsSpan(t * kvDim, kvDim), start + t);
            }
            Array.Copy(_k, 0, cache.Keys[l], (long)start * kvDim, (long)n * kvDim);
            Array.Copy(_v, 0, cache.Values[l], (long)start * kvDim, (long)n * kvDim);
            Attention(cache, l, start, n);
            Linear(layer.Output, _xb2, _xb, n);
            Simd.Add(_xb.AsSpan(0, n * dim), _x.AsSpan(0, n * dim));

            for (int t = 0; t < n; t++)
                Simd.RmsNorm(_x.AsSpan(t * dim, dim), layer.FfnNorm, _xb.AsSpan(t * dim, dim), c.NormEps);
            Linear(layer.Gate, _xb, _h1, n);
            Linear(layer.Up, _xb, _h3, n);
            SwiGlu(_h1.AsSpan(0, n * c.HiddenDim), _h3.AsSpan(0, n * c.HiddenDim));
            Linear(layer.Down, _h1, _xb, n);
            Simd.Add(_xb.AsSpan(0, n * dim), _x.AsSpan(0, n * dim));
        }
        cache.Extend(start + n);

        if (all)
        {
            for (int t = 0; t < n; t++)
                Simd.RmsNorm(_x.AsSpan(t * dim, dim), _w.FinalNorm, _xb.AsSpan(t * dim, dim), c.NormEps);
            LinearInto(_w.Classifier, _xb, logits, n);
        }
        else
        {
            Simd.RmsNorm(_x.AsSpan((n - 1) * dim, dim), _w.FinalNorm, _xb.AsSpan(0, dim), c.NormEps);
            LinearInto(_w.Classifier, _xb, logits, 1);
        }
    }

    /// <summary>The final hidden states (after the final norm) of the last forward, [n, dim].</summary>
    public ReadOnlySpan<float> LastNormedHidden(int n) => _xb.AsSpan(0, n * Config.Dim);

    private void Rope(Span<float> v, int pos)
    {
        int hd = Config.HeadDim, half = hd / 2;
        var cos = _cos.AsSpan(pos * half, half);
        var sin = _sin.AsSpan(pos * half, half);
        for (int h = 0; h < v.Length; h += hd)
        {
            for (int i = 0; i < half; i++)
            {
                float v0 = v[h + 2 * i], v1 = v[h + 2 * i + 1];
                v[h + 2 * i] = v0 * cos[i] - v1 * sin[i];
                v[h + 2 * i + 1] = v0 * sin[i] + v1 * cos[i];
            }
        }
    }

    private void Attention(KvCache cache, int layer, int start, int n)
    {
        var c = Config;
        int hd = c.HeadDim, heads = c.Heads, kvDim = c.KvDim, group = c.Heads / c.KvHeads;
        float scale = 1f / MathF.Sqrt(hd);
        var keys = cache.Keys[layer];
        var values = cache.Values[layer];
        Workers.For(n * heads, (long)(start + n) * hd * 2, (chunk, from, to) =>
        {
            var att = _att.AsSpan(chunk * c.MaxSeqLen, c.MaxSeqLen);
            for (int item = from; item < to; item++)
            {
                int t = item / heads, h = item % heads;
                int len = start + t + 1;
                var q = _q.AsSpan(t * c.Dim + h * hd, hd);
                int kvOff = h / group * hd;
                var scores = att[..len];
                for (int p = 0; p < len; p++)
                    scores[p] = Simd.Dot(q, keys.AsSpan(p * kvDim + kvOff, hd)) * scale;
                Simd.Softmax(scores);
                var o = _xb2.AsSpan(t * c.Dim + h * hd, hd);
                o.Clear();
                for (int p = 0; p < len; p++)
                    Simd.Axpy(scores[p], values.AsSpan(p * kvDim + kvOff, hd), o);
            }
        });
    }

    private static void SwiGlu(Span<float> gate, ReadOnlySpan<float> up)
    {
        for (int i = 0; i < gate.Length; i++)
        {
            float g = gate[i];
            gate[i] = g * (1f / (1f + MathF.Exp(-g))) * up[i];
        }
    }

    private void Linear(IWeightMatrix w, float[] x, float[] y, int n) => LinearInto(w, x, y, n);

    private void LinearInto(IWeightMatrix w, float[] x, Span<float> y, int n)
    {
        if (Workers.Threads == 1)
        {
            Run(w, x, y, n, 0, w.Rows);
            return;
        }
        // Spans cannot cross into worker lambdas; the classifier output may be a caller's span, so stage it.
        unsafe
        {
            fixed (float* py = y)
            {
                var yp = (IntPtr)py;
                int len = y.Length;
                Workers.For(w.Rows, (long)w.Cols * n, (_, r0, r1) => Run(w, x, new Span<float>((void*)yp, len), n, r0, r1));
            }
        }
    }

    private static void Run(IWeightMatrix w, float[] x, Span<float> y, int n, int r0, int r1)
    {
        if (n == 1) w.MatVec(x.AsSpan(0, w.Cols), y, r0, r1);
        else w.MatMul(x.AsSpan(0, n * w.Cols), y, n, r0, r1);
    }
}
