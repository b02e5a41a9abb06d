using static TorchSharp.torch;

namespace Pare.Torch.Pruning;

/// <summary>
/// Work the sequential pipeline runs on each decoder layer right after the layer's one-shot pruning and before its
/// outputs feed the next layer, so a layer-wise method (SDS) holds one layer and the calibration activations, as the
/// one-shot pruners do, instead of running a pipeline of its own.
/// </summary>
public interface ILayerHook
{
    /// <summary>Name for reports (sds).</summary>
    string Name { get; }

    /// <summary>True when the hook needs the dense model's outputs of this layer (<see cref="LayerStep.DenseTargets"/>).</summary>
    bool NeedsDenseTargets { get; }

    LayerHookResult AfterPrune(LayerStep step);
}

/// <summary>
/// One layer as the hook sees it: the layer (its linears already pruned once; the hook may change them), the pruned
/// stream's inputs [N, T, D], the dense model's outputs of this layer when asked for, and <see cref="Prune"/>, which
/// prunes the layer's current weights again with the pipeline's method and pattern (statistics collected afresh).
/// </summary>
public sealed record LayerStep(int Layer, TorchDecoderLayer Module, RotaryTables Rope, Tensor Inputs, Tensor? DenseTargets, int BatchSize, SparsityPattern Pattern,
    IReadOnlyList<LinearKind> Modules, Func<IReadOnlyList<LinearPruneReport>> Prune);

/// <summary>The hook's report for the layer, and the linears' reports when it pruned again (replacing the first ones).</summary>
public sealed record LayerHookResult(object? Report, IReadOnlyList<LinearPruneReport>? Linears);
