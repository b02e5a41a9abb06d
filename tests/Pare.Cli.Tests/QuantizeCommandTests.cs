using Pare.Core.Formats;
using Pare.Core.Formats.CompressedTensors;
using Pare.Core.Tensors;
using Pare.TestSupport;

namespace Pare.Cli.Tests;

/// <summary>pare quantize end to end: one JSON object, packed files that load back, pare info's formats and bytes.</summary>
public class QuantizeCommandTests
{
    [Fact]
    public void RoundToNearestQ4_0GgufLoadsBackAsBlocks()
    {
        using var dir = new TempDir();
        var r = CliRunner.Run("quantize", "--model", Shared.Stories260K, "--method", "rtn", "--bits", "4", "--group", "32", "--out", dir.File("m.gguf"), "--json");
        Assert.Equal(0, r.ExitCode);
        var json = r.Json();
        Assert.Equal(35, json.GetProperty("quantization").GetProperty("quantized_linears").GetInt32());
        Assert.Equal(30, json.GetProperty("quantization").GetProperty("ggml_blocks").GetInt32()); // down_proj has 172 columns
        var m = ModelLoader.Load(dir.File("m.gguf"));
        Assert.Equal(DType.Q4_0, m["model.layers.0.self_attn.q_proj.weight"].Type);
        Assert.Equal(DType.F32, m["model.layers.0.mlp.down_proj.weight"].Type);
        Assert.NotNull(m.Vocabulary); // found beside the model, so llama.cpp can run the file

        var info = CliRunner.Run("info", "--model", dir.File("m.gguf"), "--json").Json();
        var q = info.GetProperty("tensors").EnumerateArray().First(t => t.GetProperty("name").GetString() == "model.layers.0.self_attn.q_proj.weight");
        Assert.Equal("q4_0", q.GetProperty("dtype").GetString());
        Assert.Equal(64 * 64 / 32 * 18, q.GetProperty("bytes").GetInt64());
    }

    [Fact]
    public void JointSparseGptqWritesCompressedTensorsThatLoadBack()
    {
        using var dir = new TempDir();
        var r = CliRunner.Run("quantize", "--model", Shared.Stories260K, "--method", "gptq", "--bits", "4", "--group", "0", "--sparsity", "2:4",
            "--calibration", Shared.TinyStories, "--samples", "4", "--seqlen", "64", "--out", dir.File("ct"), "--json");
        Assert.Equal(0, r.ExitCode);
        var json = r.Json();
        Assert.True(json.GetProperty("nm_valid").GetBoolean());
        Assert.Equal("compressed-tensors", json.GetProperty("format").GetString());
        var back = CompressedTensorsReader.Read(dir.File("ct"), out var codes);
        Assert.Equal(35, codes.Count);
        // 2:4 survives packing: at most two non-zero codes in every group of four columns.
        foreach (var q in codes.Values)
            for (int row = 0; row < q.Rows; row++)
                for (int c = 0; c + 4 <= q.Columns; c += 4)
                    Assert.True(Enumerable.Range(c, 4).Count(j => q.Codes[row * q.Columns + j] != 0) <= 2);
        Assert.Equal(back.Config.Dim, ModelLoader.Load(dir.File("ct")).Config.Dim);
    }

    [Fact]
    public void ErrorsAreOneJsonObject()
    {
        using var dir = new TempDir();
        var r = CliRunner.Run("quantize", "--model", Shared.Stories260K, "--method", "rtn", "--sparsity", "0.5", "--out", dir.File("m.gguf"), "--json");
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("--sparsity needs --method gptq", r.Json().GetProperty("error").GetString());
        var g = CliRunner.Run("quantize", "--model", Shared.Stories260K, "--method", "gptq", "--out", dir.File("m.gguf"), "--json");
        Assert.Contains("gptq needs --calibration", g.Json().GetProperty("error").GetString());
    }
}
