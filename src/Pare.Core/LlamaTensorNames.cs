namespace Pare.Core;

/// <summary>
/// Pare's canonical tensor names: Hugging Face LLaMA names. Unlike HF files, q/k rows are stored in the interleaved
/// rotary order of llama2.c and GGUF (pairs 2i, 2i+1 rotate together); the safetensors reader and writer permute.
/// </summary>
public static class LlamaTensorNames
{
    public const string Embedding = "model.embed_tokens.weight";
    public const string FinalNorm = "model.norm.weight";
    public const string Classifier = "lm_head.weight";

    public static string AttentionNorm(int layer) => $"model.layers.{layer}.input_layernorm.weight";
    public static string Query(int layer) => $"model.layers.{layer}.self_attn.q_proj.weight";
    public static string Key(int layer) => $"model.layers.{layer}.self_attn.k_proj.weight";
    public static string Value(int layer) => $"model.layers.{layer}.self_attn.v_proj.weight";
    public static string Output(int layer) => $"model.layers.{layer}.self_attn.o_proj.weight";
    public static string FfnNorm(int layer) => $"model.layers.{layer}.post_attention_layernorm.weight";
    /// <summary>w1 in llama2.c: the gated branch, passed through SiLU.</summary>
    public static string Gate(int layer) => $"model.layers.{layer}.mlp.gate_proj.weight";
    /// <summary>w2 in llama2.c.</summary>
    public static string Down(int layer) => $"model.layers.{layer}.mlp.down_proj.weight";
    /// <summary>w3 in llama2.c.</summary>
    public static string Up(int layer) => $"model.layers.{layer}.mlp.up_proj.weight";

    /// <summary>The seven linear weights of a decoder layer, in execution order.</summary>
    public static IEnumerable<string> Linears(int layer)
    {
        yield return Query(layer);
        yield return Key(layer);
        yield return Value(layer);
        yield return Output(layer);
        yield return Gate(layer);
        yield return Up(layer);
        yield return Down(layer);
    }

    /// <summary>All tensors a model with this configuration needs, with their shapes.</summary>
    public static IEnumerable<(string Name, long[] Shape)> Expected(ModelConfig c)
    {
        yield return (Embedding, new long[] { c.VocabSize, c.Dim });
        for (int l = 0; l < c.Layers; l++)
        {
            yield return (AttentionNorm(l), new long[] { c.Dim });
            yield return (Query(l), new long[] { c.Dim, c.Dim });
            yield return (Key(l), new long[] { c.KvDim, c.Dim });
            yield return (Value(l), new long[] { c.KvDim, c.Dim });
            yield return (Output(l), new long[] { c.Dim, c.Dim });
            yield return (FfnNorm(l), new long[] { c.Dim });
            yield return (Gate(l), new long[] { c.HiddenDim, c.Dim });
            yield return (Down(l), new long[] { c.Dim, c.HiddenDim });
            yield return (Up(l), new long[] { c.HiddenDim, c.Dim });
        }
        yield return (FinalNorm, new long[] { c.Dim });
        if (!c.TiedEmbeddings)
            yield return (Classifier, new long[] { c.VocabSize, c.Dim });
    }
}
