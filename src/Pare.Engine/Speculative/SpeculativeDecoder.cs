using System.Diagnostics;
using Pare.Engine.Kernels;
using Pare.Engine.Sampling;

namespace Pare.Engine.Speculative;

/// <summary>
/// Lossless speculative decoding (Leviathan et al. 2023; Chen et al. 2023). Each round the drafter proposes up to
/// k tokens, the target scores the last context token and all drafts in one batched forward pass, and verification
/// keeps the longest acceptable prefix: greedy accepts while the draft equals the target's argmax; sampling accepts
/// draft x with probability min(1, p(x)/q(x)), replaces the first rejected one by a draw from norm(max(p − q, 0)),
/// and adds a bonus draw from p when every draft passes. The target's KV cache is then cut back to the kept tokens.
/// Output is distributed exactly as plain decoding (token for token identical when greedy).
/// Invariant between rounds: the target's cache holds every context token but the last, whose logits are pending.
/// Rounds allocate nothing: every buffer is sized at construction.
/// </summary>
public sealed class SpeculativeDecoder
{
    private readonly Transformer _target;
    private readonly int _vocab;
    private readonly KvCache _cache;
    private readonly float[] _logits, _q, _p, _residual;
    private readonly int[] _batch, _draft, _context;
    private Sampler _sampler;
    private int _length, _rounds;
    private long _drafted, _accepted;

    public SpeculativeDecoder(Transformer target, IDrafter drafter, int k)
    {
        if (k < 1) throw new ArgumentException($"draft length k must be at least 1, got {k}", nameof(k));
        _target = target;
        Drafter = drafter;
        K = k;
        _vocab = target.Config.VocabSize;
        _cache = target.NewCache();
        _logits = new float[(k + 1) * _vocab];
        _q = new float[k * _vocab];
        _p = new float[_vocab];
        _residual = new float[_vocab];
        _batch = new int[k + 1];
        _draft = new int[k];
        _context = new int[target.Config.MaxSeqLen + k + 1];
        _sampler = new Sampler(_vocab, SamplingOptions.Greedy);
    }

    public IDrafter Drafter { get; }
    public int K { get; }

    /// <summary>The target's KV cache (every context token but the last).</summary>
    public KvCache TargetCache => _cache;

    /// <summary>Prompt plus every token emitted so far.</summary>
    public ReadOnlySpan<int> Context => _context.AsSpan(0, _length);

    public SpeculativeStats Stats => new(_rounds, _drafted, _accepted);

    /// <summary>Test-only fault: on rejection draw from p instead of the residual (the sampler is then biased).</summary>
    internal bool ResidualIsTargetForTesting { get; set; }

    /// <summary>Starts a sequence: prefills the target with all prompt tokens but the last, resets the drafter.</summary>
    public void Start(ReadOnlySpan<int> prompt, SamplingOptions sampling)
    {
        if (prompt.Length == 0) throw new ArgumentException("the prompt must hold at least one token (BOS)", nameof(prompt));
        if (prompt.Length > _target.Config.MaxSeqLen) throw new ArgumentException($"prompt of {prompt.Length} tokens exceeds the context ({_target.Config.MaxSeqLen})", nameof(prompt));
        _sampler = new Sampler(_vocab, sampling);
        prompt.CopyTo(_context);
        _length = prompt.Length;
        _rounds = 0;
        _drafted = _accepted = 0;
        _cache.Truncate(0);
        if (prompt.Length > 1) _target.Forward(prompt[..^1], _cache, _logits.AsSpan(0, _vocab));
        Drafter.Reset(prompt);
    }

