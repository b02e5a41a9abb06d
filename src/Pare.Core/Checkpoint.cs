using Pare.Core.Tensors;
using Pare.Core.Tokenizers;

namespace Pare.Core;

/// <summary>A model as read from (or about to be written to) a file: its configuration and named tensors.</summary>
public sealed class Checkpoint
{
    public Checkpoint(ModelConfig config, IReadOnlyDictionary<string, TensorData> tensors, string source, string format, VocabularyData? vocabulary = null)
    {
        Config = config;
        Tensors = tensors;
        Source = source;
        Format = format;
        Vocabulary = vocabulary;
    }

    public ModelConfig Config { get; }
    /// <summary>Tensors under <see cref="LlamaTensorNames"/> names.</summary>
    public IReadOnlyDictionary<string, TensorData> Tensors { get; }
    public string Source { get; }
    /// <summary>Short name of the file format it came from ("llama2c", "gguf", "safetensors").</summary>
    public string Format { get; }
    /// <summary>A vocabulary embedded in the model file (GGUF), if any.</summary>
    public VocabularyData? Vocabulary { get; }

    public TensorData this[string name] => Tensors.TryGetValue(name, out var t)
        ? t
        : throw new PareFormatException(Source, $"tensor '{name}' is missing");

    /// <summary>The matrix the classifier multiplies by: lm_head, or the embedding when tied.</summary>
    public TensorData ClassifierWeight => Config.TiedEmbeddings ? this[LlamaTensorNames.Embedding] : this[LlamaTensorNames.Classifier];

    public long ParameterCount => Tensors.Values.Sum(t => t.ElementCount);

    /// <summary>Checks every expected tensor is present with the right shape; warns (returns) about non-finite values.</summary>
    public IReadOnlyList<string> Validate(bool scanValues = true)
    {
        Config.Validate(Source);
        foreach (var (name, shape) in LlamaTensorNames.Expected(Config))
        {
            var t = this[name];
            if (!t.Shape.SequenceEqual(shape))
                throw new PareFormatException(Source, $"tensor '{name}' has shape {TensorData.FormatShape(t.Shape)}, the configuration needs {TensorData.FormatShape(shape)}");
        }
        var warnings = new List<string>();
        if (scanValues)
        {
            foreach (var t in Tensors.Values)
            {
                long bad = 0;
                foreach (var v in t.ToFloat32())
                    if (!float.IsFinite(v)) bad++;
                if (bad > 0) warnings.Add($"{Source}: tensor '{t.Name}' has {bad} NaN/Inf values");
            }
        }
        return warnings;
    }

    public Checkpoint With(IReadOnlyDictionary<string, TensorData> tensors, ModelConfig? config = null)
        => new(config ?? Config, tensors, Source, Format, Vocabulary);
}
