using TorchSharp;
using static TorchSharp.torch;

namespace Pare.Torch.Pruning;

/// <summary>
/// Calibration statistics of one linear input, accumulated in fp32 over every calibration token: the Gram matrix
/// Σ x xᵀ [in, in] (SparseGPT's Hessian H = 2·Σ x xᵀ / samples, and the exact reconstruction error of any pruned
/// weight) and the column sums Σ x_j² (Wanda's ‖X_j‖₂²). Both are divided by the sample count the way the
/// reference code's running averages end up, but summed first (fewer roundings).
/// </summary>
public sealed class LinearStatistics : IDisposable
{
    public LinearStatistics(long columns, bool gram = true)
    {
        Columns = columns;
        SquaredNorms = zeros(columns);
        Gram = gram ? zeros(columns, columns) : null;
    }

    public long Columns { get; }
    /// <summary>Σ over tokens of x_j², [in].</summary>
    public Tensor SquaredNorms { get; }
    /// <summary>Σ over tokens of x xᵀ, [in, in] (null when not collected).</summary>
    public Tensor? Gram { get; }
    /// <summary>Calibration sequences seen (the reference code's nsamples).</summary>
    public int Samples { get; private set; }
    public long Tokens { get; private set; }

    /// <summary>Adds a batch of inputs [B, T, in].</summary>
    public void Add(Tensor input)
    {
        using var scope = NewDisposeScope();
        var x = input.detach().reshape(-1, Columns).to_type(ScalarType.Float32);
        SquaredNorms.add_(x.square().sum(new long[] { 0 })); // sum(0) would bind to sum(ScalarType) and add the grand total
        Gram?.addmm_(x.t(), x);
        Samples += (int)input.shape[0];
        Tokens += x.shape[0];
    }

    /// <summary>Wanda's scaler_row: Σ x_j² / samples.</summary>
    public Tensor WandaScale() => SquaredNorms / Math.Max(Samples, 1);

    /// <summary>SparseGPT's H = 2 Σ x xᵀ / samples (a new tensor).</summary>
    public Tensor Hessian() => (Gram ?? throw new InvalidOperationException("Gram matrix was not collected")) * (2.0 / Math.Max(Samples, 1));

    /// <summary>‖W X − Ŵ X‖²_F over all calibration tokens = Σ (ΔW G) ∘ ΔW, computed in double precision.</summary>
    public double ReconstructionError(Tensor dense, Tensor pruned)
    {
        using var scope = NewDisposeScope();
        var g = (Gram ?? throw new InvalidOperationException("Gram matrix was not collected")).to_type(ScalarType.Float64);
        var d = (dense - pruned).to_type(ScalarType.Float64);
        return (matmul(d, g) * d).sum().item<double>();
    }

    /// <summary>‖W X‖²_F over all calibration tokens (to make the error relative).</summary>
    public double OutputEnergy(Tensor dense)
    {
        using var scope = NewDisposeScope();
        var g = (Gram ?? throw new InvalidOperationException("Gram matrix was not collected")).to_type(ScalarType.Float64);
        var w = dense.to_type(ScalarType.Float64);
        return (matmul(w, g) * w).sum().item<double>();
    }

    public void Dispose()
    {
        SquaredNorms.Dispose();
        Gram?.Dispose();
    }
}
