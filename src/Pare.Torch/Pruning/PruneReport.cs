namespace Pare.Torch.Pruning;

/// <summary>What pruning one linear did: its achieved sparsity and the calibration reconstruction error.</summary>
/// <param name="Error">‖W X − Ŵ X‖²_F summed over all calibration tokens (X = the dense layer's input to this linear).</param>
/// <param name="RelativeError">Error / ‖W X‖²_F.</param>
public sealed record LinearPruneReport(string Name, string Module, long Rows, long Columns, string Pattern, double Sparsity, double Error, double RelativeError);

/// <summary>One decoder layer: the pattern it was given (OWL varies it) and its linears.</summary>
public sealed record LayerPruneReport(int Layer, string Pattern, double Sparsity, double? OutlierRatio, IReadOnlyList<LinearPruneReport> Linears)
{
    /// <summary>What a <see cref="ILayerHook"/> reported for this layer (SDS's losses), serialised as it is.</summary>
    public object? Hook { get; init; }
}

/// <summary>The whole run.</summary>
public sealed record PruneReport(string Method, string Pattern, string Allocation, int Samples, int SequenceLength, double Sparsity, double Seconds, IReadOnlyList<LayerPruneReport> Layers);
