using System.Text.RegularExpressions;

namespace Pare.Core.Formats.Gguf;

/// <summary>llama.cpp's LLaMA tensor names (token_embd, blk.N.attn_q, ...) and Pare's canonical ones.</summary>
public static partial class GgufTensorNames
{
    public const string Embedding = "token_embd.weight";
    public const string FinalNorm = "output_norm.weight";
    public const string Classifier = "output.weight";

    private static readonly (string Gguf, Func<int, string> Canonical)[] LayerNames =
    [
        ("attn_norm", LlamaTensorNames.AttentionNorm),
        ("attn_q", LlamaTensorNames.Query),
        ("attn_k", LlamaTensorNames.Key),
        ("attn_v", LlamaTensorNames.Value),
        ("attn_output", LlamaTensorNames.Output),
        ("ffn_norm", LlamaTensorNames.FfnNorm),
        ("ffn_gate", LlamaTensorNames.Gate),
        ("ffn_down", LlamaTensorNames.Down),
        ("ffn_up", LlamaTensorNames.Up),
    ];

    /// <summary>The canonical name of a GGUF tensor, or null when it is not part of a LLaMA model.</summary>
    public static string? ToCanonical(string ggufName)
    {
        switch (ggufName)
        {
            case Embedding: return LlamaTensorNames.Embedding;
            case FinalNorm: return LlamaTensorNames.FinalNorm;
            case Classifier: return LlamaTensorNames.Classifier;
        }
        var m = LayerTensor().Match(ggufName);
        if (!m.Success || !int.TryParse(m.Groups[1].ValueSpan, out int layer)) return null;
        foreach (var (gguf, canonical) in LayerNames)
            if (m.Groups[2].Value == gguf) return canonical(layer);
        return null;
    }

    /// <summary>The GGUF name of a canonical tensor name (every name <see cref="LlamaTensorNames.Expected"/> yields).</summary>
    public static string FromCanonical(string canonical, int layers)
    {
        switch (canonical)
        {
            case LlamaTensorNames.Embedding: return Embedding;
            case LlamaTensorNames.FinalNorm: return FinalNorm;
            case LlamaTensorNames.Classifier: return Classifier;
        }
        for (int l = 0; l < layers; l++)
            foreach (var (gguf, name) in LayerNames)
                if (name(l) == canonical) return $"blk.{l}.{gguf}.weight";
        throw new ArgumentException($"tensor '{canonical}' has no GGUF name", nameof(canonical));
    }

    [GeneratedRegex(@"^blk\.(\d+)\.([a-z_]+)\.weight$")]
    private static partial Regex LayerTensor();
}
