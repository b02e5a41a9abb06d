namespace Pare.Torch.Training;

/// <summary>Learning rate at a step (0-based): linear warm-up over the first steps, then constant, linear or cosine decay to a floor.</summary>
public static class LearningRateSchedule
{
    public static double At(int step, TrainOptions o)
    {
        double peak = o.LearningRate;
        if (step < o.WarmupSteps) return peak * (step + 1) / o.WarmupSteps;
        int decaySteps = o.Steps - o.WarmupSteps;
        if (o.Decay == LearningRateDecay.Constant || decaySteps <= 1) return peak;
        double progress = (double)(step - o.WarmupSteps) / (decaySteps - 1);
        double floor = peak * o.MinLearningRateRatio;
        double shape = o.Decay == LearningRateDecay.Linear ? 1 - progress : 0.5 * (1 + Math.Cos(Math.PI * progress));
        return floor + (peak - floor) * shape;
    }

    public static LearningRateDecay Parse(string text) => text switch
    {
        "constant" => LearningRateDecay.Constant,
        "linear" => LearningRateDecay.Linear,
        "cosine" => LearningRateDecay.Cosine,
        _ => throw new ArgumentException($"unknown learning-rate schedule '{text}'; expected constant, linear or cosine"),
    };
}
