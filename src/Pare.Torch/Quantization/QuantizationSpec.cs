using System.Globalization;
using Pare.Core.Tensors;

namespace Pare.Torch.Quantization;

/// <summary>
/// Which <see cref="SymmetricGrid"/> to quantise to: bits (8, 4, 3), group length along the input columns (32, 64,
/// 128; 0 = one group per row) and, for GPTQ, whether columns go in act-order (decreasing diag H).
/// </summary>
public sealed record QuantizationSpec
{
    public QuantizationSpec(int bits, int groupSize, bool actOrder = false)
    {
        SymmetricGrid.Check(bits);
        if (groupSize < 0) throw new ArgumentException($"group size must be 0 (per row) or positive, got {groupSize}");
        Bits = bits;
        GroupSize = groupSize;
        ActOrder = actOrder;
    }

    public int Bits { get; }
    public int GroupSize { get; }
    public bool ActOrder { get; }

    public override string ToString()
        => $"w{Bits.ToString(CultureInfo.InvariantCulture)}g{(GroupSize == 0 ? "row" : GroupSize.ToString(CultureInfo.InvariantCulture))}{(ActOrder ? "-act" : "")}";
}
