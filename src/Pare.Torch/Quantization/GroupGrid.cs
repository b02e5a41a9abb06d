using Pare.Core.Tensors;
using TorchSharp;
using static TorchSharp.torch;

namespace Pare.Torch.Quantization;

/// <summary>
/// <see cref="SymmetricGrid"/> in torch for a quantiser's column loop: per-(row, group) scales fitted when a group
/// starts (or all at once), columns quantised one at a time with the same f32 arithmetic as the C# grid (so round
/// to nearest through this class gives llama.cpp's q8_0/q4_0 bytes), codes kept for packing.
/// </summary>
public sealed class GroupGrid : IDisposable
{
    private readonly Tensor _scales;   // f16-rounded d, [rows, groups]
    private readonly Tensor _inverse;  // 1/d of the f32 d, [rows, groups]
    private readonly Tensor _codes;    // int8 [rows, cols]

    public GroupGrid(long rows, long columns, QuantizationSpec spec)
    {
        Spec = spec;
        Rows = rows;
        Columns = columns;
        GroupSize = spec.GroupSize <= 0 ? columns : Math.Min(spec.GroupSize, columns);
        Groups = (columns + GroupSize - 1) / GroupSize;
        _scales = zeros(rows, Groups);
        _inverse = zeros(rows, Groups);
        _codes = zeros(rows, columns, dtype: ScalarType.Int8);
    }

    public QuantizationSpec Spec { get; }
    public long Rows { get; }
    public long Columns { get; }
    public long GroupSize { get; }
    public long Groups { get; }

    /// <summary>Fits group <paramref name="group"/>'s scales from its values <paramref name="values"/> [rows, ≤ group length].</summary>
    public void Fit(long group, Tensor values)
    {
        using var scope = NewDisposeScope();
        var x = values.to_type(ScalarType.Float32);
        Tensor d;
        if (Spec.Bits == 8)
        {
            d = x.abs().amax(new long[] { 1 }) / 127f;
        }
        else
        {
            // The value of largest magnitude with its sign (argmax returns the first on ties, as llama.cpp's loop).
            var idx = x.abs().argmax(1, keepdim: true);
            d = x.gather(1, idx).squeeze(1) / (float)-(1 << (Spec.Bits - 1));
        }
        var inv = where(d.ne(0), ones_like(d) / d, zeros_like(d));
        _scales.select(1, group).copy_(d.to_type(ScalarType.Float16).to_type(ScalarType.Float32));
        _inverse.select(1, group).copy_(inv);
    }

    /// <summary>Fits every group from <paramref name="weight"/> [rows, cols] (static groups).</summary>
    public void FitAll(Tensor weight)
    {
        for (long k = 0; k < Groups; k++)
        {
            long start = k * GroupSize;
            Fit(k, weight.narrow(1, start, Math.Min(GroupSize, Columns - start)));
        }
    }

    /// <summary>Quantises column <paramref name="column"/> (its values <paramref name="x"/> [rows]); returns the grid values and keeps the codes.</summary>
    public Tensor Quantize(Tensor x, long column)
    {
        using var scope = NewDisposeScope();
        long k = column / GroupSize;
        var v = x.to_type(ScalarType.Float32) * _inverse.select(1, k);
        Tensor q;
        if (Spec.Bits == 8)
        {
            // Round half away from zero, exactly (a − ⌊a⌋ is exact in f32), as C's roundf.
            var a = v.abs();
            var f = a.floor();
            q = (f + (a - f).ge(0.5f).to_type(ScalarType.Float32)) * v.sign();
            q = q.clamp(-127, 127);
        }
        else
        {
            int offset = 1 << (Spec.Bits - 1);
            q = (v + (offset + 0.5f)).trunc().clamp(0, 2 * offset - 1) - offset;
        }
        _codes.select(1, column).copy_(q.to_type(ScalarType.Int8));
        return (q * _scales.select(1, k)).MoveToOuterDisposeScope();
    }

    /// <summary>Forces column <paramref name="column"/>'s code to 0 where <paramref name="zero"/> is true (pruned weights).</summary>
    public void ZeroCodes(long column, Tensor zero) => _codes.select(1, column).masked_fill_(zero, 0);

    public GroupQuantizedMatrix ToMatrix()
    {
        using var scope = NewDisposeScope();
        var codes = _codes.contiguous().data<sbyte>().ToArray();
        var scales = _scales.contiguous().data<float>().ToArray().Select(GgmlQuants.FloatToHalfBits).ToArray();
        return new GroupQuantizedMatrix(checked((int)Rows), checked((int)Columns), Spec.Bits, checked((int)GroupSize), codes, scales);
    }

    public void Dispose()
    {
        _scales.Dispose();
        _inverse.Dispose();
        _codes.Dispose();
    }
}
