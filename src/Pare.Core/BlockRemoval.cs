using Pare.Core.Tensors;

namespace Pare.Core;

/// <summary>A decoder sub-block: the attention or the MLP half of a layer.</summary>
public enum SubBlock
{
    Attention,
    Mlp,
}

/// <summary>
/// Removes decoder blocks or sub-blocks from a checkpoint so that the result is an ordinary LLaMA checkpoint every
/// format (and llama.cpp) loads: a layer with both halves gone is dropped and the later layers renumbered; a lone
/// removed half keeps its layer with a zero output projection (o_proj or down_proj), which adds exactly nothing to the
/// residual stream — the Engine sees the zeros and skips that half.
/// </summary>
public static class BlockRemoval
{
    public static Checkpoint Remove(Checkpoint checkpoint, IEnumerable<(int Layer, SubBlock Part)> parts)
    {
        var c = checkpoint.Config;
        var set = parts.ToHashSet();
        foreach (var (layer, _) in set)
            if (layer < 0 || layer >= c.Layers) throw new ArgumentException($"layer {layer} does not exist (the model has {c.Layers})");
        var dropped = Enumerable.Range(0, c.Layers).Where(l => set.Contains((l, SubBlock.Attention)) && set.Contains((l, SubBlock.Mlp))).ToHashSet();
        if (dropped.Count == c.Layers) throw new ArgumentException("cannot remove every layer of the model");

        var tensors = new Dictionary<string, TensorData>();
        var perLayer = Enumerable.Range(0, c.Layers).SelectMany(l => LayerTensorNames(l)).ToHashSet();
        foreach (var (name, t) in checkpoint.Tensors)
            if (!perLayer.Contains(name)) tensors[name] = t;
        int target = 0;
        for (int l = 0; l < c.Layers; l++)
        {
            if (dropped.Contains(l)) continue;
            var names = LayerTensorNames(l).ToArray();
            var renamed = LayerTensorNames(target).ToArray();
            for (int i = 0; i < names.Length; i++)
            {
                var t = checkpoint[names[i]];
                bool zero = (names[i] == LlamaTensorNames.Output(l) && set.Contains((l, SubBlock.Attention)))
                    || (names[i] == LlamaTensorNames.Down(l) && set.Contains((l, SubBlock.Mlp)));
                tensors[renamed[i]] = zero
                    ? TensorData.FromFloat32(renamed[i], new float[t.ElementCount], t.Shape)
                    : t.WithName(renamed[i]);
            }
            target++;
        }
        return checkpoint.With(tensors, c with { Layers = target });
    }

    /// <summary>Removes whole layers (both halves), renumbering the rest.</summary>
    public static Checkpoint RemoveLayers(Checkpoint checkpoint, IEnumerable<int> layers)
        => Remove(checkpoint, layers.SelectMany(l => new[] { (l, SubBlock.Attention), (l, SubBlock.Mlp) }));

    private static IEnumerable<string> LayerTensorNames(int l)
    {
        yield return LlamaTensorNames.AttentionNorm(l);
        yield return LlamaTensorNames.FfnNorm(l);
        foreach (var name in LlamaTensorNames.Linears(l)) yield return name;
    }
}
