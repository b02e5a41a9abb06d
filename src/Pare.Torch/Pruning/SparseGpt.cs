using Pare.Torch.Quantization;
using TorchSharp;
using static TorchSharp.torch;

namespace Pare.Torch.Pruning;

/// <summary>
/// SparseGPT (Frantar &amp; Alistarh 2023), following IST-DASLab/sparsegpt's fasterprune: H = 2XXᵀ/n with dead inputs
/// (H_jj = 0) set to 1 and their weights zeroed, damping 0.01·mean(diag H), Hinv = upper Cholesky factor of H⁻¹.
/// Columns go in blocks of 128: the unstructured mask is chosen once per block by w²/[Hinv]_jj² over the whole
/// rows×block slice, the N:M mask every M columns per row; each column's error (w − q)/[Hinv]_jj is propagated to
/// the block's remaining columns, and the block's accumulated errors to later columns (lazy batch update).
/// Optional joint quantization rounds kept weights to a per-channel grid fixed before pruning
/// (<c>quantizeBits</c>, the reference's min-max grid, stored as f32), or — SparseGPT's joint mode with GPTQ's
/// grids — to a <see cref="QuantizationSpec"/> grid whose codes are kept for packed storage: a group's scale is
/// fitted when the group starts, from the block's current weights with the weights already masked in it set to zero
/// (for N:M only the first M columns' mask is known then), so pruning and rounding errors are fed forward together.
/// </summary>
public sealed class SparseGpt : IPruner
{
    public SparseGpt(int blockSize = 128, double dampening = 0.01, int? quantizeBits = null, QuantizationSpec? grid = null)
    {
        if (blockSize < 1) throw new ArgumentException("block size must be positive");
        if (quantizeBits != null && grid != null) throw new ArgumentException("give either quantizeBits or a grid, not both");
        if (grid is { ActOrder: true }) throw new ArgumentException("SparseGPT's joint quantization goes in column order (no act-order)");
        Grid = grid;
        BlockSize = blockSize;
        Dampening = dampening;
        QuantizeBits = quantizeBits;
    }

    public string Name => "sparsegpt";
    public bool NeedsGradients => false;
    public int BlockSize { get; }
    public double Dampening { get; }
    public int? QuantizeBits { get; }
    /// <summary>The packed grid of joint quantization (null: prune only, or the f32 min-max grid).</summary>
    public QuantizationSpec? Grid { get; }

    public Tensor Prune(Tensor weight, LinearStatistics statistics, SparsityPattern pattern, Tensor? gradientNorm)
        => Compress(weight, statistics, pattern, gradientNorm).Weight;

    public PrunedWeight Compress(Tensor weight, LinearStatistics statistics, SparsityPattern pattern, Tensor? gradientNorm)
    {
        using var h = statistics.Hessian();
        return Compress(weight, h, pattern);
    }

    /// <summary>Prunes <paramref name="weight"/> [rows, cols] given the Hessian <paramref name="hessian"/> [cols, cols] (not modified).</summary>
    public Tensor Prune(Tensor weight, Tensor hessian, SparsityPattern pattern)
    {
        var result = Compress(weight, hessian, pattern);
        return result.Weight;
    }

    /// <summary>Prunes (and with <see cref="Grid"/> quantises) <paramref name="weight"/>; the codes come back when quantised.</summary>
    public PrunedWeight Compress(Tensor weight, Tensor hessian, SparsityPattern pattern)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var w = weight.detach().to_type(ScalarType.Float32).clone();
        long cols = w.shape[1];
        using var grid = QuantizeBits is int bits ? new QuantizationGrid(w, bits) : null;
        using var packed = Grid is { } spec ? new GroupGrid(w.shape[0], cols, spec) : null;

        var h = hessian.to_type(ScalarType.Float32).clone();
        var diag = h.diagonal();
        var dead = diag.eq(0);
        diag.masked_fill_(dead, 1f);
        w.masked_fill_(dead.unsqueeze(0), 0f);
        var damp = Dampening * diag.mean().item<float>();
        diag.add_(damp);
        var lower = linalg.cholesky(h);
        var hinvFull = cholesky_inverse(lower);
        var hinv = linalg.cholesky(hinvFull).t().contiguous(); // upper factor U with H⁻¹ = UᵀU

        // N:M groups must not straddle blocks: use a block length that is a multiple of M (128 already is for 2:4, 4:8).
        long blockSize = pattern.IsNm ? Math.Max(pattern.M, BlockSize / pattern.M * pattern.M) : BlockSize;
        long g = packed?.GroupSize ?? 1;
        bool dynamic = packed != null && g <= blockSize && blockSize % g == 0;
        if (packed != null && !dynamic) packed.FitAll(w); // a group longer than a block: fitted from the dense weight (GPTQ's static groups)
        for (long i1 = 0; i1 < cols; i1 += blockSize)
        {
            using var blockScope = NewDisposeScope();
            long i2 = Math.Min(i1 + blockSize, cols), count = i2 - i1;
            var w1 = w.narrow(1, i1, count).clone();
            var q1 = zeros_like(w1);
            var err1 = zeros_like(w1);
            var hinv1 = hinv.narrow(0, i1, count).narrow(1, i1, count);
            var d1 = hinv1.diagonal();

            Tensor mask1;
            if (!pattern.IsNm)
            {
                // Quota over the whole rows×block slice, from the block's weights after earlier blocks' updates.
                var score = w1.square() / d1.square().unsqueeze(0);
                mask1 = PruneMask.PerMatrix(score, pattern);
            }
            else
            {
                mask1 = zeros_like(w1, dtype: ScalarType.Bool);
            }

            for (long i = 0; i < count; i++)
            {
                using var colScope = NewDisposeScope();
                if (pattern.IsNm && i % pattern.M == 0)
                {
                    long width = Math.Min(pattern.M, count - i);
                    // Only the matrix's trailing group can be shorter than M; it keeps at most N.
                    int prune = (int)Math.Max(0, width - pattern.N);
                    if (prune > 0)
                    {
                        var score = w1.narrow(1, i, width).square() / d1.narrow(0, i, width).square().unsqueeze(0);
                        var idx = score.topk(prune, dim: 1, largest: false).indexes + i;
                        mask1.scatter_(1, idx, ones_like(idx, dtype: ScalarType.Bool));
                    }
                }
                var col = w1.select(1, i);
                var d = d1[i];
                var q = col.masked_fill(mask1.select(1, i), 0f);
                if (grid != null) q = grid.QuantizeColumn(q);
                if (packed != null)
                {
                    long column = i1 + i;
                    if (dynamic && column % g == 0)
                    {
                        long len = Math.Min(g, count - i);
                        packed.Fit(column / g, w1.narrow(1, i, len).masked_fill(mask1.narrow(1, i, len), 0f));
                    }
                    q = packed.Quantize(q, column); // a masked weight is 0, which rounds to code 0
                }
                q1.select(1, i).copy_(q);
                var err = (col - q) / d;
                err1.select(1, i).copy_(err);
                w1.narrow(1, i, count - i).sub_(err.unsqueeze(1).matmul(hinv1.narrow(0, i, 1).narrow(1, i, count - i)));
            }

            w.narrow(1, i1, count).copy_(q1);
            if (i2 < cols)
                w.narrow(1, i2, cols - i2).sub_(err1.matmul(hinv.narrow(0, i1, count).narrow(1, i2, cols - i2)));
        }
        return new PrunedWeight(w.MoveToOuterDisposeScope(), packed?.ToMatrix());
    }
}
