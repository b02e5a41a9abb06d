using Pare.Engine.Kernels;

namespace Pare.Engine.Weights;

/// <summary>Uncompressed f32 weights, rows contiguous.</summary>
public sealed class DenseF32Matrix : IWeightMatrix
{
    private readonly float[] _w;

    public DenseF32Matrix(float[] weights, int rows, int cols)
    {
        if (weights.Length != (long)rows * cols) throw new ArgumentException($"{weights.Length} values for a {rows}×{cols} matrix");
        _w = weights;
        Rows = rows;
        Cols = cols;
    }

    public int Rows { get; }
    public int Cols { get; }
    public string Format => "f32";
    public long StorageBytes => (long)_w.Length * 4;

    public void MatVec(ReadOnlySpan<float> x, Span<float> y, int rowStart, int rowEnd)
    {
        var w = _w.AsSpan();
        for (int r = rowStart; r < rowEnd; r++)
            y[r] = Simd.Dot(w.Slice(r * Cols, Cols), x);
    }

    public void MatMul(ReadOnlySpan<float> x, Span<float> y, int n, int rowStart, int rowEnd)
    {
        var w = _w.AsSpan();
        for (int r = rowStart; r < rowEnd; r++)
        {
            var row = w.Slice(r * Cols, Cols);
            for (int t = 0; t < n; t++)
                y[t * Rows + r] = Simd.Dot(row, x.Slice(t * Cols, Cols));
        }
    }

    public float[] ToDense() => (float[])_w.Clone();
}
