using Pare.Core;
using Pare.Engine;
using Pare.Torch.Pruning;
using Pare.Torch.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Pare.Torch.Routing;

/// <summary>Settings of FTP router training (<see cref="FtpRouter.Train"/>).</summary>
public sealed record FtpOptions
{
    /// <summary>Global token sparsity: the mean over blocks of the share of tokens that skip each block.</summary>
    public required double TokenSparsity { get; init; }
    public int Steps { get; init; } = 300;
    public double LearningRate { get; init; } = 3e-3;
    public int Batch { get; init; } = 8;
    public int SequenceLength { get; init; } = 128;
    public int Hidden { get; init; } = 64;
    public int Seed { get; init; }
    /// <summary>Calibration windows the scheduler scores schedules on (fixed across the search).</summary>
    public int FitnessWindows { get; init; } = 16;
    public double SparsityWeight { get; init; } = 10;
    public double GuideWeight { get; init; } = 1;
    public SchedulerOptions Scheduler { get; init; } = new();
}

/// <summary>What FTP found: the routers, the schedule, and the calibration losses along the way.</summary>
public sealed record FtpResult(FtpRouters Routers, double[] StaticSchedule, double[] Schedule, string StaticRule, double StaticLoss, double LearnedLoss,
    double[] RealisedSparsity, TrainResult Training, IReadOnlyList<double> SearchHistory, IReadOnlyList<double> FineTuneHistory);

/// <summary>
/// FTP (Li et al., arXiv 2412.11494): learnable token routers that let unimportant tokens skip whole decoder blocks,
/// the model's weights untouched. Per routable block a router (4 → hidden → 1 MLP) reads four low-dimensional factors
/// of each token — position, attention factor, its relative rank, the block's sparsity requirement — and decides to
/// compute the block or pass the token's hidden state through. The workflow: a genetic scheduler allocates sparsity
/// across blocks under the global target using a static router (a rule on the attention rank); routers are
/// initialised by imitating that static router and trained with three losses (guide toward the static router,
/// sparsity constraint toward each block's requirement, logit distillation to the dense model) through a
/// straight-through gate; the scheduler then fine-tunes the schedule with the trained routers, and each router's
/// output bias is calibrated so that its block skips exactly its share of calibration tokens.
/// Choices where the paper's text was not available to us (docs/token-pruning.md): the attention factor is the weight
/// a token's query puts on its own key (causal, so decoding and prefill route alike) and the rank is among earlier
/// tokens; block 0 stays dense (no attention factor exists before it); skipped tokens offer no key or value to the
/// block, as in the Engine.
/// </summary>
public sealed class FtpRouter : IDisposable
{
    private enum Mode
    {
        /// <summary>Static rule on the rank, threshold at the batch quantile (exact sparsity per batch).</summary>
        Static,
        /// <summary>Learned router scores, threshold at the batch quantile (for schedule search).</summary>
        LearnedQuantile,
        /// <summary>Learned routers as deployed: compute when the logit is positive.</summary>
        Learned,
        /// <summary>Training: straight-through gates, guide targets from the static rule.</summary>
        Train,
    }

    private readonly ModelConfig _config;
    private readonly Parameter?[] _w1, _b1, _w2, _b2;
    private readonly int _hidden;

    private FtpRouter(ModelConfig config, int hidden, int seed)
    {
        _config = config;
        _hidden = hidden;
        int n = config.Layers;
        _w1 = new Parameter?[n];
        _b1 = new Parameter?[n];
        _w2 = new Parameter?[n];
        _b2 = new Parameter?[n];
        var gen = new TorchSharp.torch.Generator((ulong)seed);
        for (int l = 1; l < n; l++)
        {
            _w1[l] = new Parameter(randn(hidden, FtpRouters.Factors, generator: gen) * 0.5, requires_grad: false);
            _b1[l] = new Parameter(full(hidden, 0.1f), requires_grad: false);
            _w2[l] = new Parameter(randn(1, hidden, generator: gen) / Math.Sqrt(hidden), requires_grad: false);
            _b2[l] = new Parameter(zeros(1), requires_grad: false);
        }
    }

    public List<(string Name, Parameter Parameter)> Parameters(double[] schedule)
    {
        var list = new List<(string, Parameter)>();
        for (int l = 1; l < _config.Layers; l++)
        {
            if (schedule[l] <= 0) continue;
            list.Add(($"router.{l}.w1", _w1[l]!));
            list.Add(($"router.{l}.b1", _b1[l]!));
            list.Add(($"router.{l}.w2", _w2[l]!));
            list.Add(($"router.{l}.b2", _b2[l]!));
        }
        return list;
    }

