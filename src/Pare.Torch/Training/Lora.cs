using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Pare.Torch.Training;

/// <summary>LoRA settings: rank r, scale α/r, which of the seven decoder linears get an adapter, dropout on the adapter's input.</summary>
public sealed record LoraOptions
{
    public int Rank { get; init; } = 8;
    /// <summary>α of the paper; the update is scaled by α / r so changing r does not change the update's size at init.</summary>
    public double Alpha { get; init; } = 16;
    public IReadOnlyList<LinearKind> Targets { get; init; } = LinearKinds.All;
    public double Dropout { get; init; }
    public int Seed { get; init; }

    public double Scale => Alpha / Rank;

    public void Validate()
    {
        if (Rank < 1) throw new ArgumentException($"--lora-rank must be at least 1, got {Rank}");
        if (!(Alpha > 0) || double.IsInfinity(Alpha)) throw new ArgumentException($"--lora-alpha must be a positive number, got {Alpha}");
        if (Dropout is < 0 or >= 1) throw new ArgumentException($"--lora-dropout must be in [0, 1), got {Dropout}");
        if (Targets.Count == 0) throw new ArgumentException("--lora-targets selects no linear");
    }

    /// <summary>Comma-separated short names (q_proj,…) or <c>all</c>.</summary>
    public static IReadOnlyList<LinearKind> ParseTargets(string text)
        => text == "all" ? LinearKinds.All : text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(LinearKinds.ParseShortName).Distinct().ToList();
}

/// <summary>
/// One LoRA adapter (Hu et al. 2021) on a frozen linear W [out, in]: y = x Wᵀ + (α/r) · dropout(x) Aᵀ Bᵀ with
/// A [r, in] drawn like PyTorch's default Linear init (kaiming-uniform, a = √5, i.e. U(±1/√in)) and B [out, r] zero, so
/// training starts from the frozen model exactly.
/// <para>
/// With a keep-mask (a pruned W) the update is the masked dense delta (BA) ⊙ M: the adapter trains the update that will
/// actually be merged, so merging equals the unmerged forward and every pruned weight stays exactly zero. An unmasked
/// BA is dense and its merge would silently undo the pruning. The price is one extra [out, in] product per step, which
/// is small beside the forward at the shapes Pare trains.
/// </para>
/// </summary>
public sealed class LoraAdapter : IDisposable
{
    public LoraAdapter(string name, long outFeatures, long inFeatures, LoraOptions options, Tensor? keep = null)
    {
        Name = name;
        Rank = options.Rank;
        Scale = options.Scale;
        DropoutRate = options.Dropout;
        double bound = 1 / Math.Sqrt(inFeatures);
        using (no_grad())
        {
            A = new Parameter((rand(Rank, inFeatures) * (2 * bound) - bound).DetachFromDisposeScope(), requires_grad: false);
            B = new Parameter(zeros(outFeatures, Rank).DetachFromDisposeScope(), requires_grad: false);
        }
        if (keep is not null)
        {
            if (keep.shape[0] != outFeatures || keep.shape[1] != inFeatures)
                throw new ArgumentException($"{name}: mask shape [{string.Join(", ", keep.shape)}] differs from the weight's [{outFeatures}, {inFeatures}]");
            Keep = keep.to(ScalarType.Float32).detach().clone().DetachFromDisposeScope();
        }
    }

    /// <summary>The tensor name of the linear this adapter sits on (its parameters are <c>Name.lora_A</c> and <c>Name.lora_B</c>).</summary>
    public string Name { get; }
    public int Rank { get; }
    public double Scale { get; }
    public double DropoutRate { get; }
    public Parameter A { get; }
    public Parameter B { get; }
    /// <summary>The linear's keep-mask (1 = weight present) when the update is masked, else null.</summary>
    public Tensor? Keep { get; }
    /// <summary>Dropout is applied only while training.</summary>
    public bool Training { get; set; }

    public Tensor Forward(Tensor x, Tensor weight)
    {
        using var scope = NewDisposeScope();
        var y = nn.functional.linear(x, weight);
        var xd = Training && DropoutRate > 0 ? nn.functional.dropout(x, DropoutRate, training: true) : x;
        var update = Keep is null
            ? nn.functional.linear(nn.functional.linear(xd, A), B)
            : nn.functional.linear(xd, B.matmul(A) * Keep);
        return (y + update * Scale).MoveToOuterDisposeScope();
    }

    /// <summary>The update the merge adds to W: (α/r) · BA, masked when the adapter has a mask.</summary>
    public Tensor Delta()
    {
        using var scope = NewDisposeScope();
        var d = B.matmul(A) * Scale;
        if (Keep is not null) d = d * Keep;
        return d.detach().MoveToOuterDisposeScope();
    }

