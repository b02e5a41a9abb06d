using Pare.Core;
using Pare.Core.Tensors;

namespace Pare.Eval;

/// <summary>
/// What a compressed model costs in storage, for the trade-off tables: bytes per parameter of the stored tensors, the
/// decoder linears' bits per weight as stored, and as they would be in a bitmask sparse layout.
/// </summary>
/// <param name="BytesPerParameter">Σ stored tensor bytes / parameters (the whole model: embeddings, norms, classifier included).</param>
/// <param name="LinearBits">Bits per weight of the decoder linears as stored (q4_0 = 4.5, q8_0 = 8.5, f32 = 32).</param>
/// <param name="SparseLinearBits">
/// Bits per weight of the decoder linears if only the kept weights' codes were stored beside a one-bit-per-weight
/// mask and the group scales (the layout of compressed-tensors' sparse-bitmask / sparse-24-bitmask compressors
/// applied to codes); for dense linears the stored figure. Pare does not write this layout for codes yet: it is
/// the size a sparse + quantised model reaches once it does.
/// </param>
public sealed record StorageSize(double BytesPerParameter, double LinearBits, double SparseLinearBits)
{
    public static StorageSize Of(Checkpoint checkpoint, IReadOnlyDictionary<string, GroupQuantizedMatrix> quantized)
    {
        long bytes = checkpoint.Tensors.Values.Sum(t => (long)t.Data.Length);
        double linearBits = 0, sparseBits = 0;
        long linearWeights = 0;
        for (int l = 0; l < checkpoint.Config.Layers; l++)
        {
            foreach (var name in LlamaTensorNames.Linears(l))
            {
                var t = checkpoint[name];
                long n = t.ElementCount;
                linearWeights += n;
                linearBits += t.Data.Length * 8.0;
                if (quantized.TryGetValue(name, out var q))
                {
                    long kept = q.Codes.LongCount(c => c != 0);
                    double packed = kept * (double)q.Bits + (kept < n ? n : 0) + 16.0 * q.Scales.Length;
                    sparseBits += Math.Min(packed, q.Bits * (double)n + 16.0 * q.Scales.Length);
                }
                else
                {
                    sparseBits += t.Data.Length * 8.0;
                }
            }
        }
        return new StorageSize((double)bytes / checkpoint.ParameterCount, linearBits / linearWeights, sparseBits / linearWeights);
    }
}
