using System.Diagnostics;
using Pare.Engine.Sampling;

namespace Pare.Engine;

/// <summary>The outcome of one generation.</summary>
public sealed record GenerationResult(int[] PromptIds, int[] GeneratedIds, double PrefillSeconds, double DecodeSeconds)
{
    /// <summary>Decode speed: tokens generated after the first, per second of decoding.</summary>
    public double TokensPerSecond => GeneratedIds.Length > 1 && DecodeSeconds > 0 ? (GeneratedIds.Length - 1) / DecodeSeconds : 0;
}

/// <summary>Plain autoregressive generation with a KV cache.</summary>
public sealed class Generator
{
    private readonly Transformer _model;
    private readonly float[] _logits, _probs;

    public Generator(Transformer model)
    {
        _model = model;
        _logits = new float[model.Config.VocabSize];
        _probs = new float[model.Config.VocabSize];
    }

    /// <summary>
    /// Generates up to <paramref name="maxNewTokens"/> tokens after <paramref name="promptIds"/> (which should start
    /// with BOS). Stops before emitting <paramref name="stopToken"/> when given (llama2.c stops at BOS, id 1).
    /// </summary>
    public GenerationResult Generate(int[] promptIds, int maxNewTokens, SamplingOptions sampling, int? stopToken = 1, Action<int>? onToken = null)
    {
        if (promptIds.Length == 0) throw new ArgumentException("the prompt must hold at least one token (BOS)", nameof(promptIds));
        int limit = Math.Min(maxNewTokens, _model.Config.MaxSeqLen - promptIds.Length);
        var cache = _model.NewCache();
        var sampler = new Sampler(_model.Config.VocabSize, sampling);
        var generated = new List<int>(Math.Max(limit, 0));
        var sw = Stopwatch.StartNew();
        _model.Forward(promptIds, cache, _logits);
        double prefill = sw.Elapsed.TotalSeconds;
        sw.Restart();
        Span<int> one = stackalloc int[1];
        for (int i = 0; i < limit; i++)
        {
            int next = sampler.Sample(_logits, _probs);
            if (next == stopToken) break;
            generated.Add(next);
            onToken?.Invoke(next);
            if (i == 0) sw.Restart(); // decode speed counts the steady-state steps after the first token
            if (i + 1 == limit) break;
            one[0] = next;
            _model.Forward(one, cache, _logits);
        }
        return new GenerationResult(promptIds, generated.ToArray(), prefill, sw.Elapsed.TotalSeconds);
    }
}
