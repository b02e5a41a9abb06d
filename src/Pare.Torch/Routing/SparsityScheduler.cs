namespace Pare.Torch.Routing;

/// <summary>Settings of the genetic search over per-block token sparsities.</summary>
public sealed record SchedulerOptions
{
    public int Population { get; init; } = 16;
    public int Generations { get; init; } = 10;
    /// <summary>Standard deviation of the Gaussian mutation of one block's sparsity.</summary>
    public double Mutation { get; init; } = 0.08;
    /// <summary>Best genomes copied unchanged into the next generation.</summary>
    public int Elite { get; init; } = 2;
    /// <summary>Upper bound of one block's sparsity (a block every token skips is a removed block, ShortGPT's move).</summary>
    public double MaxBlockSparsity { get; init; } = 0.9;
    public int Seed { get; init; }
}

/// <summary>
/// FTP's search-based sparsity scheduler: a genetic algorithm over the token sparsity of each routable block under a
/// global target (the mean over all blocks, each block costing the same compute). Genomes are repaired onto the
/// constraint set after every crossover and mutation, so every schedule evaluated meets the target exactly; fitness is
/// the caller's calibration loss (lower is better). Tournament selection, blend crossover, Gaussian mutation, elitism.
/// </summary>
public static class SparsityScheduler
{
    /// <param name="routable">Per block, whether it may skip tokens; the others stay at 0.</param>
    /// <param name="start">Schedules to seed the population with (e.g. the previous round's best, for fine-tuning).</param>
    public static (double[] Best, double Loss, List<double> History) Search(bool[] routable, double target, Func<double[], double> loss, SchedulerOptions options,
        IReadOnlyList<double[]>? start = null, Action<int, double>? onGeneration = null)
    {
        int blocks = routable.Length, free = routable.Count(r => r);
        if (!(target >= 0 && target < 1)) throw new ArgumentException($"token sparsity must be in [0, 1), got {target}");
        if (free == 0 || target * blocks > free * options.MaxBlockSparsity + 1e-12)
            throw new ArgumentException($"a global token sparsity of {target} cannot be met with {free} routable blocks of at most {options.MaxBlockSparsity} each");
        if (options.Population < 2 || options.Generations < 1) throw new ArgumentException("the scheduler needs a population of at least 2 and at least one generation");
        var rng = new Random(options.Seed);
        var population = new List<double[]>();
        foreach (var s in start ?? []) population.Add(Repair(s.ToArray(), routable, target, options.MaxBlockSparsity));
        // The uniform schedule first, then random ones around it.
        if (population.Count == 0) population.Add(Repair(new double[blocks], routable, target, options.MaxBlockSparsity));
        while (population.Count < options.Population)
        {
            var g = population[0].Select((v, i) => routable[i] ? v + Gaussian(rng) * 0.2 : 0).ToArray();
            population.Add(Repair(g, routable, target, options.MaxBlockSparsity));
        }
        var scores = population.Select(loss).ToList();
        var history = new List<double>();
        for (int gen = 0; gen < options.Generations; gen++)
        {
            var order = Enumerable.Range(0, population.Count).OrderBy(i => scores[i]).ToList();
            var next = order.Take(options.Elite).Select(i => population[i]).ToList();
            var nextScores = order.Take(options.Elite).Select(i => scores[i]).ToList();
            while (next.Count < options.Population)
            {
                var a = population[Tournament(scores, rng)];
                var b = population[Tournament(scores, rng)];
                double mix = rng.NextDouble();
                var child = a.Select((v, i) => !routable[i] ? 0 : mix * v + (1 - mix) * b[i] + Gaussian(rng) * options.Mutation).ToArray();
                child = Repair(child, routable, target, options.MaxBlockSparsity);
                next.Add(child);
                nextScores.Add(loss(child));
            }
            population = next;
            scores = nextScores;
            double best = scores.Min();
            history.Add(best);
            onGeneration?.Invoke(gen + 1, best);
        }
        int bestIndex = Enumerable.Range(0, population.Count).MinBy(i => scores[i]);
        return (population[bestIndex], scores[bestIndex], history);
    }

    /// <summary>
    /// The schedule nearest <paramref name="s"/> (clipped, then shifted equally on the free blocks) whose mean over all
    /// blocks is exactly <paramref name="target"/>, each routable block in [0, max], the others 0.
    /// </summary>
    public static double[] Repair(double[] s, bool[] routable, double target, double max)
    {
        int n = s.Length;
        double sum = target * n;
        var r = new double[n];
        for (int i = 0; i < n; i++) r[i] = routable[i] ? Math.Clamp(double.IsFinite(s[i]) ? s[i] : 0, 0, max) : 0;
        // Shift the unsaturated blocks by the remaining gap until it closes (at most one pass per block saturating).
        for (int iter = 0; iter < 2 * n + 2; iter++)
        {
            double gap = sum - r.Sum();
            if (Math.Abs(gap) < 1e-15) break;
            var movable = Enumerable.Range(0, n).Where(i => routable[i] && (gap > 0 ? r[i] < max : r[i] > 0)).ToList();
            if (movable.Count == 0) break;
            double step = gap / movable.Count;
            foreach (var i in movable) r[i] = Math.Clamp(r[i] + step, 0, max);
        }
        // Put the last rounding residue on the block with the most room, so the mean is the target to the last bit
        // the arithmetic allows.
        double residue = sum - r.Sum();
        int room = Enumerable.Range(0, n).Where(i => routable[i]).MaxBy(i => residue > 0 ? max - r[i] : r[i]);
        r[room] += residue;
        return r;
    }

    private static int Tournament(List<double> scores, Random rng)
    {
        int a = rng.Next(scores.Count), b = rng.Next(scores.Count);
        return scores[a] <= scores[b] ? a : b;
    }

    private static double Gaussian(Random rng)
    {
        double u = 1 - rng.NextDouble(), v = rng.NextDouble();
        return Math.Sqrt(-2 * Math.Log(u)) * Math.Cos(2 * Math.PI * v);
    }
}
