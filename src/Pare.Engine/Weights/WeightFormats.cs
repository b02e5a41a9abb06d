using Pare.Core.Sparsity;
using Pare.Core.Tensors;

namespace Pare.Engine.Weights;

/// <summary>
/// Names of the Engine's weight formats and conversion of stored tensors into them. q8_0/q4_0 tensors become
/// <see cref="Q8_0Matrix"/>/<see cref="Q4_0Matrix"/> by copying their blocks; everything else is decoded to f32
/// and re-encoded. The sparse formats keep the zeros they are given (prune first, see <see cref="MagnitudePruning"/>).
/// </summary>
public static class WeightFormats
{
    public const string F32 = "f32";
    public const string F16 = "f16";
    public const string BF16 = "bf16";
    public const string Q8_0 = "q8_0";
    public const string Q4_0 = "q4_0";
    public const string Sparse24Int8 = "2:4-int8";
    public const string SparseInt8 = "sparse-int8";

    /// <summary>Names accepted by --weights (int8 = q8_0, int4 = q4_0).</summary>
    public static readonly string[] All = [F32, F16, BF16, "int8", "int4", Sparse24Int8, SparseInt8];

    /// <summary>The canonical name for a --weights value.</summary>
    public static string Canonical(string format) => format.ToLowerInvariant() switch
    {
        "f32" => F32,
        "f16" => F16,
        "bf16" => BF16,
        "int8" or "q8_0" => Q8_0,
        "int4" or "q4_0" => Q4_0,
        "2:4-int8" or "2:4" => Sparse24Int8,
        "sparse-int8" or "sparse" => SparseInt8,
        _ => throw new ArgumentException($"unknown weight format '{format}' (expected one of {string.Join(", ", All)})"),
    };

    public static bool IsSparse(string format) => Canonical(format) is Sparse24Int8 or SparseInt8;

    /// <summary>The matrix of a stored [out, in] tensor in <paramref name="format"/>.</summary>
    public static IWeightMatrix Convert(TensorData tensor, string format)
    {
        if (tensor.Shape.Length != 2) throw new ArgumentException($"tensor {tensor.Name} is not a matrix: {TensorData.FormatShape(tensor.Shape)}");
        int rows = tensor.Rows, cols = tensor.Columns;
        string f = Canonical(format);
        switch (f)
        {
            case Q8_0 when tensor.Type == DType.Q8_0: return Q8_0Matrix.FromBlocks(tensor.Data.Span, rows, cols);
            case Q4_0 when tensor.Type == DType.Q4_0: return Q4_0Matrix.FromBlocks(tensor.Data.Span, rows, cols);
            case F16 when tensor.Type == DType.F16: return new HalfMatrix(tensor.Data.Span, rows, cols, bf16: false);
            case BF16 when tensor.Type == DType.BF16: return new HalfMatrix(tensor.Data.Span, rows, cols, bf16: true);
        }
        var w = tensor.ToFloat32();
        return f switch
        {
            F32 => new DenseF32Matrix(w, rows, cols),
            F16 => HalfMatrix.FromFloat(w, rows, cols, bf16: false),
            BF16 => HalfMatrix.FromFloat(w, rows, cols, bf16: true),
            Q8_0 => Q8_0Matrix.Quantize(w, rows, cols),
            Q4_0 => Q4_0Matrix.Quantize(w, rows, cols),
            Sparse24Int8 => Sparse24Int8Matrix.FromDense(w, rows, cols),
            _ => SparseInt8Matrix.FromDense(w, rows, cols),
        };
    }

    /// <summary>The tensor as it would be stored for <paramref name="format"/> in a file (GGUF keeps f16, bf16, q8_0, q4_0).</summary>
    public static TensorData Encode(TensorData tensor, string format)
    {
        string f = Canonical(format);
        if (f is Sparse24Int8 or SparseInt8)
            throw new ArgumentException($"{f} has no file encoding; store the pruned dense weights and pass --weights {f} when loading");
        var type = f switch { F16 => DType.F16, BF16 => DType.BF16, Q8_0 => DType.Q8_0, Q4_0 => DType.Q4_0, _ => DType.F32 };
        if (tensor.Type == type) return tensor;
        var w = tensor.ToFloat32();
        byte[] bytes = type switch
        {
            DType.Q8_0 => GgmlQuants.QuantizeQ8_0(w),
            DType.Q4_0 => GgmlQuants.QuantizeQ4_0(w),
            DType.F16 => System.Runtime.InteropServices.MemoryMarshal.AsBytes(w.Select(GgmlQuants.FloatToHalfBits).ToArray().AsSpan()).ToArray(),
            DType.BF16 => System.Runtime.InteropServices.MemoryMarshal.AsBytes(w.Select(TensorCodec.FloatToBFloat16).ToArray().AsSpan()).ToArray(),
            _ => System.Runtime.InteropServices.MemoryMarshal.AsBytes(w.AsSpan()).ToArray(),
        };
        return new TensorData(tensor.Name, tensor.Shape, type, bytes);
    }
}
