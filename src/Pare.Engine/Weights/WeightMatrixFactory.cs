using Pare.Core.Tensors;

namespace Pare.Engine.Weights;

/// <summary>Builds the Engine's weight matrices from stored tensors.</summary>
public static class WeightMatrixFactory
{
    /// <summary>
    /// A matrix in the format the tensor is stored in: f32, f16 and bf16 run as such, q8_0/q4_0 blocks are used by
    /// the int8/int4 kernels without requantising.
    /// </summary>
    public static IWeightMatrix FromTensor(TensorData tensor) => WeightFormats.Convert(tensor, tensor.Type switch
    {
        DType.F16 => WeightFormats.F16,
        DType.BF16 => WeightFormats.BF16,
        DType.Q8_0 => WeightFormats.Q8_0,
        DType.Q4_0 => WeightFormats.Q4_0,
        _ => WeightFormats.F32,
    });

    /// <summary>A converter for LlamaWeights.FromCheckpoint that puts every matrix in <paramref name="format"/>.</summary>
    public static Func<TensorData, IWeightMatrix> To(string format)
    {
        string f = WeightFormats.Canonical(format);
        return t => WeightFormats.Convert(t, f);
    }
}
