using Pare.Core;
using Pare.Core.Sparsity;
using Pare.Core.Tensors;

namespace Pare.Engine.Weights;

/// <summary>Whole-checkpoint weight conversions: storable encodings for files, and magnitude pruning for sparse formats.</summary>
public static class CheckpointWeights
{
    /// <summary>The matrices the Engine multiplies by: every layer's linears and the classifier (the embedding when tied).</summary>
    public static IEnumerable<string> MatrixNames(ModelConfig c)
        => Enumerable.Range(0, c.Layers).SelectMany(LlamaTensorNames.Linears)
            .Append(c.TiedEmbeddings ? LlamaTensorNames.Embedding : LlamaTensorNames.Classifier);

    /// <summary>
    /// The checkpoint with its matrices (and the embedding) stored for <paramref name="format"/>: f16/bf16/q8_0/q4_0
    /// tensors a GGUF file keeps and the Engine runs without requantising. Matrices whose rows are not whole q8_0/q4_0
    /// blocks stay f32 (GGUF cannot hold them; the Engine pads them when --weights asks). For the sparse formats the
    /// dense matrices are magnitude-pruned (<see cref="PruneForSparse"/>) and kept in their stored type: there is no
    /// file encoding, the Engine packs them at load time with --weights.
    /// </summary>
    public static Checkpoint Encode(Checkpoint checkpoint, string format, ICollection<string> notes)
    {
        string f = WeightFormats.Canonical(format);
        if (WeightFormats.IsSparse(f))
        {
            notes.Add($"{f} has no file encoding: the pruned weights are written densely; load them with --weights {f}");
            return PruneForSparse(checkpoint, f, notes);
        }
        var names = MatrixNames(checkpoint.Config).Append(LlamaTensorNames.Embedding).ToHashSet();
        var tensors = new Dictionary<string, TensorData>(checkpoint.Tensors);
        var kept = new List<string>();
        foreach (var name in names)
        {
            var t = checkpoint[name];
            if (f is WeightFormats.Q8_0 or WeightFormats.Q4_0 && t.Columns % GgmlQuants.BlockSize != 0)
            {
                kept.Add(name);
                tensors[name] = WeightFormats.Encode(t, WeightFormats.F32);
                continue;
            }
            tensors[name] = WeightFormats.Encode(t, f);
        }
        if (kept.Count > 0)
            notes.Add($"{kept.Count} matrices have rows that are not whole blocks of {GgmlQuants.BlockSize} and stay f32 ({string.Join(", ", kept.Take(3))}{(kept.Count > 3 ? ", …" : "")})");
        return checkpoint.With(tensors);
    }

    /// <summary>
    /// Sparse formats need zeros: matrices with fewer than 45% zeros are magnitude-pruned (2:4 per row for
    /// 2:4-int8, 50% per matrix for sparse-int8); already-pruned matrices are kept as they are.
    /// </summary>
    public static Checkpoint PruneForSparse(Checkpoint checkpoint, string format, ICollection<string> notes)
    {
        string f = WeightFormats.Canonical(format);
        var tensors = new Dictionary<string, TensorData>(checkpoint.Tensors);
        int pruned = 0;
        Parallel.ForEach(MatrixNames(checkpoint.Config), name =>
        {
            var t = checkpoint[name];
            var w = t.ToFloat32();
            if (w.Count(v => v == 0) >= 0.45 * w.Length) return;
            var p = f == WeightFormats.Sparse24Int8 ? MagnitudePruning.NM(w, t.Rows, t.Columns) : MagnitudePruning.Unstructured(w, 0.5);
            var result = TensorData.FromFloat32(name, p, t.Shape);
            lock (tensors) tensors[name] = result;
            Interlocked.Increment(ref pruned);
        });
        if (pruned > 0)
            notes.Add($"{f}: {pruned} dense matrices magnitude-pruned ({(f == WeightFormats.Sparse24Int8 ? "2:4 per row" : "50% per matrix")}) before packing; speed does not depend on which weights are kept");
        return checkpoint.With(tensors);
    }
}
