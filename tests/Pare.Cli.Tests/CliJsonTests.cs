using Pare.TestSupport;

namespace Pare.Cli.Tests;

public class CliJsonTests
{
    [Fact]
    public void GenerateGreedyPrintsOneJsonObjectMatchingRunC()
    {
        var reference = Shared.ReadJsonLines(Shared.Reference("stories260K.greedy.jsonl")).First();
        var r = CliRunner.Run("generate", "--model", Shared.Stories260K, "--tokenizer", Shared.Stories260KTokenizer,
            "--prompt", reference.GetProperty("prompt").GetString()!, "--max-tokens", "200", "--temperature", "0", "--json");
        Assert.Equal(0, r.ExitCode);
        var json = r.Json();
        Assert.Equal(Shared.Ints(reference.GetProperty("prompt_ids")), Shared.Ints(json.GetProperty("prompt_ids")));
        Assert.Equal(Shared.Ints(reference.GetProperty("generated_ids")), Shared.Ints(json.GetProperty("generated_ids")));
        Assert.StartsWith(reference.GetProperty("prompt").GetString()!, json.GetProperty("text").GetString());
        Assert.True(json.GetProperty("tokens_per_second").GetDouble() > 0);
    }

    [Fact]
    public void TokenizerBesideTheModelIsFound()
    {
        var r = CliRunner.Run("generate", "--model", Shared.Stories260K, "--prompt", "Once upon a time", "--max-tokens", "5", "--temperature", "0", "--json");
        Assert.Equal(0, r.ExitCode);
        Assert.Equal(5, r.Json().GetProperty("generated_ids").GetArrayLength());
    }

    [Fact]
    public void MissingModelIsAClearJsonError()
    {
        var r = CliRunner.Run("info", "--model", "/nonexistent/model.bin", "--json");
        Assert.Equal(1, r.ExitCode);
        var error = r.Json().GetProperty("error").GetString()!;
        Assert.Contains("/nonexistent/model.bin", error);
        Assert.Contains("not found", error);
    }

    [Fact]
    public void TokenizerWithAnotherVocabularyIsRejected()
    {
        var r = CliRunner.Run("generate", "--model", Shared.Stories260K, "--tokenizer", Shared.PathOf("tokenizers", "llama2", "tokenizer.bin"), "--prompt", "Hi", "--json");
        Assert.Equal(1, r.ExitCode);
        var error = r.Json().GetProperty("error").GetString()!;
        Assert.Contains("tokenizer.bin", error);
        Assert.Contains("512", error);
    }

    [Fact]
    public void InfoReportsArchitectureAndParameterCount()
    {
        var r = CliRunner.Run("info", "--model", Shared.Stories260K, "--json");
        Assert.Equal(0, r.ExitCode);
        var json = r.Json();
        // MANIFEST.md: dim 64, hidden 172, 5 layers, 8 heads, 4 kv heads, vocab 512, shared classifier.
        Assert.Equal(64, json.GetProperty("dim").GetInt32());
        Assert.Equal(172, json.GetProperty("hidden_dim").GetInt32());
        Assert.Equal(5, json.GetProperty("layers").GetInt32());
        Assert.Equal(4, json.GetProperty("kv_heads").GetInt32());
        long expected = 512 * 64 + 5 * (2 * 64 + 64 * 64 * 2 + 2 * 32 * 64 + 3 * 64 * 172) + 64;
        Assert.Equal(expected, json.GetProperty("parameters").GetInt64());
        Assert.Equal("f32", json.GetProperty("dtype").GetString());
    }

    [Fact]
    public void EvalPplOnAFewWindowsMatchesReference()
    {
        var r = CliRunner.Run("eval", "ppl", "--model", Shared.Stories260K, "--data", Shared.TinyStories, "--format", "tinystories", "--window", "256", "--max-windows", "8", "--json");
        Assert.Equal(0, r.ExitCode);
        var json = r.Json();
        var reference = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Shared.Reference("stories260K.ppl.json"))).RootElement
            .GetProperty("windows").GetProperty("256").GetProperty("window_nll").EnumerateArray().Take(8).Average(e => e.GetDouble());
        Assert.Equal(8, json.GetProperty("windows").GetInt32());
        Assert.Equal(8 * 255, json.GetProperty("tokens_scored").GetInt64());
        Assert.True(Math.Abs(json.GetProperty("mean_nll").GetDouble() - reference) < 1e-4);
    }

    [Fact]
    public void UsageErrorsAreJsonWhenJsonIsAsked()
    {
        var r = CliRunner.Run("eval", "ppl", "--model", Shared.Stories260K, "--data", Shared.TinyStories, "--format", "nonsense", "--json");
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("nonsense", r.Json().GetProperty("error").GetString());
    }
}
