namespace Pare.Torch.Pruning;

/// <summary>How to prune: method, target pattern, optional OWL allocation, modules, calibration batch size.</summary>
public sealed record PruneOptions
{
    public required IPruner Pruner { get; init; }
    public required SparsityPattern Pattern { get; init; }
    /// <summary>OWL layer-wise allocation instead of the same pattern everywhere.</summary>
    public bool Owl { get; init; }
    public double OwlM { get; init; } = OwlAllocation.DefaultM;
    public double OwlLambda { get; init; } = OwlAllocation.DefaultLambda;
    /// <summary>Aggressive PTC's layer-wise allocation (estimated OBS loss, log-level clusters) instead of the same pattern everywhere.</summary>
    public bool Aptc { get; init; }
    public double AptcLambda { get; init; } = AptcAllocation.DefaultLambda;
    public int AptcLevels { get; init; } = AptcAllocation.DefaultLevels;

    /// <summary>"uniform", "owl" or "aptc".</summary>
    public string AllocationName => Aptc ? "aptc" : Owl ? "owl" : "uniform";
    /// <summary>Linears to prune in every decoder layer (default all seven; embeddings and the classifier never).</summary>
    public IReadOnlyList<LinearKind> Modules { get; init; } = LinearKinds.All;
    /// <summary>Calibration sequences per forward batch (bounds activation memory).</summary>
    public int BatchSize { get; init; } = 8;
    /// <summary>Work done on each layer after its one-shot pruning, inside the pipeline (SDS); null = none.</summary>
    public ILayerHook? LayerHook { get; init; }
    /// <summary>GBLM's gradient scale α.</summary>
    public double GradientScale { get; init; } = GradientNorms.DefaultScale;
}
