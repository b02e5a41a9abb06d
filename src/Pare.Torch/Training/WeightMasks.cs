using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Pare.Torch.Training;

/// <summary>
/// Pruning masks that stay applied while training: before each optimiser step the masked gradients are zeroed (so
/// AdamW's moments for pruned weights stay zero) and after it the masked weights are set to exactly zero again (so
/// momentum or weight decay can never revive them). A parameter without a mask trains freely.
/// </summary>
public sealed class WeightMasks : IDisposable
{
    private readonly Dictionary<Parameter, Tensor> _keep = new(ReferenceEqualityComparer.Instance);

    public int Count => _keep.Count;

    /// <summary>Keeps the entries where <paramref name="keep"/> is true (same shape as the weight) and zeroes the rest now.</summary>
    public void Set(Parameter weight, Tensor keep)
    {
        if (!keep.shape.SequenceEqual(weight.shape))
            throw new ArgumentException($"mask shape [{string.Join(", ", keep.shape)}] differs from the weight's [{string.Join(", ", weight.shape)}]");
        // Masks may be set inside a training step's dispose scope (MGPP fixes its mask mid-run): they must outlive it.
        var mask = keep.to(weight.dtype).detach().clone().DetachFromDisposeScope();
        if (_keep.Remove(weight, out var old)) old.Dispose();
        _keep[weight] = mask;
        using (no_grad()) weight.mul_(mask);
    }

    /// <summary>The keep-mask of a weight from its current zeros (what a pruned checkpoint implies).</summary>
    public void SetFromZeros(Parameter weight)
    {
        using var keep = weight.ne(0);
        Set(weight, keep);
    }

    public Tensor? Keep(Parameter weight) => _keep.TryGetValue(weight, out var m) ? m : null;

    public void MaskGradients()
    {
        using var _ = no_grad();
        foreach (var (p, m) in _keep)
            p.grad?.mul_(m);
    }

    public void MaskWeights()
    {
        using var _ = no_grad();
        foreach (var (p, m) in _keep) p.mul_(m);
    }

    public void Dispose()
    {
        foreach (var m in _keep.Values) m.Dispose();
        _keep.Clear();
    }
}
