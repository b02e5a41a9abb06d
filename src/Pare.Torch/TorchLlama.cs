using Pare.Core;
using Pare.Core.Tensors;
using TorchSharp;
using static TorchSharp.torch;

namespace Pare.Torch;

/// <summary>
/// A LLaMA model in TorchSharp built from a <see cref="Checkpoint"/>, with the Engine's numerics (RMSNorm with the
/// configured eps, interleaved-pair RoPE, grouped-query attention, SwiGLU, tied or separate classifier). Decoder
/// layers are materialised on demand (<see cref="LoadLayer"/>) so calibration holds one layer at a time; the full
/// forward keeps them all and supports autograd.
/// </summary>
public sealed class TorchLlama : IDisposable
{
    private readonly Lazy<TorchDecoderLayer[]> _layers;
    private readonly bool _requiresGrad;

    public TorchLlama(Checkpoint checkpoint, bool requiresGrad = false)
    {
        Checkpoint = checkpoint;
        _requiresGrad = requiresGrad;
        Embedding = ToTensor(checkpoint[LlamaTensorNames.Embedding]);
        FinalNorm = ToTensor(checkpoint[LlamaTensorNames.FinalNorm]);
        Classifier = Config.TiedEmbeddings ? Embedding : ToTensor(checkpoint[LlamaTensorNames.Classifier]);
        Rope = new RotaryTables(Config);
        _layers = new(() => Enumerable.Range(0, Config.Layers).Select(l => LoadLayer(l, _requiresGrad)).ToArray());
    }

    public Checkpoint Checkpoint { get; }
    public ModelConfig Config => Checkpoint.Config;
    public Tensor Embedding { get; }
    public Tensor FinalNorm { get; }
    public Tensor Classifier { get; }
    public RotaryTables Rope { get; }

    /// <summary>All decoder layers, loaded on first use (with requires_grad on the linears when the model was built for gradients).</summary>
    public IReadOnlyList<TorchDecoderLayer> Layers => _layers.Value;

    /// <summary>A fresh copy of decoder layer <paramref name="index"/>; the caller disposes it.</summary>
    public TorchDecoderLayer LoadLayer(int index, bool requiresGrad = false) => new(Checkpoint, index, requiresGrad);

    /// <summary>Token embeddings, [B, T] int64 → [B, T, D].</summary>
    public Tensor Embed(Tensor tokens)
    {
        using var scope = NewDisposeScope();
        return Embedding.index_select(0, tokens.flatten()).reshape(tokens.shape[0], tokens.shape[1], Config.Dim).MoveToOuterDisposeScope();
    }

    /// <summary>Final norm and classifier, [B, T, D] → [B, T, vocab].</summary>
    public Tensor Head(Tensor hidden)
    {
        using var scope = NewDisposeScope();
        return nn.functional.linear(RmsNorm(hidden, FinalNorm, Config.NormEps), Classifier).MoveToOuterDisposeScope();
    }

    /// <summary>Logits of every position, [B, T] → [B, T, vocab], each row run from position 0.</summary>
    public Tensor Forward(Tensor tokens)
    {
        using var scope = NewDisposeScope();
        var x = Embed(tokens);
        foreach (var layer in Layers) x = layer.Forward(x, Rope);
        return Head(x).MoveToOuterDisposeScope();
    }

    /// <summary>run.c's rmsnorm: w · x / sqrt(mean(x²) + eps) over the last dimension.</summary>
    public static Tensor RmsNorm(Tensor x, Tensor weight, float eps)
    {
        using var scope = NewDisposeScope();
        var inv = rsqrt(x.square().mean(new long[] { -1 }, keepdim: true) + eps);
        return (x * inv * weight).MoveToOuterDisposeScope();
    }

    /// <summary>A stored tensor decoded to an f32 torch tensor of the same shape.</summary>
    public static Tensor ToTensor(TensorData data) => tensor(data.ToFloat32(), data.Shape);

    /// <summary>Token ids as a [B, T] int64 tensor.</summary>
    public static Tensor Tokens(IReadOnlyList<int[]> rows)
    {
        int t = rows[0].Length;
        var flat = new long[rows.Count * t];
        for (int r = 0; r < rows.Count; r++)
        {
            if (rows[r].Length != t) throw new ArgumentException("token rows differ in length");
            for (int i = 0; i < t; i++) flat[r * t + i] = rows[r][i];
        }
        return tensor(flat, new long[] { rows.Count, t });
    }

    public void Dispose()
    {
        if (_layers.IsValueCreated)
            foreach (var l in _layers.Value) l.Dispose();
        if (!ReferenceEquals(Classifier, Embedding)) Classifier.Dispose();
        Embedding.Dispose();
        FinalNorm.Dispose();
        Rope.Dispose();
    }
}
