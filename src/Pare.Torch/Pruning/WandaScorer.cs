using static TorchSharp.torch;

namespace Pare.Torch.Pruning;

/// <summary>Wanda's importance S_ij = |W_ij| · ‖X_j‖₂ (‖X_j‖₂ = sqrt of the scaler_row average of x_j²).</summary>
public static class WandaScorer
{
    public static Tensor Score(Tensor weight, LinearStatistics statistics)
    {
        using var scope = NewDisposeScope();
        return (weight.abs() * statistics.WandaScale().sqrt().unsqueeze(0)).MoveToOuterDisposeScope();
    }
}
