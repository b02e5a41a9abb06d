using Xunit.Abstractions;

namespace Pare.Core.Tests.Fuzzing;

/// <summary>
/// Seeded mutation fuzzing of every reader (llama.cpp and safetensors fuzz theirs continuously): each mutant of a real
/// file must load or fail with <see cref="PareFormatException"/> naming the file — never another exception, a hang
/// or an allocation out of proportion to the file. PARE_FUZZ_CASES (cases per reader), PARE_FUZZ_SEED and
/// PARE_FUZZ_REPORT (a file to append one JSON line per reader to) let bench/fuzz.sh run the same test at scale.
/// </summary>
public class ReaderFuzzTests(ITestOutputHelper output)
{
    public const ulong DefaultSeed = 20261207;
    private const int DefaultCases = 200;

    public static TheoryData<string> Targets() => new(FuzzTargets.Names);

    [Theory]
    [MemberData(nameof(Targets))]
    public void MutantsLoadOrFailWithAFormatError(string target)
    {
        var fuzzTarget = FuzzTargets.Get(target);
        int cases = int.TryParse(Environment.GetEnvironmentVariable("PARE_FUZZ_CASES"), out int n) ? n : (int)(DefaultCases * fuzzTarget.SuiteShare);
        ulong seed = ulong.TryParse(Environment.GetEnvironmentVariable("PARE_FUZZ_SEED"), out ulong s) ? s : DefaultSeed;
        var result = FuzzRunner.Run(fuzzTarget, cases, seed);
        output.WriteLine(result.ToJson());
        if (Environment.GetEnvironmentVariable("PARE_FUZZ_REPORT") is { Length: > 0 } report)
            lock (typeof(ReaderFuzzTests)) File.AppendAllText(report, result.ToJson() + "\n");
        foreach (var line in result.Crashes.Concat(result.Hangs).Concat(result.Oversized).Take(20)) output.WriteLine(line);
        Assert.True(result.Clean, string.Join("\n", result.Crashes.Concat(result.Hangs).Concat(result.Oversized).Take(10)));
        // The mutations must reach the readers' checks, not only the weights: most mutants are refused.
        Assert.True(result.FormatErrors > 0, $"{target}: no mutant was refused");
        Assert.Equal(cases, result.Loaded + result.FormatErrors);
    }

    [Fact]
    public void MutationsAreDeterministicPerSeed()
    {
        var original = Enumerable.Range(0, 300).Select(i => (byte)i).ToArray();
        Field[] fields = [new(0, 4, "a"), new(8, 8, "b", IsOffset: true)];
        for (int i = 0; i < 50; i++)
        {
            var a = new Mutator(FuzzRunner.CaseSeed(DefaultSeed, "x", i)).Mutate(original, 64, fields, isJson: false);
            var b = new Mutator(FuzzRunner.CaseSeed(DefaultSeed, "x", i)).Mutate(original, 64, fields, isJson: false);
            Assert.Equal(a.What, b.What);
            Assert.Equal(a.Bytes, b.Bytes);
        }
    }
}
