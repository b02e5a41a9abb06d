using Pare.Core.Formats;
using Pare.Engine;
using Pare.Engine.Speculative;

namespace Pare.Cli;

/// <summary>
/// Builds a drafter from a short spec: "lookup", "layers=N" (early exit), "int8"/"int4"/"f16" (quantized copy),
/// "2:4" (magnitude-pruned 2:4 copy) or "model:PATH" (a separate draft model with the target's vocabulary).
/// Drafts run on the target's worker pool.
/// </summary>
public static class DrafterSpec
{
    public static IDrafter Create(string spec, Transformer target, float stopBelowConfidence)
    {
        var w = target.Weights;
        spec = spec.Trim();
        if (spec == "lookup") return new PromptLookupDrafter();
        if (spec.StartsWith("model:", StringComparison.Ordinal))
        {
            var path = spec["model:".Length..];
            var draft = new Transformer(LlamaWeights.FromCheckpoint(ModelLoader.Load(path)), target.Workers);
            return TransformerDrafter.For(target, draft, "model:" + Path.GetFileName(path.TrimEnd('/')), stopBelowConfidence);
        }
        LlamaWeights self;
        if (spec.StartsWith("layers=", StringComparison.Ordinal) && int.TryParse(spec["layers=".Length..], out int layers))
            self = SelfDraft.EarlyExit(w, layers);
        else if (spec is "int8" or "int4" or "f16" or "bf16")
            self = SelfDraft.Quantized(w, spec);
        else if (spec == "2:4")
            self = SelfDraft.Pruned24(w);
        else
            throw new ArgumentException($"unknown drafter '{spec}': use lookup, layers=N, int8, int4, f16, 2:4 or model:PATH");
        return new TransformerDrafter(new Transformer(self, target.Workers), spec, stopBelowConfidence);
    }
}
