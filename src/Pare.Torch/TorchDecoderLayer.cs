using Pare.Core;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Pare.Torch;

/// <summary>
/// One LLaMA decoder layer as a TorchSharp module: RMSNorm → attention (interleaved RoPE, grouped-query, causal) →
/// residual, RMSNorm → SwiGLU → residual. Every tensor is a <see cref="Parameter"/> (linears [out, in]) so the same
/// layer serves calibration (no gradients), pruning (weights replaced in place) and training (optimisers hold the
/// parameters, which stay the same objects when a pruner writes new values into them).
/// </summary>
public sealed class TorchDecoderLayer : nn.Module
{
    private readonly Parameter[] _linears = new Parameter[LinearKinds.All.Count];
    private readonly Training.LoraAdapter?[] _adapters = new Training.LoraAdapter?[LinearKinds.All.Count];

    public TorchDecoderLayer(Checkpoint checkpoint, int index, bool requiresGrad = false) : base($"layers.{index}")
    {
        Config = checkpoint.Config;
        Index = index;
        AttentionNorm = new Parameter(TorchLlama.ToTensor(checkpoint[LlamaTensorNames.AttentionNorm(index)]), requires_grad: false);
        FfnNorm = new Parameter(TorchLlama.ToTensor(checkpoint[LlamaTensorNames.FfnNorm(index)]), requires_grad: false);
        register_parameter("attention_norm", AttentionNorm);
        register_parameter("ffn_norm", FfnNorm);
        foreach (var kind in LinearKinds.All)
        {
            var p = new Parameter(TorchLlama.ToTensor(checkpoint[kind.TensorName(index)]), requires_grad: requiresGrad);
            _linears[(int)kind] = p;
            register_parameter(kind.ShortName(), p);
        }
    }

    public ModelConfig Config { get; }
    public int Index { get; }
    public Parameter AttentionNorm { get; }
    public Parameter FfnNorm { get; }

    /// <summary>
    /// A linear weight [out, in]. Setting it copies the values into the existing parameter (so optimisers and masks
    /// that hold it see the change) and disposes the tensor given.
    /// </summary>
    public Tensor this[LinearKind kind]
    {
        get => _linears[(int)kind];
        set
        {
            var p = _linears[(int)kind];
            if (ReferenceEquals(p, value)) return;
            using (no_grad()) p.copy_(value);
            value.Dispose();
        }
    }

    /// <summary>
    /// The adapter of each linear (LoRA), or null: when set, the layer computes x Wᵀ plus the adapter's update instead
    /// of x Wᵀ alone. Adapters are not part of the checkpoint until they are merged.
    /// </summary>
    public Training.LoraAdapter? Adapter(LinearKind kind) => _adapters[(int)kind];

    public void SetAdapter(LinearKind kind, Training.LoraAdapter? adapter) => _adapters[(int)kind] = adapter;

    private Tensor Project(LinearKind kind, Tensor x)
        => _adapters[(int)kind] is { } a ? a.Forward(x, _linears[(int)kind]) : nn.functional.linear(x, _linears[(int)kind]);

    /// <summary>The parameter of a linear (the same object as the indexer returns).</summary>
    public Parameter Linear(LinearKind kind) => _linears[(int)kind];

    /// <summary>The checkpoint tensor name of each of this layer's parameters, with the parameter.</summary>
    public IEnumerable<(string Name, Parameter Parameter)> NamedTensors()
    {
        yield return (LlamaTensorNames.AttentionNorm(Index), AttentionNorm);
        yield return (LlamaTensorNames.FfnNorm(Index), FfnNorm);
        foreach (var kind in LinearKinds.All) yield return (kind.TensorName(Index), _linears[(int)kind]);
    }

