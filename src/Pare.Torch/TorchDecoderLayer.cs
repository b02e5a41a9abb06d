using Pare.Core;
using TorchSharp;
using static TorchSharp.torch;

namespace Pare.Torch;

/// <summary>
/// One LLaMA decoder layer as TorchSharp tensors: RMSNorm → attention (interleaved RoPE, grouped-query, causal) →
/// residual, RMSNorm → SwiGLU → residual. Linear weights are [out, in] and can be swapped (pruning) in place.
/// </summary>
public sealed class TorchDecoderLayer : IDisposable
{
    private readonly Tensor[] _linears = new Tensor[LinearKinds.All.Count];

    public TorchDecoderLayer(Checkpoint checkpoint, int index, bool requiresGrad = false)
    {
        Config = checkpoint.Config;
        Index = index;
        AttentionNorm = TorchLlama.ToTensor(checkpoint[LlamaTensorNames.AttentionNorm(index)]);
        FfnNorm = TorchLlama.ToTensor(checkpoint[LlamaTensorNames.FfnNorm(index)]);
        foreach (var kind in LinearKinds.All)
            _linears[(int)kind] = TorchLlama.ToTensor(checkpoint[kind.TensorName(index)]).requires_grad_(requiresGrad);
    }

    public ModelConfig Config { get; }
    public int Index { get; }
    public Tensor AttentionNorm { get; }
    public Tensor FfnNorm { get; }

    /// <summary>A linear weight [out, in]; setting it disposes the previous tensor.</summary>
    public Tensor this[LinearKind kind]
    {
        get => _linears[(int)kind];
        set
        {
            var old = _linears[(int)kind];
            _linears[(int)kind] = value;
            if (!ReferenceEquals(old, value)) old.Dispose();
        }
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
        var q = nn.functional.linear(h, this[LinearKind.Query]).reshape(b, t, c.Heads, hd);
        var k = nn.functional.linear(h, this[LinearKind.Key]).reshape(b, t, c.KvHeads, hd);
        var v = nn.functional.linear(h, this[LinearKind.Value]).reshape(b, t, c.KvHeads, hd);
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
        x = x + nn.functional.linear(att, this[LinearKind.Output]);

        h = TorchLlama.RmsNorm(x, FfnNorm, c.NormEps);
        observe?.Invoke(LinearInput.Mlp, h);
        var hidden = nn.functional.silu(nn.functional.linear(h, this[LinearKind.Gate])) * nn.functional.linear(h, this[LinearKind.Up]);
        observe?.Invoke(LinearInput.MlpHidden, hidden);
        x = x + nn.functional.linear(hidden, this[LinearKind.Down]);
        return x.MoveToOuterDisposeScope();
    }

    public void Dispose()
    {
        AttentionNorm.Dispose();
        FfnNorm.Dispose();
        foreach (var w in _linears) w.Dispose();
    }
}
