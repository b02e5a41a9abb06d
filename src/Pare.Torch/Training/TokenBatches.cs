namespace Pare.Torch.Training;

/// <summary>
/// Training batches from a token stream: each step draws <c>batch</c> windows of <c>length</c> tokens at uniformly random
/// starts, from a generator seeded by (seed, step), so any step's batch can be re-drawn (resume, reproducibility).
/// </summary>
public sealed class TokenBatches
{
    private readonly int[] _stream;

    public TokenBatches(int[] stream, int length, int batch, int seed)
    {
        if (length < 2) throw new ArgumentException($"--seqlen must be at least 2, got {length}");
        if (batch < 1) throw new ArgumentException($"--batch must be at least 1, got {batch}");
        if (stream.Length < length) throw new ArgumentException($"the training text has {stream.Length} tokens, fewer than one window of {length}");
        _stream = stream;
        Length = length;
        Batch = batch;
        Seed = seed;
    }

    public int Length { get; }
    public int Batch { get; }
    public int Seed { get; }
    public long TokensPerStep => (long)Length * Batch;

    public List<int[]> At(int step)
    {
        var rng = new Random(unchecked((int)Trainer.StepSeed(Seed, step)));
        var rows = new List<int[]>(Batch);
        for (int i = 0; i < Batch; i++)
        {
            int start = rng.Next(0, _stream.Length - Length + 1);
            rows.Add(_stream.AsSpan(start, Length).ToArray());
        }
        return rows;
    }
}
