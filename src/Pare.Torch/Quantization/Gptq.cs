using Pare.Torch.Pruning;
using TorchSharp;
using static TorchSharp.torch;

namespace Pare.Torch.Quantization;

/// <summary>
/// GPTQ (Frantar et al. 2023), following IST-DASLab/gptq's fasterquant: H = 2XXᵀ/n from the same calibration
/// statistics as SparseGPT, dead inputs (H_jj = 0) set to 1 with their weights zeroed, damping 0.01·mean(diag H),
/// Hinv = upper Cholesky factor of H⁻¹; columns in blocks of 128, each rounded to its grid, its error
/// (w − q)/[Hinv]_jj propagated to the block's remaining columns and the block's errors to later columns at the end
/// of the block (lazy batch update). Act-order takes columns by decreasing diag H.
/// Grid: <see cref="Pare.Core.Tensors.SymmetricGrid"/> (GGML's q8_0/q4_0 rules, so 8/4 bits in groups of 32 are
/// stored as those blocks byte for byte). Where Pare differs from the reference, and why:
/// <list type="bullet">
/// <item>A group's scale is fitted when the group starts from the block's current (already updated) weights, where
/// the reference reads the outer matrix, which lacks the updates of the block's earlier columns; the scale then fits
/// the values actually rounded.</item>
/// <item>With act-order, or a group longer than a block (one group per row), groups are fitted from the dense weight
/// before the loop in column order (the reference's static_groups), so the stored blocks stay contiguous runs of
/// columns that GGUF and compressed-tensors can hold.</item>
/// <item>Weights that are exactly zero on input stay zero (their error still propagates): quantising a pruned
/// model keeps its mask.</item>
/// </list>
/// </summary>
public sealed class Gptq : IPruner
{
    public Gptq(QuantizationSpec spec, int blockSize = 128, double dampening = 0.01)
    {
        if (blockSize < 1) throw new ArgumentException("block size must be positive");
        Spec = spec;
        BlockSize = blockSize;
        Dampening = dampening;
    }

    public string Name => "gptq";
    public bool NeedsGradients => false;
    public QuantizationSpec Spec { get; }
    public int BlockSize { get; }
    public double Dampening { get; }

    public Tensor Prune(Tensor weight, LinearStatistics statistics, SparsityPattern pattern, Tensor? gradientNorm)
        => Compress(weight, statistics, pattern, gradientNorm).Weight;

    public PrunedWeight Compress(Tensor weight, LinearStatistics statistics, SparsityPattern pattern, Tensor? gradientNorm)
    {
        if (pattern.Ratio > 0) throw new ArgumentException("GPTQ quantises only; prune jointly with SparseGPT (sparsegpt with a quantization spec)");
        using var h = statistics.Hessian();
        return Quantize(weight, h);
    }

    /// <summary>Quantises <paramref name="weight"/> [rows, cols] given the Hessian <paramref name="hessian"/> [cols, cols] (neither modified).</summary>
    public PrunedWeight Quantize(Tensor weight, Tensor hessian)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var w = weight.detach().to_type(ScalarType.Float32).clone();
        long rows = w.shape[0], cols = w.shape[1];
        var keepZero = w.eq(0);

        var h = hessian.to_type(ScalarType.Float32).clone();
        var diag = h.diagonal();
        var dead = diag.eq(0);
        diag.masked_fill_(dead, 1f);
        w.masked_fill_(dead.unsqueeze(0), 0f);

        using var grid = new GroupGrid(rows, cols, Spec);
        long g = grid.GroupSize;
        bool dynamic = !Spec.ActOrder && g <= BlockSize && BlockSize % g == 0;
        if (!dynamic) grid.FitAll(w);

        long[]? order = null;
        Tensor? perm = null;
        if (Spec.ActOrder)
        {
            perm = diag.sort(descending: true, stable: true).Indices;
            order = perm.data<long>().ToArray();
            w = w.index_select(1, perm);
            h = h.index_select(0, perm).index_select(1, perm);
            keepZero = keepZero.index_select(1, perm);
            diag = h.diagonal();
        }

        diag.add_(Dampening * diag.mean().item<float>());
        var lower = linalg.cholesky(h);
        var hinv = linalg.cholesky(cholesky_inverse(lower)).t().contiguous(); // upper factor U with H⁻¹ = UᵀU

        var q = zeros_like(w);
        for (long i1 = 0; i1 < cols; i1 += BlockSize)
        {
            using var blockScope = NewDisposeScope();
            long i2 = Math.Min(i1 + BlockSize, cols), count = i2 - i1;
            var w1 = w.narrow(1, i1, count).clone();
            var q1 = zeros_like(w1);
            var err1 = zeros_like(w1);
            var hinv1 = hinv.narrow(0, i1, count).narrow(1, i1, count);
            var d1 = hinv1.diagonal();
            var z1 = keepZero.narrow(1, i1, count);
            for (long i = 0; i < count; i++)
            {
                using var colScope = NewDisposeScope();
                long column = order?[i1 + i] ?? i1 + i;
                if (dynamic && column % g == 0)
                {
                    long len = Math.Min(g, count - i);
                    grid.Fit(column / g, w1.narrow(1, i, len).masked_fill(z1.narrow(1, i, len), 0f));
                }
                var col = w1.select(1, i);
                var zero = z1.select(1, i);
                var qc = grid.Quantize(col, column).masked_fill(zero, 0f);
                grid.ZeroCodes(column, zero);
                q1.select(1, i).copy_(qc);
                var err = (col - qc) / d1[i];
                err1.select(1, i).copy_(err);
                w1.narrow(1, i, count - i).sub_(err.unsqueeze(1).matmul(hinv1.narrow(0, i, 1).narrow(1, i, count - i)));
            }
            q.narrow(1, i1, count).copy_(q1);
            if (i2 < cols)
                w.narrow(1, i2, cols - i2).sub_(err1.matmul(hinv.narrow(0, i1, count).narrow(1, i2, cols - i2)));
        }
        if (perm is not null) q = q.index_select(1, perm.argsort());
        return new PrunedWeight(q.MoveToOuterDisposeScope(), grid.ToMatrix());
    }
}
