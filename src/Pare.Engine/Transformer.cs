using Pare.Core;
using Pare.Engine.Kernels;
using Pare.Engine.Weights;

namespace Pare.Engine;

/// <summary>
/// The LLaMA forward pass (RMSNorm, interleaved-pair RoPE, grouped-query attention, SwiGLU) over a KV cache, for
/// one token (decode) or several at once (prefill, perplexity, speculative verification). Numerics follow
/// llama2.c's run.c. One instance is single-caller; create one per thread of generation.
/// Matrix products are split by output rows across persistent <see cref="Kernels.Workers"/>, with products that
/// share an input (Q/K/V, gate/up) fused into one dispatch; buffers and work items are reused, so a decode step
/// allocates nothing once the buffers have grown to the batch size.
/// </summary>
public sealed class Transformer : IDisposable
{
    /// <summary>Below this many multiply-adds an operator runs on the calling thread (a hand-off costs ~µs).</summary>
    private const long MinParallelWork = 64 * 1024;

    /// <summary>Row chunks per thread in a matrix product. One: a worker descheduled before it starts still has its
    /// share taken over by the other threads, and the int8 formats pay per call (activation quantisation, chunk
    /// claims) — at four chunks per thread q8_0 / q4_0 / 2:4-int8 decode at the stories110M shape on 2 threads fell
    /// from 388 / 431 / 511 to 324 / 340 / 378 tok/s.</summary>
    private const int ChunksPerThread = 1;

    private readonly LlamaWeights _w;
    private readonly float[] _cos, _sin;
    private readonly LinearWork _linear = new();
    private readonly AttentionWork _attention;
    private readonly bool _ownsWorkers;
    private float[] _x = [], _xb = [], _xb2 = [], _q = [], _k = [], _v = [], _h1 = [], _h3 = [], _att = [], _logits = [];
    // Token routing: positions of the rows being computed, the routed subset's rows and bookkeeping.
    private int[] _pos = [], _routedPos = [], _active = [];
    private float[] _xr = [], _selfAttention = [], _routedSelf = [], _selfHeads = [], _rank = [];
    private bool[] _decisions = [];
    private readonly long[] _tokensIn, _tokensComputed;
    private int _batchCapacity, _logitsCapacity;

    public Transformer(LlamaWeights weights, int threads = 1) : this(weights, new Workers(Math.Max(1, threads)), ownsWorkers: true) { }

    /// <summary>
    /// A model that runs on an existing pool, e.g. a draft beside its target: the two never compute at the same
    /// time, and two pools would leave one pool's workers spinning on the cores the other needs.
    /// </summary>
    public Transformer(LlamaWeights weights, Workers workers) : this(weights, workers, ownsWorkers: false) { }

    private Transformer(LlamaWeights weights, Workers workers, bool ownsWorkers)
    {
        _w = weights;
        Workers = workers;
        _ownsWorkers = ownsWorkers;
        _attention = new AttentionWork(this);
        var c = weights.Config;
        _tokensIn = new long[c.Layers];
        _tokensComputed = new long[c.Layers];
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

    public void Dispose()
    {
        if (_ownsWorkers) Workers.Dispose();
    }

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
        _att = new float[(long)Math.Min(n, AttentionWork.TokenBlock) * c.Heads * AttentionWork.ScoreStride(c)];
        _xr = new float[n * c.Dim];
        _pos = new int[n];
        _routedPos = new int[n];
        _active = new int[n];
        _selfAttention = new float[n];
        _routedSelf = new float[n];
        _selfHeads = new float[n * c.Heads];
        _rank = new float[n];
        _decisions = new bool[n];
        _batchCapacity = n;
    }

    private void EnsureLogits(int n)
    {
        if (n <= _logitsCapacity) return;
        _logits = new float[(long)n * Config.VocabSize];
        _logitsCapacity = n;
    }

    /// <summary>Classifier into the reusable buffer (work items cannot hold the caller's span), then copied out.</summary>
    private void Classify(int n, Span<float> logits)
    {
        Linear(_xb, n, _w.Classifier, _logits);
        _logits.AsSpan(0, n * Config.VocabSize).CopyTo(logits);
    }

    /// <summary>
    /// Token routing: when set, each block computes only the tokens the router sends to it (FTP). Null: every token
    /// computes every block, the plain forward.
    /// </summary>
    public ITokenRouter? Router { get; set; }

    /// <summary>Tokens that entered each layer and tokens that computed it, summed over forwards since the last reset.</summary>
    public long[] TokensIn => _tokensIn;
    public long[] TokensComputed => _tokensComputed;

