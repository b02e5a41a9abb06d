using System.Diagnostics;
using Pare.Core;
using Pare.Core.Tokenizers;
using Pare.Engine;
using Pare.Eval;
using Pare.Torch;
using Pare.Torch.Recovery;
using Pare.Torch.Training;

namespace Pare.Cli;

/// <summary>The settings of one recovery run (see <see cref="RecoveryPipeline"/>).</summary>
public sealed record RecoverySettings
{
    public required IReadOnlyList<string> Data { get; init; }
    public string Select { get; init; } = "all";
    public double Budget { get; init; } = 0.1;
    public bool SelfDistill { get; init; }
    public required LoraOptions Lora { get; init; }
    public required TrainOptions Train { get; init; }
    public int SeqLen { get; init; } = 256;
    public int Batch { get; init; } = 8;
    /// <summary>The share of each domain's samples (from its start) that may train; the rest is held out.</summary>
    public double TrainShare { get; init; } = 0.5;
    /// <summary>At most this many training samples per domain (the first ones of its training part), to bound selection cost.</summary>
    public int MaxSamples { get; init; } = 300;
    public int Clusters { get; init; } = 8;
    /// <summary>"minilm" (sentence encoder, falling back to hidden states when it cannot load) or "hidden".</summary>
    public string Encoder { get; init; } = "minilm";
    public int EvalWindow { get; init; } = 128;
    public int EvalWindows { get; init; } = 16;
    public int Threads { get; init; } = 1;
    /// <summary>Folder where embeddings and degradation scores are kept between runs on the same data and models (null = none).</summary>
    public string? CacheDir { get; init; }

    public void Validate()
    {
        if (Data.Count == 0) throw new ArgumentException("--data names no file");
        if (Select is not ("all" or "random" or "assl" or "paser")) throw new ArgumentException($"--select must be all, random, assl or paser, got '{Select}'");
        if (!(Budget > 0 && Budget <= 1)) throw new ArgumentException($"--budget must be in (0, 1], got {Budget}");
        if (TrainShare is <= 0 or >= 1) throw new ArgumentException($"--train-share must be in (0, 1), got {TrainShare}");
        if (MaxSamples < 1) throw new ArgumentException($"--max-samples must be at least 1, got {MaxSamples}");
        if (Clusters < 1) throw new ArgumentException($"--clusters must be at least 1, got {Clusters}");
        if (Encoder is not ("minilm" or "hidden")) throw new ArgumentException($"--encoder must be minilm or hidden, got '{Encoder}'");
        if (EvalWindow < 2) throw new ArgumentException($"--eval-window must be at least 2, got {EvalWindow}");
        if (EvalWindows < 0) throw new ArgumentException($"--eval-windows must be ≥ 0 (0 = no evaluation), got {EvalWindows}");
        Lora.Validate();
        Train.Validate();
    }
}

/// <summary>Per-domain held-out perplexity of the teacher, the pruned model and the recovered model.</summary>
public sealed record DomainResult(string Domain, int TrainSamples, int EvalSamples, int Chosen, double DensePpl, double PrunedPpl, double RecoveredPpl)
{
    /// <summary>(ppl_pruned − ppl_recovered) / (ppl_pruned − ppl_dense): 1 = back to dense, 0 = no better than pruned.</summary>
    public double RecoveredShare => PrunedPpl - DensePpl is var gap && gap > 0 ? (PrunedPpl - RecoveredPpl) / gap : double.NaN;
}

public sealed record RecoveryResult(
    Checkpoint Recovered, IReadOnlyList<RecoverySample> Pool, DataSelectionResult Selection, string? Embedder, string? EmbedderWarning,
    TrainResult Training, long LoraParameters, bool MaskedLora, IReadOnlyList<DomainResult> Domains, IReadOnlyDictionary<string, double> Seconds);

/// <summary>
/// Recovery of a pruned model: load a heterogeneous data mix, hold out the second part of every domain, choose the
/// training samples (all, random, ASSL or PASER at a budget), optionally have the dense teacher regenerate them
/// (self-data distillation), train LoRA adapters on the frozen pruned weights (masked to the pruning pattern), merge
/// them, and measure every domain's held-out perplexity before and after, beside the teacher's.
/// </summary>
public static class RecoveryPipeline
{
    public sealed record Progress(string Stage, int Done, int Total);

