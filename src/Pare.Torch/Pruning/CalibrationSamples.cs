namespace Pare.Torch.Pruning;

/// <summary>
/// Calibration windows as SparseGPT/Wanda draw them: <c>count</c> windows of <c>length</c> tokens at uniformly
/// random starts in a token stream (for TinyStories: BOS-prefixed stories concatenated), seeded.
/// </summary>
public static class CalibrationSamples
{
    public static List<int[]> Draw(int[] stream, int count, int length, int seed)
    {
        if (count < 1) throw new ArgumentException($"need at least one calibration sample, got {count}");
        if (length < 2) throw new ArgumentException($"calibration windows need at least 2 tokens, got {length}");
        if (stream.Length < length) throw new ArgumentException($"calibration text has {stream.Length} tokens, fewer than one window of {length}");
        var rng = new Random(seed);
        var samples = new List<int[]>(count);
        for (int i = 0; i < count; i++)
        {
            int start = rng.Next(0, stream.Length - length + 1);
            samples.Add(stream.AsSpan(start, length).ToArray());
        }
        return samples;
    }
}
