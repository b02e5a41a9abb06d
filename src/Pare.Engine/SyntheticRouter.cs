namespace Pare.Engine;

/// <summary>
/// A stand-in router for speed measurements on models with random weights (where training routers means nothing):
/// it pays an FTP router's cost per token (a 4 → hidden → 1 MLP over the same factors) but skips a fixed share of
/// tokens per block, chosen by a low-discrepancy sequence over positions, so a run's token sparsity is what was asked.
/// Block 0 stays dense, as with trained FTP routers; the other blocks share the target so the mean over all blocks
/// meets it.
/// </summary>
public sealed class SyntheticRouter : ITokenRouter
{
    private readonly double[] _skip;
    private readonly float[] _w1, _b1, _w2;
    private readonly int _hidden;
    private readonly float _ctx;

    public SyntheticRouter(int layers, int maxSeqLen, double tokenSparsity, int hidden = 64)
    {
        if (!(tokenSparsity >= 0 && tokenSparsity < 1)) throw new ArgumentException($"token sparsity must be in [0, 1), got {tokenSparsity}");
        if (layers < 2 && tokenSparsity > 0) throw new ArgumentException("token routing needs at least two blocks (the first stays dense)");
        double perBlock = layers < 2 ? 0 : tokenSparsity * layers / (layers - 1);
        if (perBlock >= 1) throw new ArgumentException($"token sparsity {tokenSparsity} would make blocks 1..{layers - 1} skip every token");
        _skip = Enumerable.Range(0, layers).Select(l => l == 0 ? 0 : perBlock).ToArray();
        _hidden = hidden;
        _ctx = maxSeqLen;
        var rng = new Random(0);
        _w1 = Enumerable.Range(0, hidden * 4).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray();
        _b1 = Enumerable.Range(0, hidden).Select(_ => (float)rng.NextDouble()).ToArray();
        _w2 = Enumerable.Range(0, hidden).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray();
    }

    /// <summary>Per-block skip share (block 0 dense).</summary>
    public IReadOnlyList<double> Schedule => _skip;

    public void Route(int layer, ReadOnlySpan<int> positions, ReadOnlySpan<float> attention, ReadOnlySpan<float> rank, Span<bool> active)
    {
        double s = _skip[layer];
        for (int t = 0; t < positions.Length; t++)
        {
            // The router's arithmetic, so its cost is in the measurement.
            float z = 0;
            for (int h = 0; h < _hidden; h++)
            {
                float a = _b1[h] + _w1[h * 4] * (positions[t] / _ctx) + _w1[h * 4 + 1] * attention[t] + _w1[h * 4 + 2] * rank[t] + _w1[h * 4 + 3] * (float)s;
                if (a > 0) z += _w2[h] * a;
            }
            // Golden-ratio sequence: any run of positions skips close to the share s, spread evenly.
            double u = (positions[t] + 1) * 0.6180339887498949 % 1.0;
            active[t] = u >= s || float.IsNaN(z);
        }
    }
}
