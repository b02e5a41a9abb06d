using Pare.Engine;
using Pare.Engine.Sampling;

namespace Pare.Eval;

/// <summary>
/// Self-data distillation (Thangarasa et al. 2024): the dense teacher regenerates each fine-tuning target so the pruned
/// student is recovered on the teacher's own distribution rather than pulled toward the dataset's. In the paper an
/// instruction-tuned teacher rewrites the response given the instruction and the original response. Stories260K is a
/// base model with no instruction format, so here the sample's first part is the "instruction" (a prompt of
/// <see cref="PromptShare"/> of its tokens, at least <see cref="MinPrompt"/>) and the teacher writes the rest, as many
/// tokens as the original rest had, sampled at temperature 1 (its own distribution, not its mode) from a generator
/// seeded per sample. A sample too short for a prompt plus a continuation is kept as it is.
/// </summary>
public static class SelfDataDistillation
{
    public const double PromptShare = 0.25;
    public const int MinPrompt = 4;

    public static int[][] Regenerate(LlamaWeights teacher, IReadOnlyList<int[]> rows, int seed, int threads = 1, Action<int>? onDone = null)
    {
        var result = new int[rows.Count][];
        int next = -1, done = 0;
        var tasks = Enumerable.Range(0, Math.Clamp(threads, 1, Math.Max(1, rows.Count))).Select(_ => Task.Run(() =>
        {
            var generator = new Generator(new Transformer(teacher, threads: 1));
            int i;
            while ((i = Interlocked.Increment(ref next)) < rows.Count)
            {
                var row = rows[i];
                int prompt = Math.Max(MinPrompt, (int)Math.Round(row.Length * PromptShare));
                if (row.Length < prompt + 2)
                {
                    result[i] = row;
                }
                else
                {
                    var sampling = new SamplingOptions { Temperature = 1f, Seed = (ulong)seed * 1_000_003UL + (ulong)i };
                    var g = generator.Generate(row[..prompt], row.Length - prompt, sampling);
                    result[i] = row[..prompt].Concat(g.GeneratedIds).ToArray();
                }
                onDone?.Invoke(Interlocked.Increment(ref done));
            }
        })).ToArray();
        Task.WaitAll(tasks);
        return result;
    }
}
