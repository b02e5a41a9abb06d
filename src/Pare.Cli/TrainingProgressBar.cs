using Pare.Torch.Training;
using Spectre.Console;

namespace Pare.Cli;

/// <summary>A progress bar for a <see cref="Trainer"/> run: step, smoothed loss and tokens/s in the label.</summary>
public static class TrainingProgressBar
{
    public static T Run<T>(IAnsiConsole console, string label, int steps, Func<Action<TrainProgress>, T> body)
    {
        T result = default!;
        console.Progress().AutoClear(true).Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn()).Start(ctx =>
        {
            var task = ctx.AddTask(label, maxValue: steps);
            double smooth = double.NaN;
            result = body(p =>
            {
                smooth = double.IsNaN(smooth) ? p.Loss : 0.9 * smooth + 0.1 * p.Loss;
                task.Description = $"{label} · loss {smooth:F4} · {p.TokensPerSecond:F0} tok/s";
                task.Value = p.Step;
            });
        });
        return result;
    }
}
