using System.Diagnostics;
using System.Text;
using Pare.TestSupport;

namespace Pare.Core.Tests.Fuzzing;

/// <summary>What a run of seeded mutants of one target gave.</summary>
public sealed record FuzzResult(string Target, int Cases, int Loaded, int FormatErrors, IReadOnlyList<string> Crashes, IReadOnlyList<string> Hangs,
    IReadOnlyList<string> Oversized, long MaxAllocatedBytes, long FixtureBytes, double Seconds)
{
    public bool Clean => Crashes.Count == 0 && Hangs.Count == 0 && Oversized.Count == 0;

    public string ToJson() =>
        $"{{\"target\": \"{Target}\", \"cases\": {Cases}, \"loaded\": {Loaded}, \"format_errors\": {FormatErrors}, \"crashes\": {Crashes.Count}, " +
        $"\"hangs\": {Hangs.Count}, \"oversized\": {Oversized.Count}, \"max_allocated_bytes\": {MaxAllocatedBytes}, \"fixture_bytes\": {FixtureBytes}, \"seconds\": {Seconds:F1}}}";
}

/// <summary>
/// Runs mutants of a target one at a time, each on a worker thread so a hang is seen (and reported) instead of
/// blocking the run. A case passes when the load succeeds or throws <see cref="PareFormatException"/> naming a
/// fixture file; any other exception is a crash, a load still running after <see cref="HangAfter"/> a hang, and a
/// load that allocated more than <see cref="AllocationBound"/> an oversized allocation (a count or size believed
/// before it was checked against the file).
/// </summary>
public static class FuzzRunner
{
    public static readonly TimeSpan HangAfter = TimeSpan.FromSeconds(20);

    /// <summary>
    /// Managed bytes one load may allocate: a few times the fixture (dequantised int8 weights take 4 bytes per
    /// stored byte, a tokenizer's tables several per piece) plus a constant for parsing, far below what a size taken
    /// from a corrupt header would ask for.
    /// </summary>
    public static long AllocationBound(FuzzTarget t) => 8 * t.FixtureBytes + (32L << 20);

    /// <summary>The seed of case <paramref name="index"/> of a target: reproducible alone, independent of the other cases.</summary>
    public static ulong CaseSeed(ulong seed, string target, int index)
    {
        ulong h = 1469598103934665603UL;
        foreach (byte b in Encoding.UTF8.GetBytes(target)) h = (h ^ b) * 1099511628211UL;
        return seed ^ h ^ ((ulong)index * 0x9E3779B97F4A7C15UL);
    }

    public static FuzzResult Run(FuzzTarget target, int cases, ulong seed)
    {
        using var dir = new TempDir();
        foreach (var (name, bytes) in target.Files) File.WriteAllBytes(dir.File(name), bytes);
        var watch = Stopwatch.StartNew();
        int loaded = 0, formatErrors = 0;
        var crashes = new List<string>();
        var hangs = new List<string>();
        var oversized = new List<string>();
        long maxAllocated = 0, bound = AllocationBound(target);

        // The unmutated fixture must load: otherwise every "format error" below would mean nothing.
        var baseline = LoadOnce(target, dir.Path);
        if (target.FixtureLoads ? baseline.Error != null : baseline.Error is not PareFormatException)
            throw new InvalidOperationException($"{target.Name}: the unmutated fixture does not behave as the target says ({baseline.Error?.Message ?? "it loads"})", baseline.Error);

        for (int i = 0; i < cases; i++)
        {
            var mutator = new Mutator(CaseSeed(seed, target.Name, i));
            var file = target.Mutable[mutator.Below(target.Mutable.Count)];
            var original = target.Files[file.Name];
            var (bytes, what) = file.Custom != null && mutator.Below(2) == 0
                ? file.Custom(mutator, original)
                : mutator.Mutate(original, file.HeaderBytes, file.Fields, file.IsJson);
            File.WriteAllBytes(dir.File(file.Name), bytes);
            string label = $"{target.Name} case {i} ({file.Name}: {what})";

            var run = Task.Run(() => LoadOnce(target, dir.Path));
            if (!run.Wait(HangAfter))
            {
                hangs.Add(label);
                // The stuck load keeps the fixture folder busy; later cases get a fresh one.
                break;
            }
            var (error, allocated) = run.Result;
            maxAllocated = Math.Max(maxAllocated, allocated);
            if (allocated > bound) oversized.Add($"{label}: allocated {allocated} bytes, bound {bound}");
            if (error == null) loaded++;
            else if (error is PareFormatException pe && pe.Message.Contains(dir.Path, StringComparison.Ordinal)) formatErrors++;
            else if (error is PareFormatException) crashes.Add($"{label}: format error that names no fixture file: {error.Message}");
            else crashes.Add($"{label}: {error.GetType().Name}: {error.Message} {FirstFrame(error)}");
            File.WriteAllBytes(dir.File(file.Name), original);
        }
        return new FuzzResult(target.Name, cases, loaded, formatErrors, crashes, hangs, oversized, maxAllocated, target.FixtureBytes, watch.Elapsed.TotalSeconds);
    }

    private static (Exception? Error, long Allocated) LoadOnce(FuzzTarget target, string dir)
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        try
        {
            target.Load(dir);
            return (null, GC.GetAllocatedBytesForCurrentThread() - before);
        }
        catch (Exception e)
        {
            return (e, GC.GetAllocatedBytesForCurrentThread() - before);
        }
    }

    private static string FirstFrame(Exception e)
        => e.StackTrace?.Split('\n').FirstOrDefault(l => l.Contains("Pare.", StringComparison.Ordinal))?.Trim() ?? "";
}
