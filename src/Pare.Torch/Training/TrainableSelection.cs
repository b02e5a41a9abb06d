using System.Globalization;
using TorchSharp.Modules;

namespace Pare.Torch.Training;

/// <summary>
/// Which tensors of a model a training run updates: a comma-separated list of <c>all</c>, <c>linears</c> (the seven
/// decoder linears of every layer), <c>norms</c>, <c>embeddings</c> (embedding and classifier), <c>layer=i</c> (every
/// tensor of decoder layer i) or a tensor name. Everything else keeps requires_grad off, so it costs no gradient memory.
/// </summary>
public sealed class TrainableSelection
{
    private readonly List<Func<string, bool>> _rules;

    private TrainableSelection(string text, List<Func<string, bool>> rules)
    {
        Text = text;
        _rules = rules;
    }

    public string Text { get; }

    public static TrainableSelection All { get; } = Parse("all");

    public static TrainableSelection Parse(string text)
    {
        var rules = new List<Func<string, bool>>();
        foreach (var part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (part == "all") rules.Add(_ => true);
            else if (part == "linears") rules.Add(IsLinear);
            else if (part == "norms") rules.Add(n => n.EndsWith("norm.weight", StringComparison.Ordinal));
            else if (part == "embeddings") rules.Add(n => n is Core.LlamaTensorNames.Embedding or Core.LlamaTensorNames.Classifier);
            else if (part.StartsWith("layer=", StringComparison.Ordinal))
            {
                if (!int.TryParse(part.AsSpan(6), NumberStyles.None, CultureInfo.InvariantCulture, out int layer))
                    throw new ArgumentException($"--trainable: '{part}' needs a layer index, e.g. layer=0");
                var prefix = $"model.layers.{layer}.";
                rules.Add(n => n.StartsWith(prefix, StringComparison.Ordinal));
            }
            else if (part.Contains('.')) rules.Add(n => n == part);
            else throw new ArgumentException($"--trainable: unknown selection '{part}'; expected all, linears, norms, embeddings, layer=i or a tensor name");
        }
        if (rules.Count == 0) throw new ArgumentException("--trainable selects nothing");
        return new TrainableSelection(text, rules);
    }

    public bool Includes(string name) => _rules.Any(r => r(name));

    /// <summary>
    /// Turns gradients on for the selected tensors of <paramref name="model"/> (off for the rest) and returns them by
    /// name; refuses a selection that matches no tensor, so a mistyped name does not train nothing silently.
    /// </summary>
    public List<(string Name, Parameter Parameter)> Apply(TorchLlama model)
    {
        var chosen = new List<(string, Parameter)>();
        foreach (var (name, p) in model.NamedTensors())
        {
            bool on = Includes(name);
            p.requires_grad_(on);
            if (on) chosen.Add((name, p));
        }
        if (chosen.Count == 0) throw new ArgumentException($"--trainable '{Text}' matches no tensor of the model");
        return chosen;
    }

    private static bool IsLinear(string name) => name.StartsWith("model.layers.", StringComparison.Ordinal) && (name.Contains(".self_attn.", StringComparison.Ordinal) || name.Contains(".mlp.", StringComparison.Ordinal));
}