    private Tensor Score(int l, Tensor features)
    {
        using var scope = NewDisposeScope();
        var h = nn.functional.relu(nn.functional.linear(features, _w1[l]!, _b1[l]!));
        return nn.functional.linear(h, _w2[l]!, _b2[l]!).squeeze(-1).MoveToOuterDisposeScope();
    }

    /// <summary>For each token, the share of earlier tokens of its window whose attention factor is smaller (0.5 at position 0), as the Engine ranks.</summary>
    public static Tensor CausalRank(Tensor a)
    {
        using var scope = NewDisposeScope();
        long t = a.shape[1];
        var earlier = ones(t, t, dtype: ScalarType.Bool).tril(-1);
        var below = (a.unsqueeze(1) < a.unsqueeze(2)) & earlier.unsqueeze(0);
        var count = below.sum(-1).to(ScalarType.Float32);
        var pos = arange(t, dtype: ScalarType.Float32);
        var rank = count / pos.clamp_min(1);
        rank = where(pos.eq(0).unsqueeze(0), full_like(rank, 0.5f), rank);
        return rank.MoveToOuterDisposeScope();
    }

    /// <summary>Scores above the batch's <paramref name="sparsity"/>-quantile compute the block (exactly that share skips, up to ties).</summary>
    private static Tensor AboveQuantile(Tensor score, double sparsity)
    {
        using var scope = NewDisposeScope();
        var flat = score.flatten();
        long k = (long)Math.Round(sparsity * flat.shape[0]);
        if (k <= 0) return ones_like(score, dtype: ScalarType.Bool).MoveToOuterDisposeScope();
        var threshold = flat.kthvalue(k, 0, false).values;
        return score.gt(threshold).MoveToOuterDisposeScope();
    }

    private sealed class RoutedPass
    {
        public readonly List<Tensor> Gates = [], Probabilities = [], GuideTargets = [];
        public readonly List<int> Layers = [];
        public readonly List<double> Rates = [];
    }

    /// <summary>The model's logits with routing; <paramref name="pass"/> collects gates for the losses and realised rates.</summary>
    private Tensor Logits(TorchLlama model, Tensor tokens, double[] schedule, Mode mode, double staticSign, RoutedPass pass, bool calibrateBias = false)
    {
        using var scope = NewDisposeScope();
        long b = tokens.shape[0], t = tokens.shape[1];
        var x = model.Embed(tokens);
        var a = ones(b, t);
        var pos = (arange(t, dtype: ScalarType.Float32) / _config.MaxSeqLen).unsqueeze(0).expand(b, t);
        var everyone = ones(b, t, dtype: ScalarType.Bool);
        for (int l = 0; l < _config.Layers; l++)
        {
            var layer = model.Layers[l];
            double s = schedule[l];
            if (l == 0 || s <= 0)
            {
                x = layer.ForwardRouted(x, model.Rope, everyone, out var selfAll);
                a = selfAll.detach();
                continue;
            }
            var rank = CausalRank(a);
            var features = stack([pos, a, rank, full_like(a, (float)s)], -1);
            Tensor hard, gate;
            switch (mode)
            {
                case Mode.Static:
                    hard = AboveQuantile(rank * staticSign, s);
                    gate = hard.to(ScalarType.Float32);
                    break;
                case Mode.LearnedQuantile:
                    hard = AboveQuantile(Score(l, features), s);
                    gate = hard.to(ScalarType.Float32);
                    break;
                case Mode.Learned:
                    var z = Score(l, features);
                    if (calibrateBias)
                    {
                        // Shift the output bias so exactly a share s of these tokens has a non-positive logit.
                        var flat = z.flatten();
                        long k = Math.Max(1, (long)Math.Round(s * flat.shape[0]));
                        var threshold = flat.kthvalue(k, 0, false).values;
                        using (no_grad()) _b2[l]!.sub_(threshold);
                        z = z - threshold;
                    }
                    hard = z.gt(0);
                    gate = hard.to(ScalarType.Float32);
                    break;
                default:
                    var logit = Score(l, features);
                    var p = sigmoid(logit);
                    hard = logit.gt(0).detach();
                    // Straight-through: the forward uses the hard decision, the gradient flows through p.
                    gate = hard.to(ScalarType.Float32) + p - p.detach();
                    pass.Probabilities.Add(p.MoveToOuterDisposeScope());
                    pass.GuideTargets.Add(AboveQuantile(rank * staticSign, s).to(ScalarType.Float32).MoveToOuterDisposeScope());
                    break;
            }
            var y = layer.ForwardRouted(x, model.Rope, hard, out var self);
            x = x + gate.unsqueeze(-1) * (y - x);
            a = where(hard, self.detach(), a);
            pass.Layers.Add(l);
            pass.Gates.Add(gate.MoveToOuterDisposeScope());
            pass.Rates.Add(1 - hard.to(ScalarType.Float32).mean().item<float>());
        }
        return model.Head(x).MoveToOuterDisposeScope();
    }

