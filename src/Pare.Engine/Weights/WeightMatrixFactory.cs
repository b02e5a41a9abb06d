using Pare.Core.Tensors;

namespace Pare.Engine.Weights;

/// <summary>Builds the Engine's weight matrices from stored tensors.</summary>
public static class WeightMatrixFactory
{
    /// <summary>A matrix in the format the tensor is stored in, where a kernel for it exists; otherwise decoded to f32.</summary>
    public static IWeightMatrix FromTensor(TensorData tensor)
    {
        if (tensor.Shape.Length != 2) throw new ArgumentException($"tensor {tensor.Name} is not a matrix: {TensorData.FormatShape(tensor.Shape)}");
        return new DenseF32Matrix(tensor.ToFloat32(), tensor.Rows, tensor.Columns);
    }
}
