using Pare.Core;

namespace Pare.Torch;

/// <summary>The seven linear maps of a LLaMA decoder layer.</summary>
public enum LinearKind
{
    Query,
    Key,
    Value,
    Output,
    Gate,
    Up,
    Down,
}

/// <summary>
/// Which activation a linear reads. Linears sharing an input (q/k/v; gate/up) share calibration statistics, so
/// they are collected once per input rather than once per linear.
/// </summary>
public enum LinearInput
{
    /// <summary>The attention-normed hidden state (q, k, v).</summary>
    Attention,
    /// <summary>The concatenated head outputs (o).</summary>
    AttentionOutput,
    /// <summary>The FFN-normed hidden state (gate, up).</summary>
    Mlp,
    /// <summary>SiLU(gate)·up (down).</summary>
    MlpHidden,
}

public static class LinearKinds
{
    public static readonly IReadOnlyList<LinearKind> All = Enum.GetValues<LinearKind>();

    public static LinearInput Input(this LinearKind kind) => kind switch
    {
        LinearKind.Query or LinearKind.Key or LinearKind.Value => LinearInput.Attention,
        LinearKind.Output => LinearInput.AttentionOutput,
        LinearKind.Gate or LinearKind.Up => LinearInput.Mlp,
        LinearKind.Down => LinearInput.MlpHidden,
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    public static string TensorName(this LinearKind kind, int layer) => kind switch
    {
        LinearKind.Query => LlamaTensorNames.Query(layer),
        LinearKind.Key => LlamaTensorNames.Key(layer),
        LinearKind.Value => LlamaTensorNames.Value(layer),
        LinearKind.Output => LlamaTensorNames.Output(layer),
        LinearKind.Gate => LlamaTensorNames.Gate(layer),
        LinearKind.Up => LlamaTensorNames.Up(layer),
        LinearKind.Down => LlamaTensorNames.Down(layer),
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    /// <summary>Short module names as in HF (q_proj, …), used for --modules and reports.</summary>
    public static string ShortName(this LinearKind kind) => kind switch
    {
        LinearKind.Query => "q_proj",
        LinearKind.Key => "k_proj",
        LinearKind.Value => "v_proj",
        LinearKind.Output => "o_proj",
        LinearKind.Gate => "gate_proj",
        LinearKind.Up => "up_proj",
        LinearKind.Down => "down_proj",
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    public static LinearKind ParseShortName(string name)
        => All.FirstOrDefault(k => k.ShortName() == name || k.ToString().Equals(name, StringComparison.OrdinalIgnoreCase), (LinearKind)(-1)) is var k && (int)k >= 0
            ? k
            : throw new ArgumentException($"unknown module '{name}'; expected one of {string.Join(", ", All.Select(a => a.ShortName()))}");
}