    private double Kl(TorchLlama model, Tensor tokens, Tensor teacher, double[] schedule, Mode mode, double sign)
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var pass = new RoutedPass();
        return Losses.Distillation(Logits(model, tokens, schedule, mode, sign, pass), teacher).item<float>();
    }

    /// <summary>Runs the whole FTP workflow on a calibration token stream and returns Engine routers.</summary>
    public static FtpResult Train(Checkpoint checkpoint, int[] stream, FtpOptions o, Action<string, int, int, double>? progress = null)
    {
        var c = checkpoint.Config;
        if (!(o.TokenSparsity >= 0 && o.TokenSparsity < 1)) throw new ArgumentException($"--token-sparsity must be in [0, 1), got {o.TokenSparsity}");
        if (o.SequenceLength > c.MaxSeqLen) throw new ArgumentException($"--seqlen {o.SequenceLength} exceeds the model's context {c.MaxSeqLen}");
        if (c.Layers < 2) throw new ArgumentException("FTP needs at least two blocks (the first stays dense)");
        using var model = new TorchLlama(checkpoint);
        // Materialise the layers outside any dispose scope: created inside one, their tensors would die with it.
        _ = model.Layers;
        using var router = new FtpRouter(c, o.Hidden, o.Seed);
        var routable = Enumerable.Range(0, c.Layers).Select(l => l > 0).ToArray();

        var fitnessWindows = CalibrationSamples.Draw(stream, o.FitnessWindows, o.SequenceLength, o.Seed + 1);
        using var fitnessTokens = TorchLlama.Tokens(fitnessWindows);
        Tensor fitnessTeacher;
        using (no_grad()) fitnessTeacher = model.Forward(fitnessTokens);

        // The static rule's direction: skip the tokens whose attention factor ranks lowest, or highest — whichever
        // hurts the calibration loss less at the uniform schedule.
        var uniform = SparsityScheduler.Repair(new double[c.Layers], routable, o.TokenSparsity, o.Scheduler.MaxBlockSparsity);
        double lowLoss = router.Kl(model, fitnessTokens, fitnessTeacher, uniform, Mode.Static, +1);
        double highLoss = router.Kl(model, fitnessTokens, fitnessTeacher, uniform, Mode.Static, -1);
        double sign = lowLoss <= highLoss ? +1 : -1;
        string rule = sign > 0 ? "skip low self-attention rank" : "skip high self-attention rank";

        int evaluations = 0;
        var (staticSchedule, staticLoss, history) = SparsityScheduler.Search(routable, o.TokenSparsity,
            s => { progress?.Invoke("search", ++evaluations, 0, 0); return router.Kl(model, fitnessTokens, fitnessTeacher, s, Mode.Static, sign); },
            o.Scheduler, onGeneration: (g, best) => progress?.Invoke("search-generation", g, o.Scheduler.Generations, best));

        // Router training at the searched schedule: imitate the static router first, then all three losses.
        var batches = new TokenBatches(stream, o.SequenceLength, o.Batch, o.Seed);
        var parameters = router.Parameters(staticSchedule);
        int warm = Math.Max(1, o.Steps / 5);
        var training = parameters.Count == 0
            ? new TrainResult([], 0, 0, 0)
            : Trainer.Run(parameters, new TrainOptions { Steps = o.Steps, LearningRate = o.LearningRate, WarmupSteps = Math.Min(o.Steps, 10), Seed = o.Seed }, step =>
            {
                using var tokens = TorchLlama.Tokens(batches.At(step));
                Tensor teacher;
                using (no_grad()) teacher = model.Forward(tokens);
                var pass = new RoutedPass();
                var logits = router.Logits(model, tokens, staticSchedule, Mode.Train, sign, pass);
                var guide = zeros(1);
                var sparsity = zeros(1);
                for (int i = 0; i < pass.Layers.Count; i++)
                {
                    guide = guide + nn.functional.binary_cross_entropy(pass.Probabilities[i], pass.GuideTargets[i]);
                    var keep = 1 - staticSchedule[pass.Layers[i]];
                    sparsity = sparsity + (pass.Gates[i].mean() - keep).square();
                }
                guide = guide / Math.Max(1, pass.Layers.Count);
                sparsity = sparsity / Math.Max(1, pass.Layers.Count);
                var distill = Losses.Distillation(logits, teacher);
                bool imitation = step < warm;
                double guideWeight = imitation ? o.GuideWeight : o.GuideWeight * 0.1 * (1 - (double)(step - warm) / Math.Max(1, o.Steps - warm));
                var total = imitation ? guide * guideWeight : distill + sparsity * o.SparsityWeight + guide * guideWeight;
                return new StepLoss(total.squeeze(), tokens.numel(), new Dictionary<string, Tensor> { ["guide"] = guide.squeeze(), ["sparsity"] = sparsity.squeeze(), ["distill"] = distill });
            }, progress: p => progress?.Invoke("train", p.Step, p.Steps, p.Loss));

        // Fine-tune the schedule with the trained routers (their sparsity input is what lets one router serve a range).
        evaluations = 0;
        var fine = o.Scheduler with { Generations = Math.Max(1, o.Scheduler.Generations / 2), Mutation = o.Scheduler.Mutation / 2, Seed = o.Scheduler.Seed + 1 };
        var (schedule, _, fineHistory) = SparsityScheduler.Search(routable, o.TokenSparsity,
            s => { progress?.Invoke("finetune", ++evaluations, 0, 0); return router.Kl(model, fitnessTokens, fitnessTeacher, s, Mode.LearnedQuantile, sign); },
            fine, start: [staticSchedule], onGeneration: (g, best) => progress?.Invoke("finetune-generation", g, fine.Generations, best));
        // A block the fine-tune moved onto sparsity but whose router was never trained keeps the searched schedule.
        if (Enumerable.Range(1, c.Layers - 1).Any(l => schedule[l] > 0 && staticSchedule[l] <= 0)) schedule = staticSchedule;

        // Calibrate each router's threshold so its block skips exactly its share of the calibration tokens, layer by
        // layer in one pass (a block's factors depend on the routing before it).
        double[] realised;
        double learnedLoss;
        using (no_grad())
        {
            var calibration = new RoutedPass();
            router.Logits(model, fitnessTokens, schedule, Mode.Learned, sign, calibration, calibrateBias: true).Dispose();
            var check = new RoutedPass();
            using var logits = router.Logits(model, fitnessTokens, schedule, Mode.Learned, sign, check);
            learnedLoss = Losses.Distillation(logits, fitnessTeacher).item<float>();
            realised = new double[c.Layers];
            for (int i = 0; i < check.Layers.Count; i++) realised[check.Layers[i]] = check.Rates[i];
        }
        fitnessTeacher.Dispose();
        return new FtpResult(router.ToEngine(checkpoint, schedule, o.TokenSparsity), staticSchedule, schedule, rule, staticLoss, learnedLoss, realised, training, history, fineHistory);
    }

    private FtpRouters ToEngine(Checkpoint checkpoint, double[] schedule, double target)
    {
        int n = _config.Layers;
        var w1 = new float[]?[n];
        var b1 = new float[]?[n];
        var w2 = new float[]?[n];
        var b2 = new float[n];
        static float[] Values(Tensor t)
        {
            using var cpu = t.detach().contiguous();
            return cpu.data<float>().ToArray();
        }
        for (int l = 1; l < n; l++)
        {
            if (schedule[l] <= 0) continue;
            w1[l] = Values(_w1[l]!);
            b1[l] = Values(_b1[l]!);
            w2[l] = Values(_w2[l]!);
            b2[l] = Values(_b2[l]!)[0];
        }
        return new FtpRouters(_config, schedule, w1, b1, w2, b2, FtpRouters.FingerprintOf(checkpoint), target);
    }

    public void Dispose()
    {
        foreach (var p in _w1.Concat(_b1).Concat(_w2).Concat(_b2)) p?.Dispose();
    }
}