    /// <summary>Adds the update to <paramref name="weight"/> in place; with a mask, the entries outside it are set to exactly zero afterwards too.</summary>
    public void MergeInto(Parameter weight)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        weight.add_(Delta());
        // (BA ⊙ M) is already zero outside the mask; multiplying again pins W there to +0 whatever W held.
        if (Keep is not null) weight.mul_(Keep);
    }

    public IEnumerable<(string Name, Parameter Parameter)> NamedParameters()
    {
        yield return (Name + ".lora_A", A);
        yield return (Name + ".lora_B", B);
    }

    public void Dispose()
    {
        A.Dispose();
        B.Dispose();
        Keep?.Dispose();
    }
}

/// <summary>
/// The LoRA adapters attached to a <see cref="TorchLlama"/>: one per target linear of every layer. The base weights stay
/// frozen; <see cref="Parameters"/> is what <see cref="Trainer.Run"/> trains, and <see cref="Merge"/> folds the updates
/// into the weights for deployment (the Engine never sees an adapter).
/// </summary>
public sealed class Lora : IDisposable
{
    private readonly TorchLlama _model;
    private readonly List<(TorchDecoderLayer Layer, LinearKind Kind, LoraAdapter Adapter)> _adapters = new();

    private Lora(TorchLlama model, LoraOptions options)
    {
        _model = model;
        Options = options;
    }

    public LoraOptions Options { get; }
    public IReadOnlyList<LoraAdapter> Adapters => _adapters.Select(a => a.Adapter).ToList();

    /// <summary>
    /// Attaches adapters to the target linears of every layer, all base tensors frozen. With
    /// <paramref name="keepSparsity"/> each adapter's update is masked by its weight's current non-zeros (a pruned model).
    /// A and B are drawn from a generator seeded by <see cref="LoraOptions.Seed"/>.
    /// </summary>
    public static Lora Attach(TorchLlama model, LoraOptions options, bool keepSparsity)
    {
        options.Validate();
        foreach (var (_, p) in model.NamedTensors()) p.requires_grad_(false);
        var lora = new Lora(model, options);
        random.manual_seed(options.Seed);
        foreach (var layer in model.Layers)
        {
            foreach (var kind in options.Targets)
            {
                if (layer.Adapter(kind) is not null) throw new InvalidOperationException($"layer {layer.Index} {kind.ShortName()} already has an adapter");
                var w = layer.Linear(kind);
                using var keep = keepSparsity ? w.ne(0) : null;
                var adapter = new LoraAdapter(kind.TensorName(layer.Index), w.shape[0], w.shape[1], options, keep);
                layer.SetAdapter(kind, adapter);
                lora._adapters.Add((layer, kind, adapter));
            }
        }
        return lora;
    }

    /// <summary>Every adapter tensor by name (A and B of each adapter), for the trainer and for saving.</summary>
    public List<(string Name, Parameter Parameter)> Parameters => _adapters.SelectMany(a => a.Adapter.NamedParameters()).ToList();

    public long ParameterCount => _adapters.Sum(a => a.Adapter.A.numel() + a.Adapter.B.numel());

    /// <summary>Switches adapter dropout on (training) or off (evaluation, merging).</summary>
    public void SetTraining(bool training)
    {
        foreach (var a in _adapters) a.Adapter.Training = training;
    }

    /// <summary>Folds every update into its weight and removes the adapters from the model (which then computes what it computed with them, in eval mode).</summary>
    public void Merge()
    {
        foreach (var (layer, kind, adapter) in _adapters)
        {
            adapter.MergeInto(layer.Linear(kind));
            layer.SetAdapter(kind, null);
        }
    }

    /// <summary>Removes the adapters without merging (the model is the frozen base again).</summary>
    public void Detach()
    {
        foreach (var (layer, kind, _) in _adapters) layer.SetAdapter(kind, null);
    }

    /// <summary>Copies adapter values from tensors by name (an expert saved earlier); refuses missing or mis-shaped ones.</summary>
    public void Load(IReadOnlyDictionary<string, Tensor> tensors, string source)
    {
        using var _ = no_grad();
        foreach (var (name, p) in Parameters)
        {
            if (!tensors.TryGetValue(name, out var t)) throw new ArgumentException($"{source}: no tensor {name}; the adapters were trained for another model or LoRA setting");
            if (!t.shape.SequenceEqual(p.shape)) throw new ArgumentException($"{source}: {name} has shape [{string.Join(", ", t.shape)}], the model needs [{string.Join(", ", p.shape)}]; the adapters were trained for another model or rank");
            p.copy_(t);
        }
    }

    public TorchLlama Model => _model;

    public void Dispose()
    {
        Detach();
        foreach (var a in _adapters) a.Adapter.Dispose();
        _adapters.Clear();
    }
}
