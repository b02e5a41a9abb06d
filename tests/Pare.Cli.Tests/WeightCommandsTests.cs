using Pare.Core.Formats.Gguf;
using Pare.TestSupport;

namespace Pare.Cli.Tests;

/// <summary>pare convert --weights, pare synth and pare bench end to end.</summary>
public class WeightCommandsTests
{
    [Theory]
    [InlineData("int8", "q8_0", GgmlType.Q8_0)]
    [InlineData("int4", "q4_0", GgmlType.Q4_0)]
    public void ConvertWeightsWritesLlamaCppBlocks(string weights, string suffix, GgmlType type)
    {
        using var dir = new TempDir();
        var input = Shared.PathOf("models", "synthetic-tiny", "synthetic-tiny.f32.gguf");
        var r = CliRunner.Run("convert", "--model", input, "--to", "gguf", "--weights", weights, "--out", dir.File("q.gguf"), "--json");
        Assert.Equal(0, r.ExitCode);
        var ours = GgufFile.Open(dir.File("q.gguf"));
        var theirs = GgufFile.Open(Shared.PathOf("models", "synthetic-tiny", $"synthetic-tiny.{suffix}.gguf"));
        int compared = 0;
        foreach (var info in theirs.Tensors.Where(t => t.Type == type))
        {
            Assert.Equal(type, ours.TensorInfo(info.Name).Type);
            Assert.True(ours.ReadTensor(info.Name).Data.Span.SequenceEqual(theirs.ReadTensor(info.Name).Data.Span), $"{info.Name} differs");
            compared++;
        }
        Assert.True(compared >= 14);
    }

    [Fact]
    public void SynthThenBenchDecodeReportsEveryFormat()
    {
        using var dir = new TempDir();
        var synth = CliRunner.Run("synth", "--shape", "dim=64,hidden=128,layers=2,heads=4,kv_heads=2,vocab=256,seq=64", "--seed", "3", "--out", dir.File("m.bin"), "--json");
        Assert.Equal(0, synth.ExitCode);
        Assert.Equal(2 * 256 * 64 + 2 * (2 * 64 * 64 + 2 * 32 * 64 + 3 * 64 * 128 + 2 * 64) + 64, synth.Json().GetProperty("parameters").GetInt64());
        var bench = CliRunner.Run("bench", "decode", "--model", dir.File("m.bin"), "--weights", "f32,f16,bf16,int8,int4,2:4-int8,sparse-int8", "--threads", "1,2", "--tokens", "8", "--runs", "1", "--probe-mib", "16", "--json");
        Assert.Equal(0, bench.ExitCode);
        var results = bench.Json().GetProperty("results").EnumerateArray().ToArray();
        Assert.Equal(14, results.Length);
        Assert.All(results, row =>
        {
            Assert.True(row.GetProperty("tokens_per_second_median").GetDouble() > 0);
            // Each row's bandwidth is the median of the 2 × 9 passes probed beside it.
            double median = row.GetProperty("bandwidth_gb_per_second").GetDouble();
            Assert.InRange(median, row.GetProperty("bandwidth_gb_per_second_min").GetDouble(), row.GetProperty("bandwidth_gb_per_second_max").GetDouble());
            Assert.True(median > 0);
            Assert.True(row.GetProperty("fraction_of_run_bandwidth").GetDouble() > 0);
        });
        // Start probe + before/after each of the 7 formats' rows at that thread count, 9 passes each.
        var two = bench.Json().GetProperty("bandwidth_gb_per_second").GetProperty("2");
        Assert.Equal(9 * (1 + 2 * 7), two.GetProperty("passes").GetInt32());
        Assert.InRange(two.GetProperty("median").GetDouble(), two.GetProperty("min").GetDouble(), two.GetProperty("max").GetDouble());
    }
}
