using Pare.Core.Tensors;
using Pare.Torch.Pruning;
using static TorchSharp.torch;

namespace Pare.Torch.Quantization;

/// <summary>
/// Round to nearest on the same grid as GPTQ, without calibration or error feedback (GPTQ's baseline). Scales are
/// fitted from each group's own weights, so 8/4 bits in groups of 32 reproduce llama-quantize's q8_0/q4_0 bytes.
/// Zeros stay zeros (0 is a grid point), so a pruned model keeps its mask.
/// </summary>
public sealed class RoundToNearest : IPruner
{
    public RoundToNearest(QuantizationSpec spec) => Spec = spec;

    public string Name => "rtn";
    public bool NeedsGradients => false;
    public QuantizationSpec Spec { get; }

    public Tensor Prune(Tensor weight, LinearStatistics statistics, SparsityPattern pattern, Tensor? gradientNorm)
        => Compress(weight, statistics, pattern, gradientNorm).Weight;

    public PrunedWeight Compress(Tensor weight, LinearStatistics statistics, SparsityPattern pattern, Tensor? gradientNorm)
    {
        if (pattern.Ratio > 0) throw new ArgumentException("round to nearest quantises only");
        return Quantize(weight);
    }

    public PrunedWeight Quantize(Tensor weight)
    {
        using var cpu = weight.detach().to_type(ScalarType.Float32).contiguous();
        var m = Quantize(cpu.data<float>().ToArray(), checked((int)cpu.shape[0]), checked((int)cpu.shape[1]));
        return new PrunedWeight(tensor(m.Dequantize(), cpu.shape), m);
    }

    public GroupQuantizedMatrix Quantize(float[] weight, int rows, int columns)
        => SymmetricGrid.RoundToNearest(weight, rows, columns, Spec.Bits, Spec.GroupSize);
}
