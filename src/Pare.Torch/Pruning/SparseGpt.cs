using TorchSharp;
using static TorchSharp.torch;

namespace Pare.Torch.Pruning;

/// <summary>
/// SparseGPT (Frantar &amp; Alistarh 2023), following IST-DASLab/sparsegpt's fasterprune: H = 2XXᵀ/n with dead inputs
/// (H_jj = 0) set to 1 and their weights zeroed, damping 0.01·mean(diag H), Hinv = upper Cholesky factor of H⁻¹.
/// Columns go in blocks of 128: the unstructured mask is chosen once per block by w²/[Hinv]_jj² over the whole
/// rows×block slice, the N:M mask every M columns per row; each column's error (w − q)/[Hinv]_jj is propagated to
/// the block's remaining columns, and the block's accumulated errors to later columns (lazy batch update).
/// Optional joint quantization rounds kept weights to a per-channel grid fixed before pruning.
/// </summary>
public sealed class SparseGpt : IPruner
{
    public SparseGpt(int blockSize = 128, double dampening = 0.01, int? quantizeBits = null)
    {
        if (blockSize < 1) throw new ArgumentException("block size must be positive");
        BlockSize = blockSize;
        Dampening = dampening;
        QuantizeBits = quantizeBits;
    }

    public string Name => "sparsegpt";
    public bool NeedsGradients => false;
    public int BlockSize { get; }
    public double Dampening { get; }
    public int? QuantizeBits { get; }

    public Tensor Prune(Tensor weight, LinearStatistics statistics, SparsityPattern pattern, Tensor? gradientNorm)
    {
        using var h = statistics.Hessian();
        return Prune(weight, h, pattern);
    }

    /// <summary>Prunes <paramref name="weight"/> [rows, cols] given the Hessian <paramref name="hessian"/> [cols, cols] (not modified).</summary>
    public Tensor Prune(Tensor weight, Tensor hessian, SparsityPattern pattern)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var w = weight.detach().to_type(ScalarType.Float32).clone();
        long cols = w.shape[1];
        using var grid = QuantizeBits is int bits ? new QuantizationGrid(w, bits) : null;

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
                q1.select(1, i).copy_(q);
                var err = (col - q) / d;
                err1.select(1, i).copy_(err);
                w1.narrow(1, i, count - i).sub_(err.unsqueeze(1).matmul(hinv1.narrow(0, i, 1).narrow(1, i, count - i)));
            }

            w.narrow(1, i1, count).copy_(q1);
            if (i2 < cols)
                w.narrow(1, i2, cols - i2).sub_(err1.matmul(hinv.narrow(0, i1, count).narrow(1, i2, cols - i2)));
        }
        return w.MoveToOuterDisposeScope();
    }
}
