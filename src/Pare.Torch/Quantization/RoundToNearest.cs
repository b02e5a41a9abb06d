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

    /// <summary>
    /// Every decoder linear of <paramref name="checkpoint"/> rounded to nearest (no calibration pass needed), stored
    /// as q8_0/q4_0 blocks when the grid is GGML's; the codes go to <paramref name="quantized"/> by tensor name.
    /// </summary>
    public static Pare.Core.Checkpoint Apply(Pare.Core.Checkpoint checkpoint, QuantizationSpec spec, IDictionary<string, GroupQuantizedMatrix>? quantized = null)
    {
        var tensors = new Dictionary<string, TensorData>(checkpoint.Tensors);
        var rtn = new RoundToNearest(spec);
        var names = Enumerable.Range(0, checkpoint.Config.Layers).SelectMany(l => LinearKinds.All.Select(k => k.TensorName(l))).ToList();
        var results = new GroupQuantizedMatrix[names.Count];
        Parallel.For(0, names.Count, i =>
        {
            var t = checkpoint[names[i]];
            results[i] = rtn.Quantize(t.ToFloat32(), t.Rows, t.Columns);
        });
        for (int i = 0; i < names.Count; i++)
        {
            tensors[names[i]] = results[i].ToTensorData(names[i]);
            if (quantized != null) quantized[names[i]] = results[i];
        }
        return checkpoint.With(tensors);
    }
}