    /// <summary>
    /// One draft-and-verify round emitting between 1 and min(k + 1, <paramref name="maxTokens"/>) tokens into
    /// <paramref name="emitted"/> (which must hold k + 1); returns how many.
    /// </summary>
    public int Round(int maxTokens, Span<int> emitted)
    {
        if (maxTokens < 1) throw new ArgumentOutOfRangeException(nameof(maxTokens), "a round emits at least one token");
        // Never draft past the tokens still wanted or the target's context.
        int room = Math.Min(Math.Min(K, maxTokens - 1), _target.Config.MaxSeqLen - _length);
        if (room < 0) throw new InvalidOperationException($"context of {_target.Config.MaxSeqLen} tokens is full");
        var draft = Drafter.Propose(Context, room, _sampler, _draft.AsSpan(0, room), _q);
        int count = draft.Count;
        if (count < 0 || count > room) throw new InvalidOperationException($"drafter {Drafter.Name} proposed {count} tokens, at most {room} were asked for");

        _batch[0] = _context[_length - 1];
        _draft.AsSpan(0, count).CopyTo(_batch.AsSpan(1));
        _target.Forward(_batch.AsSpan(0, count + 1), _cache, _logits.AsSpan(0, (count + 1) * _vocab));

        bool greedy = _sampler.Options.IsGreedy;
        int accepted = 0, next = -1;
        for (; accepted < count; accepted++)
        {
            var logits = _logits.AsSpan(accepted * _vocab, _vocab);
            int x = _draft[accepted];
            if (greedy)
            {
                int best = Simd.ArgMax(logits);
                if (best != x) { next = best; break; }
                continue;
            }
            _sampler.Distribution(logits, _p);
            bool hasQ = draft.HasDistributions;
            float px = _p[x], qx = hasQ ? _q[accepted * _vocab + x] : 1f;
            // Accept with probability min(1, p/q): r·q < p for r uniform in [0, 1).
            if (px >= qx || _sampler.NextFloat() * qx < px) continue;
            next = ResidualIsTargetForTesting ? _sampler.Draw(_p) : DrawResidual(hasQ ? _q.AsSpan(accepted * _vocab, _vocab) : default, x);
            break;
        }
        if (accepted == count)
        {
            var logits = _logits.AsSpan(count * _vocab, _vocab);
            next = _sampler.Sample(logits, _p); // bonus token from the target
        }

        _draft.AsSpan(0, accepted).CopyTo(emitted);
        emitted[accepted] = next;
        _draft.AsSpan(0, accepted).CopyTo(_context.AsSpan(_length));
        _context[_length + accepted] = next;
        // The cache held context[..^1]; the forward appended the last token and `count` drafts. Keep last + accepted.
        _cache.Truncate(_length + accepted);
        _length += accepted + 1;
        Drafter.Accept(accepted, next);
        _rounds++;
        _drafted += count;
        _accepted += accepted;
        return accepted + 1;
    }

    /// <summary>Draws from norm(max(p − q, 0)); an empty q means a point mass on <paramref name="rejected"/>.</summary>
    private int DrawResidual(ReadOnlySpan<float> q, int rejected)
    {
        var r = _residual.AsSpan();
        float sum = 0;
        if (q.IsEmpty)
        {
            _p.CopyTo(r);
            r[rejected] = 0f;
            sum = 1f - _p[rejected];
        }
        else
        {
            for (int v = 0; v < r.Length; v++)
            {
                float d = _p[v] - q[v];
                r[v] = d > 0 ? d : 0f;
                sum += r[v];
            }
        }
        // p ≤ q everywhere only happens through rounding (a rejection needs p(x) < q(x), so p > q somewhere).
        if (!(sum > 0)) return _sampler.Draw(_p);
        float inv = 1f / sum;
        for (int v = 0; v < r.Length; v++) r[v] *= inv;
        return _sampler.Draw(r);
    }

    /// <summary>
    /// Generates like <see cref="Generator.Generate"/>: up to <paramref name="maxNewTokens"/> tokens, stopping before
    /// <paramref name="stopToken"/>. PrefillSeconds covers the prompt; DecodeSeconds every round.
    /// </summary>
    public SpeculativeResult Generate(int[] promptIds, int maxNewTokens, SamplingOptions sampling, int? stopToken = 1, Action<int>? onToken = null)
    {
        int limit = Math.Max(0, Math.Min(maxNewTokens, _target.Config.MaxSeqLen - promptIds.Length));
        var generated = new int[limit];
        Span<int> emitted = stackalloc int[K + 1];
        int produced = 0;
        var sw = Stopwatch.StartNew();
        Start(promptIds, sampling);
        double prefill = sw.Elapsed.TotalSeconds;
        sw.Restart();
        bool stopped = false;
        while (!stopped && produced < limit)
        {
            int got = Round(limit - produced, emitted);
            for (int i = 0; i < got; i++)
            {
                if (emitted[i] == stopToken) { stopped = true; break; }
                generated[produced++] = emitted[i];
                onToken?.Invoke(emitted[i]);
            }
        }
        double decode = sw.Elapsed.TotalSeconds;
        return new SpeculativeResult(new GenerationResult(promptIds, generated[..produced], prefill, decode), Stats);
    }
}
