using Pare.Core.Formats;
using Pare.Engine;
using Pare.Engine.Speculative;

namespace Pare.Cli;

/// <summary>
/// Builds a drafter from a short spec: "lookup", "layers=N" (early exit), "int8"/"int4" (round-to-nearest copy),
/// "N:M" (magnitude-pruned copy) or "model:PATH" (a separate draft model with the target's vocabulary).
/// </summary>
public static class DrafterSpec
{
    public static IDrafter Create(string spec, Transformer target, int threads, float stopBelowConfidence)
    {
        var w = target.Weights;
        spec = spec.Trim();
        if (spec == "lookup") return new PromptLookupDrafter();
        if (spec.StartsWith("model:", StringComparison.Ordinal))
        {
            var path = spec["model:".Length..];
            var draft = new Transformer(LlamaWeights.FromCheckpoint(ModelLoader.Load(path)), threads);
            return TransformerDrafter.For(target, draft, "model:" + Path.GetFileName(path.TrimEnd('/')), stopBelowConfidence);
        }
        LlamaWeights self;
        if (spec.StartsWith("layers=", StringComparison.Ordinal) && int.TryParse(spec["layers=".Length..], out int layers))
            self = SelfDraft.EarlyExit(w, layers);
        else if (spec is "int8" or "int4")
            self = SelfDraft.RoundToNearest(w, spec == "int8" ? 8 : 4);
        else if (spec.Split(':') is [var n, var m] && int.TryParse(n, out int keep) && int.TryParse(m, out int group))
            self = SelfDraft.MagnitudeNm(w, keep, group);
        else
            throw new ArgumentException($"unknown drafter '{spec}': use lookup, layers=N, int8, int4, N:M (e.g. 2:4) or model:PATH");
        return new TransformerDrafter(new Transformer(self, threads), spec, stopBelowConfidence);
    }
}