    public void ResetRoutingCounts()
    {
        Array.Clear(_tokensIn);
        Array.Clear(_tokensComputed);
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
        EnsureLogits(all ? n : 1);

        int dim = c.Dim;
        for (int t = 0; t < n; t++)
        {
            _w.Embed(tokens[t], _x.AsSpan(t * dim, dim));
            _pos[t] = start + t;
        }
        var router = Router;
        if (router != null) _selfAttention.AsSpan(0, n).Fill(1f);

        for (int l = 0; l < c.Layers; l++)
        {
            var layer = _w.Layers[l];
            _tokensIn[l] += n;
            int m = n;
            bool routed = false;
            if (router != null)
            {
                m = RouteLayer(router, l, cache, start, n);
                routed = m < n;
            }
            _tokensComputed[l] += m;
            if (!routed)
            {
                Block(l, layer, _x, n, cache, router != null);
                continue;
            }
            if (m == 0) continue;
            // Gather the active rows, run the block on them alone, scatter them back: a skipped token's residual stream
            // passes through unchanged and costs nothing in this block.
            for (int i = 0; i < m; i++)
            {
                int t = _active[i];
                Array.Copy(_x, t * dim, _xr, i * dim, dim);
                _routedPos[i] = _pos[t];
                _routedSelf[i] = _selfAttention[t];
            }
            SwapRouted();
            Block(l, layer, _xr, m, cache, true);
            SwapRouted();
            for (int i = 0; i < m; i++)
            {
                int t = _active[i];
                Array.Copy(_xr, i * dim, _x, t * dim, dim);
                _selfAttention[t] = _routedSelf[i];
            }
        }
        cache.Extend(start + n);

        if (all)
        {
            for (int t = 0; t < n; t++)
                Simd.RmsNorm(_x.AsSpan(t * dim, dim), _w.FinalNorm, _xb.AsSpan(t * dim, dim), c.NormEps);
            Classify(n, logits);
        }
        else
        {
            Simd.RmsNorm(_x.AsSpan((n - 1) * dim, dim), _w.FinalNorm, _xb.AsSpan(0, dim), c.NormEps);
            Classify(1, logits);
        }
    }

    /// <summary>Swaps the token positions and attention factors with the routed subset's, so Block reads one set of arrays.</summary>
    private void SwapRouted()
    {
        (_pos, _routedPos) = (_routedPos, _pos);
        (_selfAttention, _routedSelf) = (_routedSelf, _selfAttention);
    }

    /// <summary>
    /// The router's decision for layer <paramref name="l"/>: the factors of each token (position, the attention it
    /// paid itself in the last block it computed, that value's rank among the sequence's earlier tokens at this layer),
    /// then the active token indices into _active. Returns how many are active.
    /// </summary>
    private int RouteLayer(ITokenRouter router, int l, KvCache cache, int start, int n)
    {
        var history = cache.RouteScores[l];
        for (int t = 0; t < n; t++) history[start + t] = _selfAttention[t];
        for (int t = 0; t < n; t++)
        {
            int p = start + t, below = 0;
            float a = history[p];
            for (int j = 0; j < p; j++)
                if (history[j] < a) below++;
            _rank[t] = p == 0 ? 0.5f : (float)below / p;
        }
        router.Route(l, _pos.AsSpan(0, n), _selfAttention.AsSpan(0, n), _rank.AsSpan(0, n), _decisions.AsSpan(0, n));
        int m = 0;
        for (int t = 0; t < n; t++)
            if (_decisions[t]) _active[m++] = t;
        return m;
    }

