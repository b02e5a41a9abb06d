using Pare.Core;
using Pare.Core.Tensors;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Pare.Torch;

/// <summary>
/// A LLaMA model in TorchSharp built from a <see cref="Checkpoint"/>, with the Engine's numerics (RMSNorm with the
/// configured eps, interleaved-pair RoPE, grouped-query attention, SwiGLU, tied or separate classifier). Decoder
/// layers are materialised on demand (<see cref="LoadLayer"/>) so calibration holds one layer at a time; the full
/// forward keeps them all and supports autograd. Every tensor is a <see cref="Parameter"/> (no gradients until a
/// trainer asks for them, <see cref="Training.TrainableSelection"/>), and <see cref="ToCheckpoint"/> turns the current
/// values back into a checkpoint.
/// </summary>
public sealed class TorchLlama : IDisposable
{
    private readonly Lazy<TorchDecoderLayer[]> _layers;
    private readonly bool _requiresGrad;

    public TorchLlama(Checkpoint checkpoint, bool requiresGrad = false)
    {
        Checkpoint = checkpoint;
        _requiresGrad = requiresGrad;
        Embedding = new Parameter(ToTensor(checkpoint[LlamaTensorNames.Embedding]), requires_grad: false);
        FinalNorm = new Parameter(ToTensor(checkpoint[LlamaTensorNames.FinalNorm]), requires_grad: false);
        Classifier = Config.TiedEmbeddings ? Embedding : new Parameter(ToTensor(checkpoint[LlamaTensorNames.Classifier]), requires_grad: false);
        Rope = new RotaryTables(Config);
        _layers = new(() => Enumerable.Range(0, Config.Layers).Select(l => LoadLayer(l, _requiresGrad)).ToArray());
    }

    public Checkpoint Checkpoint { get; }
    public ModelConfig Config => Checkpoint.Config;
    public Parameter Embedding { get; }
    public Parameter FinalNorm { get; }
    /// <summary>The output projection; the same object as <see cref="Embedding"/> when the model ties them.</summary>
    public Parameter Classifier { get; }
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
        // Layers load lazily; creating them inside the dispose scope below would dispose their parameters with it.
        _ = Layers;
        using var scope = NewDisposeScope();
        return Head(Hidden(tokens)).MoveToOuterDisposeScope();
    }

    /// <summary>The last decoder layer's output before the final norm, [B, T] → [B, T, D] (what draft heads read).</summary>
    public Tensor Hidden(Tensor tokens)
    {
        _ = Layers;
        using var scope = NewDisposeScope();
        var x = Embed(tokens);
        foreach (var layer in Layers) x = layer.Forward(x, Rope);
        return x.MoveToOuterDisposeScope();
    }

    /// <summary>Every tensor of the model under its checkpoint name (a tied classifier appears once, as the embedding); loads all layers.</summary>
    public IEnumerable<(string Name, Parameter Parameter)> NamedTensors()
    {
        yield return (LlamaTensorNames.Embedding, Embedding);
        foreach (var layer in Layers)
            foreach (var named in layer.NamedTensors()) yield return named;
        yield return (LlamaTensorNames.FinalNorm, FinalNorm);
        if (!Config.TiedEmbeddings) yield return (LlamaTensorNames.Classifier, Classifier);
    }

    /// <summary>The current values as a checkpoint of f32 tensors (config, vocabulary and any other tensors kept from the source).</summary>
    public Checkpoint ToCheckpoint()
    {
        var tensors = new Dictionary<string, TensorData>(Checkpoint.Tensors);
        foreach (var (name, p) in NamedTensors()) tensors[name] = FromTensor(name, p);
        return Checkpoint.With(tensors);
    }

    /// <summary>A torch tensor as a named f32 checkpoint tensor of the same shape.</summary>
    public static TensorData FromTensor(string name, Tensor t)
    {
        using var cpu = t.detach().to(ScalarType.Float32).contiguous();
        return TensorData.FromFloat32(name, cpu.data<float>().ToArray(), cpu.shape);
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
