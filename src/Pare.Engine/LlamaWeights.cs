using Pare.Core;
using Pare.Core.Tensors;
using Pare.Engine.Weights;

namespace Pare.Engine;

/// <summary>One decoder layer's weights as the Engine runs them.</summary>
public sealed class LayerWeights
{
    public required float[] AttentionNorm { get; init; }
    public required IWeightMatrix Query { get; init; }
    public required IWeightMatrix Key { get; init; }
    public required IWeightMatrix Value { get; init; }
    public required IWeightMatrix Output { get; init; }
    public required float[] FfnNorm { get; init; }
    public required IWeightMatrix Gate { get; init; }
    public required IWeightMatrix Up { get; init; }
    public required IWeightMatrix Down { get; init; }

    /// <summary>
    /// The attention sub-block was removed (BlockPruner): its output projection is stored as zeros, which every format
    /// and llama.cpp load, and which add exactly nothing to the residual stream, so the Engine skips the sub-block.
    /// </summary>
    public bool AttentionRemoved { get; init; }
    /// <summary>The MLP sub-block was removed: its down projection is stored as zeros.</summary>
    public bool MlpRemoved { get; init; }

    public IEnumerable<IWeightMatrix> Matrices => [Query, Key, Value, Output, Gate, Up, Down];
}

/// <summary>A LLaMA model's weights in Engine formats.</summary>
public sealed class LlamaWeights
{
    public required ModelConfig Config { get; init; }
    public required TensorData Embedding { get; init; }
    public required LayerWeights[] Layers { get; init; }
    public required float[] FinalNorm { get; init; }
    public required IWeightMatrix Classifier { get; init; }

    /// <summary>Bytes read per decoded token: every matrix once, plus one embedding row.</summary>
    public long BytesPerToken => Layers.Sum(l => l.Matrices.Sum(m => m.StorageBytes)) + Classifier.StorageBytes;

    /// <summary>Engine weights for a checkpoint; <paramref name="convert"/> chooses each matrix's format (default: as stored).</summary>
    public static LlamaWeights FromCheckpoint(Checkpoint checkpoint, Func<TensorData, IWeightMatrix>? convert = null)
    {
        checkpoint.Validate(scanValues: false);
        convert ??= WeightMatrixFactory.FromTensor;
        var c = checkpoint.Config;
        var layers = new LayerWeights[c.Layers];
        for (int l = 0; l < c.Layers; l++)
        {
            layers[l] = new LayerWeights
            {
                AttentionNorm = checkpoint[LlamaTensorNames.AttentionNorm(l)].ToFloat32(),
                Query = convert(checkpoint[LlamaTensorNames.Query(l)]),
                Key = convert(checkpoint[LlamaTensorNames.Key(l)]),
                Value = convert(checkpoint[LlamaTensorNames.Value(l)]),
                Output = convert(checkpoint[LlamaTensorNames.Output(l)]),
                FfnNorm = checkpoint[LlamaTensorNames.FfnNorm(l)].ToFloat32(),
                Gate = convert(checkpoint[LlamaTensorNames.Gate(l)]),
                Up = convert(checkpoint[LlamaTensorNames.Up(l)]),
                Down = convert(checkpoint[LlamaTensorNames.Down(l)]),
                AttentionRemoved = IsZero(checkpoint[LlamaTensorNames.Output(l)]),
                MlpRemoved = IsZero(checkpoint[LlamaTensorNames.Down(l)]),
            };
        }
        return new LlamaWeights
        {
            Config = c,
            Embedding = checkpoint[LlamaTensorNames.Embedding],
            Layers = layers,
            FinalNorm = checkpoint[LlamaTensorNames.FinalNorm].ToFloat32(),
            Classifier = convert(checkpoint.ClassifierWeight),
        };
    }

    /// <summary>
    /// All bytes zero: every value is zero in each stored type (floats, and q8_0/q4_0 blocks with a zero scale). A
    /// vectorised scan, so loading pays little for the check.
    /// </summary>
    public static bool IsZero(TensorData t) => t.Data.Span.IndexOfAnyExcept((byte)0) < 0;

    /// <summary>Writes the embedding row of <paramref name="token"/> into <paramref name="destination"/>.</summary>
    public void Embed(int token, Span<float> destination)
    {
        if ((uint)token >= (uint)Config.VocabSize) throw new ArgumentOutOfRangeException(nameof(token), $"token id {token} is outside the vocabulary (size {Config.VocabSize})");
        int dim = Config.Dim;
        long rowBytes = DTypeInfo.ByteSize(Embedding.Type, dim, dim);
        TensorCodec.Decode(Embedding.Type, Embedding.Data.Span.Slice((int)(token * rowBytes), (int)rowBytes), destination[..dim]);
    }
}