    public static RecoveryResult Run(Checkpoint pruned, Checkpoint teacher, ITokenizer tokenizer, RecoverySettings s, Action<Progress>? progress = null,
        Action<TrainProgress>? trainProgress = null)
    {
        s.Validate();
        if (pruned.Config.Dim != teacher.Config.Dim || pruned.Config.Layers != teacher.Config.Layers || pruned.Config.VocabSize != teacher.Config.VocabSize || pruned.Config.HiddenDim != teacher.Config.HiddenDim)
            throw new ArgumentException($"--teacher {teacher.Source} has another shape than --model {pruned.Source}; it must be the dense model the pruned one came from");
        if (s.SeqLen > pruned.Config.MaxSeqLen) throw new ArgumentException($"--seqlen {s.SeqLen} exceeds the model's context {pruned.Config.MaxSeqLen}");
        var seconds = new Dictionary<string, double>();
        var clock = Stopwatch.StartNew();

        // Data: per domain, the training part (capped) and the held-out part, disjoint by construction.
        var pool = new List<RecoverySample>();
        var held = new Dictionary<string, List<RecoverySample>>();
        foreach (var spec in s.Data)
        {
            var (domain, path) = RecoveryData.ParseSpec(spec);
            if (held.ContainsKey(domain)) throw new ArgumentException($"--data: domain '{domain}' given twice; name them DOMAIN=FILE");
            var all = RecoveryData.Load(domain, path);
            if (all.Count < 2) throw new PareFormatException(path, "needs at least two samples (one to train, one held out)");
            pool.AddRange(RecoveryData.Slice(all, 0, s.TrainShare).Take(s.MaxSamples));
            held[domain] = RecoveryData.Slice(all, s.TrainShare, 1);
        }
        var rows = pool.Select(p => Truncate(tokenizer.Encode(p.Text, addBos: true), s.SeqLen)).ToList();
        var usable = Enumerable.Range(0, pool.Count).Where(i => rows[i].Length >= 2).ToList();
        if (usable.Count == 0) throw new ArgumentException("the data has no sample of at least two tokens");
        pool = usable.Select(i => pool[i]).ToList();
        rows = usable.Select(i => rows[i]).ToList();
        seconds["load"] = Lap(clock);

        var prunedWeights = LlamaWeights.FromCheckpoint(pruned);
        var teacherWeights = LlamaWeights.FromCheckpoint(teacher);
        using var model = new TorchLlama(pruned);

        // Selection.
        string? embedderName = null, warning = null;
        DataSelectionResult selection;
        if (s.Select is "all") selection = DataSelection.All(pool.Count);
        else if (s.Select is "random") selection = DataSelection.Random(pool.Count, s.Budget, s.Train.Seed);
        else
        {
            var scoreKey = Key("degradation", Identity(teacher.Source), Identity(pruned.Source), string.Join(";", rows.Select(r => string.Join(",", r))));
            var scores = Cached(s.CacheDir, scoreKey, () => SampleDegradation.Score(teacherWeights, prunedWeights, rows, s.Threads, d => progress?.Invoke(new("degradation", d, rows.Count)))
                    .Select(x => new[] { x.Tokens, x.DenseNll, x.PrunedNll, x.Jsd }).ToArray())
                .Select(x => new SampleScore((int)x[0], x[1], x[2], x[3])).ToArray();
            seconds["degradation"] = Lap(clock);
            Func<ISentenceEmbedder> fallback = () => new HiddenStateEmbedder(model, t => tokenizer.Encode(t, addBos: true), s.SeqLen);
            var texts = pool.Select(p => p.Text).ToList();
            float[][] vectors;
            // The encoder's vectors do not depend on the models; the fallback's depend on the pruned model.
            var embedKey = Key("embedding", s.Encoder, s.Encoder == "hidden" ? Identity(pruned.Source) : "", string.Join("\0", texts));
            if (TryRead(s.CacheDir, embedKey, out var cachedVectors, out var cachedName))
            {
                vectors = cachedVectors.Select(v => v.Select(x => (float)x).ToArray()).ToArray();
                embedderName = cachedName;
            }
            else
            {
                var (embedder, warn) = SentenceEmbeddings.Choose(s.Encoder == "minilm" ? () => new MiniLmEmbedder(s.Threads) : null, fallback);
                embedderName = embedder.Name;
                warning = warn;
                vectors = embedder.Embed(texts, d => progress?.Invoke(new("embedding", d, pool.Count)));
                (embedder as IDisposable)?.Dispose();
                // A fallback forced by a missing encoder is not cached under the encoder's key.
                if (warn is null) Write(s.CacheDir, embedKey, vectors.Select(v => v.Select(x => (double)x).ToArray()).ToArray(), embedderName);
            }
            seconds["embedding"] = Lap(clock);
            selection = s.Select == "assl"
                ? AsslSelector.Select(vectors, scores.Select(x => x.PrunedNll).ToList(), s.Budget, s.Train.Seed)
                : PaserSelector.Select(vectors, scores.Select(x => x.Jsd).ToList(), s.Budget, s.Clusters, s.Train.Seed);
            seconds["selection"] = Lap(clock);
        }

        // Training rows: the chosen samples, regenerated by the teacher when self-distilling.
        var chosenRows = selection.Indices.Select(i => rows[i]).ToList();
        if (s.SelfDistill)
        {
            chosenRows = SelfDataDistillation.Regenerate(teacherWeights, chosenRows, s.Train.Seed, s.Threads, d => progress?.Invoke(new("self-distill", d, chosenRows.Count))).ToList();
            seconds["self_distill"] = Lap(clock);
        }
        var stream = chosenRows.SelectMany(r => r).ToArray();
        int seqlen = Math.Min(s.SeqLen, stream.Length);
        var batches = new TokenBatches(stream, seqlen, s.Batch, s.Train.Seed);

        bool masked = HasZeros(pruned);
        TorchSharp.torch.set_num_threads(s.Threads);
        using var lora = Lora.Attach(model, s.Lora, keepSparsity: masked);
        lora.SetTraining(true);
        var training = Trainer.Run(lora.Parameters, s.Train, step =>
        {
            var tokens = TorchLlama.Tokens(batches.At(step));
            return new StepLoss(Losses.NextTokenCrossEntropy(model.Forward(tokens), tokens), batches.TokensPerStep);
        }, progress: trainProgress);
        lora.SetTraining(false);
        long loraParameters = lora.ParameterCount;
        lora.Merge();
        var recovered = model.ToCheckpoint();
        seconds["train"] = Lap(clock);

        // Held-out perplexity per domain on the Engine (what is deployed is what is measured).
        var recoveredWeights = LlamaWeights.FromCheckpoint(recovered);
        var chosenPerDomain = selection.Indices.GroupBy(i => pool[i].Domain).ToDictionary(g => g.Key, g => g.Count());
        var domains = new List<DomainResult>();
        int di = 0;
        // --eval-windows 0 skips the evaluation (cost measurements at shapes where three models' perplexities would dominate).
        foreach (var (domain, samples) in s.EvalWindows == 0 ? new Dictionary<string, List<RecoverySample>>() : held)
        {
            progress?.Invoke(new("evaluation", di++, held.Count));
            var tokens = samples.SelectMany(x => tokenizer.Encode(x.Text, addBos: true)).ToArray();
            int window = Math.Min(s.EvalWindow, tokens.Length);
            if (window < 2) throw new PareFormatException(domain, "the held-out part has fewer than two tokens");
            double Ppl(LlamaWeights w) => Math.Exp(Perplexity.Evaluate(w, tokens, window, s.EvalWindows, s.Threads).MeanNll);
            domains.Add(new DomainResult(domain, pool.Count(p => p.Domain == domain), samples.Count, chosenPerDomain.GetValueOrDefault(domain),
                Ppl(teacherWeights), Ppl(prunedWeights), Ppl(recoveredWeights)));
        }
        seconds["evaluation"] = Lap(clock);
        return new RecoveryResult(recovered, pool, selection, embedderName, warning, training, loraParameters, masked, domains, seconds);
    }