    /// <summary>
    /// Runs the layer on hidden states x [B, T, D] (positions 0..T−1). <paramref name="observe"/> sees each distinct
    /// linear input before it is used (calibration hooks).
    /// </summary>
    public Tensor Forward(Tensor x, RotaryTables rope, Action<LinearInput, Tensor>? observe = null)
    {
        using var scope = NewDisposeScope();
        var c = Config;
        long b = x.shape[0], t = x.shape[1];
        int hd = c.HeadDim, group = c.Heads / c.KvHeads;

        var h = TorchLlama.RmsNorm(x, AttentionNorm, c.NormEps);
        observe?.Invoke(LinearInput.Attention, h);
        var q = Project(LinearKind.Query, h).reshape(b, t, c.Heads, hd);
        var k = Project(LinearKind.Key, h).reshape(b, t, c.KvHeads, hd);
        var v = Project(LinearKind.Value, h).reshape(b, t, c.KvHeads, hd);
        q = rope.Apply(q).transpose(1, 2);
        k = rope.Apply(k).transpose(1, 2);
        v = v.transpose(1, 2);
        if (group > 1)
        {
            // Query head i reads kv head i / group, as in the Engine.
            k = k.repeat_interleave(group, dim: 1);
            v = v.repeat_interleave(group, dim: 1);
        }
        // softmax(q kᵀ / sqrt(head_dim)) v under a causal mask; the fused kernel is ~8× faster than the explicit one on CPU.
        var att = nn.functional.scaled_dot_product_attention(q, k, v, is_casual: true).transpose(1, 2).reshape(b, t, c.Dim);
        observe?.Invoke(LinearInput.AttentionOutput, att);
        x = x + Project(LinearKind.Output, att);

        h = TorchLlama.RmsNorm(x, FfnNorm, c.NormEps);
        observe?.Invoke(LinearInput.Mlp, h);
        var hidden = nn.functional.silu(Project(LinearKind.Gate, h)) * Project(LinearKind.Up, h);
        observe?.Invoke(LinearInput.MlpHidden, hidden);
        x = x + Project(LinearKind.Down, hidden);
        return x.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The layer under token routing (FTP): only tokens with <paramref name="visible"/> [B, T] true offer their keys and
    /// values to other tokens (a token always sees its own), as in the Engine where a skipped token leaves no cache
    /// entry. Attention is written out so that <paramref name="selfAttention"/> [B, T] — each token's weight on its own
    /// key, averaged over heads, the router's attention factor — comes out of the same pass. Which tokens' outputs are
    /// kept is the caller's business.
    /// </summary>
    public Tensor ForwardRouted(Tensor x, RotaryTables rope, Tensor visible, out Tensor selfAttention)
    {
        using var scope = NewDisposeScope();
        var c = Config;
        long b = x.shape[0], t = x.shape[1];
        int hd = c.HeadDim, group = c.Heads / c.KvHeads;
        var h = TorchLlama.RmsNorm(x, AttentionNorm, c.NormEps);
        var q = nn.functional.linear(h, this[LinearKind.Query]).reshape(b, t, c.Heads, hd);
        var k = nn.functional.linear(h, this[LinearKind.Key]).reshape(b, t, c.KvHeads, hd);
        var v = nn.functional.linear(h, this[LinearKind.Value]).reshape(b, t, c.KvHeads, hd);
        q = rope.Apply(q).transpose(1, 2);
        k = rope.Apply(k).transpose(1, 2);
        v = v.transpose(1, 2);
        if (group > 1)
        {
            k = k.repeat_interleave(group, dim: 1);
            v = v.repeat_interleave(group, dim: 1);
        }
        var scores = matmul(q, k.transpose(-2, -1)) / Math.Sqrt(hd);
        var causal = ones(t, t, dtype: ScalarType.Bool).tril();
        var diagonal = eye(t, dtype: ScalarType.Bool);
        var allowed = (causal.unsqueeze(0) & (visible.unsqueeze(1) | diagonal.unsqueeze(0))).unsqueeze(1);
        var att = scores.masked_fill(allowed.logical_not(), float.NegativeInfinity).softmax(-1);
        var self = att.diagonal(0, -2, -1).mean(new long[] { 1 });
        var o = matmul(att, v).transpose(1, 2).reshape(b, t, c.Dim);
        x = x + nn.functional.linear(o, this[LinearKind.Output]);
        h = TorchLlama.RmsNorm(x, FfnNorm, c.NormEps);
        var hidden = nn.functional.silu(nn.functional.linear(h, this[LinearKind.Gate])) * nn.functional.linear(h, this[LinearKind.Up]);
        x = x + nn.functional.linear(hidden, this[LinearKind.Down]);
        selfAttention = self.MoveToOuterDisposeScope();
        return x.MoveToOuterDisposeScope();
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            AttentionNorm.Dispose();
            FfnNorm.Dispose();
            foreach (var w in _linears) w.Dispose();
        }
        base.Dispose(disposing);
    }
}
