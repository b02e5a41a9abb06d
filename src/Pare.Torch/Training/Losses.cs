using static TorchSharp.torch;

namespace Pare.Torch.Training;

/// <summary>The losses the training methods combine, each a mean so their scale does not depend on batch size.</summary>
public static class Losses
{
    /// <summary>Next-token cross-entropy of logits [B, T, V] for tokens [B, T]: position t predicts token t + 1.</summary>
    public static Tensor NextTokenCrossEntropy(Tensor logits, Tensor tokens)
    {
        using var scope = NewDisposeScope();
        long b = logits.shape[0], t = logits.shape[1], v = logits.shape[2];
        var pred = logits.narrow(1, 0, t - 1).reshape(b * (t - 1), v);
        var target = tokens.narrow(1, 1, t - 1).reshape(b * (t - 1));
        return nn.functional.cross_entropy(pred, target).MoveToOuterDisposeScope();
    }

    /// <summary>Cross-entropy of logits [..., V] against explicit targets [...] (heads that predict further ahead).</summary>
    public static Tensor CrossEntropy(Tensor logits, Tensor targets)
    {
        using var scope = NewDisposeScope();
        long v = logits.shape[^1];
        return nn.functional.cross_entropy(logits.reshape(-1, v), targets.reshape(-1)).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Logit distillation: KL(teacher ‖ student) of the softened distributions, per position, times T² (Hinton et al.) so
    /// gradients keep their scale across temperatures. Teacher logits carry no gradient.
    /// </summary>
    public static Tensor Distillation(Tensor studentLogits, Tensor teacherLogits, double temperature = 1.0)
    {
        using var scope = NewDisposeScope();
        long v = studentLogits.shape[^1];
        var logQ = nn.functional.log_softmax(studentLogits.reshape(-1, v) / temperature, 1);
        var logP = nn.functional.log_softmax(teacherLogits.detach().reshape(-1, v) / temperature, 1);
        var kl = (logP.exp() * (logP - logQ)).sum(1).mean();
        return (kl * (temperature * temperature)).MoveToOuterDisposeScope();
    }

    /// <summary>Mean squared error, the layer-output distillation loss.</summary>
    public static Tensor Mse(Tensor output, Tensor target)
    {
        using var scope = NewDisposeScope();
        return (output - target.detach()).square().mean().MoveToOuterDisposeScope();
    }

    /// <summary>Mean absolute value of the entries of <paramref name="weight"/> where <paramref name="where"/> is true (all when null).</summary>
    public static Tensor L1(Tensor weight, Tensor? where = null)
    {
        using var scope = NewDisposeScope();
        var a = weight.abs();
        var l1 = where is null ? a.mean() : (a * where).sum() / where.sum().clamp_min(1);
        return l1.MoveToOuterDisposeScope();
    }
}