    private static string Identity(string path)
    {
        var full = Path.GetFullPath(path);
        var info = File.Exists(full) ? new FileInfo(full) : null;
        return $"{full}|{info?.Length}|{info?.LastWriteTimeUtc.Ticks}";
    }

    private static string Key(params string[] parts)
        => Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(string.Join("\n", parts))))[..24];

    private static double[][] Cached(string? dir, string key, Func<double[][]> compute)
    {
        if (TryRead(dir, key, out var rows, out _)) return rows;
        var value = compute();
        Write(dir, key, value, "");
        return value;
    }

    /// <summary>Cache files: a label, then rows of doubles; written to a temp file and renamed so an interrupted run leaves none half-written.</summary>
    private static bool TryRead(string? dir, string key, out double[][] rows, out string label)
    {
        rows = Array.Empty<double[]>();
        label = "";
        if (dir is null) return false;
        var path = Path.Combine(dir, key + ".bin");
        if (!File.Exists(path)) return false;
        using var r = new BinaryReader(File.OpenRead(path));
        label = r.ReadString();
        int n = r.ReadInt32();
        rows = new double[n][];
        for (int i = 0; i < n; i++)
        {
            rows[i] = new double[r.ReadInt32()];
            for (int j = 0; j < rows[i].Length; j++) rows[i][j] = r.ReadDouble();
        }
        return true;
    }

    private static void Write(string? dir, string key, double[][] rows, string label)
    {
        if (dir is null) return;
        Directory.CreateDirectory(dir);
        var path = Path.Combine(dir, key + ".bin");
        var tmp = path + ".tmp";
        using (var w = new BinaryWriter(File.Create(tmp)))
        {
            w.Write(label);
            w.Write(rows.Length);
            foreach (var row in rows)
            {
                w.Write(row.Length);
                foreach (var v in row) w.Write(v);
            }
        }
        File.Move(tmp, path, overwrite: true);
    }

    private static int[] Truncate(int[] ids, int max) => ids.Length > max ? ids[..max] : ids;

    private static bool HasZeros(Checkpoint c)
    {
        for (int l = 0; l < c.Config.Layers; l++)
            foreach (var kind in LinearKinds.All)
                if (c[kind.TensorName(l)].ToFloat32().AsSpan().IndexOf(0f) >= 0) return true;
        return false;
    }

    private static double Lap(Stopwatch sw)
    {
        double t = sw.Elapsed.TotalSeconds;
        sw.Restart();
        return Math.Round(t, 3);
    }
}
