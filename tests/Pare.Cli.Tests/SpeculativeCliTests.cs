using Pare.TestSupport;

namespace Pare.Cli.Tests;

public class SpeculativeCliTests
{
    [Theory]
    [InlineData("--lookup")]
    [InlineData("--draft-self", "int8")]
    public void SpeculativeGenerateMatchesRunCAndReportsStatistics(params string[] drafter)
    {
        var reference = Shared.ReadJsonLines(Shared.Reference("stories260K.greedy.jsonl")).First();
        var r = CliRunner.Run([.. new[] { "generate", "--model", Shared.Stories260K, "--prompt", reference.GetProperty("prompt").GetString()!,
            "--max-tokens", "200", "--temperature", "0", "--k", "3", "--json" }, .. drafter]);
        Assert.Equal(0, r.ExitCode);
        var json = r.Json();
        Assert.Equal(Shared.Ints(reference.GetProperty("generated_ids")), Shared.Ints(json.GetProperty("generated_ids")));
        var spec = json.GetProperty("speculative");
        int rounds = spec.GetProperty("rounds").GetInt32(), accepted = spec.GetProperty("accepted").GetInt32();
        // Every round yields its accepted drafts plus the target's token; the last round may be cut by the stop token.
        Assert.InRange(json.GetProperty("generated_ids").GetArrayLength(), rounds + accepted - 4, rounds + accepted);
        Assert.Equal((double)(rounds + accepted) / rounds, spec.GetProperty("tau").GetDouble(), 2);
    }

    [Fact]
    public void BenchSpeculativeReadsTurnsAndReportsIdenticalOutput()
    {
        using var dir = new TempDir();
        var prompts = dir.File("p.jsonl");
        File.WriteAllText(prompts, "{\"turns\": [\"Once upon a time\", \"ignored\"]}\n{\"prompt\": \"Tom had a dog\"}\n");
        var r = CliRunner.Run("bench", "speculative", "--model", Shared.Stories260K, "--prompts", prompts, "--drafters", "lookup",
            "--k", "2", "--max-tokens", "24", "--repeats", "1", "--json");
        Assert.Equal(0, r.ExitCode);
        var json = r.Json();
        Assert.Equal(2, json.GetProperty("prompts").GetInt32());
        var row = json.GetProperty("drafters")[0];
        Assert.True(row.GetProperty("identical_to_plain").GetBoolean());
        Assert.True(row.GetProperty("tau").GetDouble() >= 1);
    }
}