    /// <summary>
    /// One decoder block on the first <paramref name="n"/> rows of <paramref name="x"/> (tokens at positions _pos), in
    /// place; appends their keys and values to the layer's cache entries. A sub-block whose output projection is all
    /// zero (removed by BlockPruner) adds exactly zero to the residual stream and is skipped.
    /// </summary>
    private void Block(int l, LayerWeights layer, float[] x, int n, KvCache cache, bool recordSelfAttention)
    {
        var c = Config;
        int dim = c.Dim, kvDim = c.KvDim;
        int entries = cache.LayerLength(l);
        if (!layer.AttentionRemoved)
        {
            for (int t = 0; t < n; t++)
                Simd.RmsNorm(x.AsSpan(t * dim, dim), layer.AttentionNorm, _xb.AsSpan(t * dim, dim), c.NormEps);
            Linear(_xb, n, layer.Query, _q, layer.Key, _k, layer.Value, _v);
            for (int t = 0; t < n; t++)
            {
                Rope(_q.AsSpan(t * dim, dim), _pos[t]);
                Rope(_k.AsSpan(t * kvDim, kvDim), _pos[t]);
                cache.Positions[l][entries + t] = _pos[t];
            }
            Array.Copy(_k, 0, cache.Keys[l], (long)entries * kvDim, (long)n * kvDim);
            Array.Copy(_v, 0, cache.Values[l], (long)entries * kvDim, (long)n * kvDim);
            cache.SetLayerLength(l, entries + n);
            Attention(cache, l, entries, n, recordSelfAttention);
            Linear(_xb2, n, layer.Output, _xb);
            Simd.Add(_xb.AsSpan(0, n * dim), x.AsSpan(0, n * dim));
        }
        else
        {
            for (int t = 0; t < n; t++) cache.Positions[l][entries + t] = _pos[t];
            cache.SetLayerLength(l, entries + n);
        }

        if (layer.MlpRemoved) return;
        for (int t = 0; t < n; t++)
            Simd.RmsNorm(x.AsSpan(t * dim, dim), layer.FfnNorm, _xb.AsSpan(t * dim, dim), c.NormEps);
        Linear(_xb, n, layer.Gate, _h1, layer.Up, _h3);
        // Row by row: the vector exp and the scalar tail round differently, so each token must see the same
        // split as when it runs alone, or batched verification would not reproduce one-token logits bit for bit.
        for (int t = 0; t < n; t++)
            Simd.SwiGlu(_h1.AsSpan(t * c.HiddenDim, c.HiddenDim), _h3.AsSpan(t * c.HiddenDim, c.HiddenDim));
        Linear(_h1, n, layer.Down, _xb);
        Simd.Add(_xb.AsSpan(0, n * dim), x.AsSpan(0, n * dim));
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

    private void Attention(KvCache cache, int layer, int start, int n, bool recordSelfAttention)
    {
        var c = Config;
        var work = _attention;
        work.Keys = cache.Keys[layer];
        work.Values = cache.Values[layer];
        work.Start = start;
        work.Tokens = n;
        work.SelfAttention = recordSelfAttention ? _selfHeads : null;
        if (Workers.Threads == 1 || c.Heads < 2 || (long)n * c.Heads * (start + n) * c.HeadDim * 2 < MinParallelWork) work.Execute(0, 1);
        else Workers.Run(work, chunksPerThread: 2);
        work.Keys = work.Values = null;
        if (recordSelfAttention)
        {
            // A router's attention factor: the weight each token's query puts on its own key, averaged over heads.
            int heads = c.Heads;
            for (int t = 0; t < n; t++)
            {
                float sum = 0;
                for (int h = 0; h < heads; h++) sum += _selfHeads[t * heads + h];
                _selfAttention[t] = sum / heads;
            }
        }
    }

    /// <summary>
    /// Scaled dot-product attention over the cache. Parts take disjoint heads; within a part, tokens go in blocks
    /// and the cache is walked position by position — each key and value row is read once per block, in memory
    /// order, for every token and head of the block (walking one head down all positions jumps a whole row each step
    /// and was memory-latency bound at long contexts). Each (token, head) still computes its scores, softmax and
    /// weighted sum of values with the same operations in the same order as when the token runs alone.
    /// </summary>
    private sealed unsafe class AttentionWork(Transformer owner) : IParallelWork
    {
        public const int TokenBlock = 8;

        /// <summary>
        /// Floats between two (token, head) score rows: the context length padded so rows do not sit a multiple of
        /// 4 KiB apart. At 1024 positions they did, and the scores of all heads at one position fell into one L1 set
        /// (and aliased the key loads), which made attention at position 512 cost 35 ns per head and position.
        /// </summary>
        public static int ScoreStride(ModelConfig c) => (c.MaxSeqLen + 15) / 16 * 16 + 16;
        public float[]? Keys, Values;
        /// <summary>When set, receives each (token, head)'s softmax weight on the token's own key (the last one it sees).</summary>
        public float[]? SelfAttention;
        public int Start, Tokens;

        public void Execute(int part, int parts)
        {
            var c = owner.Config;
            int hd = c.HeadDim, heads = c.Heads, kvDim = c.KvDim, group = c.Heads / c.KvHeads, dim = c.Dim, stride = ScoreStride(c);
            float scale = 1f / MathF.Sqrt(hd);
            int h0 = heads * part / parts, h1 = heads * (part + 1) / parts;
            if (h0 == h1) return;
            // Key/value offset of each query head (GQA), so the inner loops do no division.
            Span<int> kvOffset = stackalloc int[heads];
            for (int h = 0; h < heads; h++) kvOffset[h] = h / group * hd;
            fixed (float* keys = Keys, values = Values, att = owner._att, q = owner._q, o = owner._xb2)
            {
                for (int tb = 0; tb < Tokens; tb += TokenBlock)
                {
                    int tn = Math.Min(TokenBlock, Tokens - tb), end = Start + tb + tn;
                    for (int p = 0; p < end; p++)
                    {
                        float* key = keys + (long)p * kvDim;
                        for (int t = Math.Max(tb, p - Start); t < tb + tn; t++)
                        {
                            for (int h = h0; h < h1; h++)
                                att[((t - tb) * heads + h) * stride + p] = HeadKernels.Dot(q + t * dim + h * hd, key + kvOffset[h], hd) * scale;
                        }
                    }
                    for (int t = tb; t < tb + tn; t++)
                    {
                        for (int h = h0; h < h1; h++)
                        {
                            Simd.Softmax(new Span<float>(att + ((t - tb) * heads + h) * stride, Start + t + 1));
                            if (SelfAttention != null) SelfAttention[t * heads + h] = att[((t - tb) * heads + h) * stride + Start + t];
                            new Span<float>(o + t * dim + h * hd, hd).Clear();
                        }
                    }
                    for (int p = 0; p < end; p++)
                    {
                        float* value = values + (long)p * kvDim;
                        for (int t = Math.Max(tb, p - Start); t < tb + tn; t++)
                        {
                            for (int h = h0; h < h1; h++)
                                HeadKernels.Axpy(att[((t - tb) * heads + h) * stride + p], value + kvOffset[h], o + t * dim + h * hd, hd);
                        }
                    }
                }
            }
        }
    }

    /// <summary>y_i = W_i·x for up to three matrices sharing the input x ([n, cols]), in one dispatch.</summary>
    private void Linear(float[] x, int n, IWeightMatrix a, float[] ya, IWeightMatrix? b = null, float[]? yb = null, IWeightMatrix? c = null, float[]? yc = null)
    {
        var work = _linear;
        work.Set(x, n, a, ya, b, yb, c, yc);
        if (Workers.Threads == 1 || work.MultiplyAdds < MinParallelWork) work.Execute(0, 1);
        else Workers.Run(work, ChunksPerThread);
        work.Clear();
    }

    /// <summary>Products of matrices with one input, their output rows concatenated and split evenly across parts.</summary>
    private sealed class LinearWork : IParallelWork
    {
        private readonly IWeightMatrix?[] _m = new IWeightMatrix?[3];
        private readonly float[]?[] _y = new float[]?[3];
        private float[]? _x;
        private int _n, _count, _rows;

        public long MultiplyAdds { get; private set; }

        public void Set(float[] x, int n, IWeightMatrix a, float[] ya, IWeightMatrix? b, float[]? yb, IWeightMatrix? c, float[]? yc)
        {
            _x = x;
            _n = n;
            _count = 0;
            _rows = 0;
            MultiplyAdds = 0;
            Add(a, ya);
            if (b != null) Add(b, yb!);
            if (c != null) Add(c, yc!);
        }

        private void Add(IWeightMatrix m, float[] y)
        {
            if (m.Cols != _m[0]?.Cols && _count > 0) throw new ArgumentException("fused matrices must share their input size");
            _m[_count] = m;
            _y[_count] = y;
            _count++;
            _rows += m.Rows;
            MultiplyAdds += (long)m.Rows * m.Cols * _n;
        }

        public void Clear()
        {
            _x = null;
            Array.Clear(_m);
            Array.Clear(_y);
        }

        public void Execute(int part, int parts)
        {
            int r0 = (int)((long)_rows * part / parts), r1 = (int)((long)_rows * (part + 1) / parts);
            int offset = 0;
            for (int i = 0; i < _count; i++)
            {
                var m = _m[i]!;
                int lo = Math.Max(r0, offset) - offset, hi = Math.Min(r1, offset + m.Rows) - offset;
                if (lo < hi)
                {
                    if (_n == 1) m.MatVec(_x.AsSpan(0, m.Cols), _y[i], lo, hi);
                    else m.MatMul(_x.AsSpan(0, _n * m.Cols), _y[i], _n, lo, hi);
                }
                offset += m.Rows;
            }
        }
    }
}
