namespace Pare.Engine.Weights;

/// <summary>
/// A linear layer's weight W [Rows = out, Cols = in] in some storage format. Kernels compute a range of output
/// rows so callers can split work across threads; every format implements both the decode GEMV and the batched
/// product used by prefill and speculative verification.
/// </summary>
public interface IWeightMatrix
{
    int Rows { get; }
    int Cols { get; }

    /// <summary>Short format name ("f32", "q8_0", "2:4-int8", ...).</summary>
    string Format { get; }

    /// <summary>Bytes the kernel streams per full product (what decode speed is bound by).</summary>
    long StorageBytes { get; }

    /// <summary>y[r] = W[r,:]·x for r in [rowStart, rowEnd). y is indexed by absolute row.</summary>
    void MatVec(ReadOnlySpan<float> x, Span<float> y, int rowStart, int rowEnd);

    /// <summary>Y[t, r] = W[r,:]·X[t,:] for n tokens; X is [n, Cols], Y is [n, Rows], rows in [rowStart, rowEnd).</summary>
    void MatMul(ReadOnlySpan<float> x, Span<float> y, int n, int rowStart, int rowEnd);

    /// <summary>The weights decoded to f32, row-major (for checks and conversions).</summary>
    float[] ToDense();
}
