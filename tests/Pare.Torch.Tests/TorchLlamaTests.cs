using Pare.Engine;
using TorchSharp;
using static TorchSharp.torch;

namespace Pare.Torch.Tests;

[Collection(TorchCollection.Name)]
public class TorchLlamaTests
{
    [Fact]
    public void TorchSharpLoadsAndMultiplies()
    {
        using var a = tensor(new float[] { 1, 2, 3, 4 }, new long[] { 2, 2 });
        using var b = tensor(new float[] { 5, 6, 7, 8 }, new long[] { 2, 2 });
        using var c = matmul(a, b);
        Assert.Equal(new float[] { 19, 22, 43, 50 }, c.data<float>().ToArray());
        Assert.True(get_num_threads() >= 1);
    }

    [Fact]
    public void LogitsMatchRunCReferenceAndEngine()
    {
        var (ids, vocab, expected) = TestModels.ReferenceLogits();
        using var model = new TorchLlama(TestModels.Stories260K);
        float[] logits;
        using (no_grad())
        using (var tokens = TorchLlama.Tokens(new[] { ids }))
        using (var output = model.Forward(tokens))
            logits = output.data<float>().ToArray();
        Assert.Equal(expected.Length, logits.Length);
        float worst = 0;
        for (int i = 0; i < logits.Length; i++) worst = Math.Max(worst, Math.Abs(logits[i] - expected[i]));
        Assert.True(worst < 1e-4f, $"max |Δ| vs run.c = {worst}");

        var engine = new Transformer(LlamaWeights.FromCheckpoint(TestModels.Stories260K));
        var engineLogits = new float[ids.Length * vocab];
        engine.Forward(ids, engine.NewCache(), engineLogits);
        worst = 0;
        for (int i = 0; i < logits.Length; i++) worst = Math.Max(worst, Math.Abs(logits[i] - engineLogits[i]));
        Assert.True(worst < 1e-4f, $"max |Δ| vs Engine = {worst}");
    }

    [Fact]
    public void LayerByLayerEqualsFullForward()
    {
        var ids = TestModels.CalibrationStream.Take(40).ToArray();
        using var model = new TorchLlama(TestModels.Stories260K);
        using var _ = no_grad();
        using var tokens = TorchLlama.Tokens(new[] { ids, ids.Reverse().ToArray() });
        using var full = model.Forward(tokens);
        var x = model.Embed(tokens);
        for (int l = 0; l < model.Config.Layers; l++)
        {
            using var layer = model.LoadLayer(l);
            var next = layer.Forward(x, model.Rope);
            x.Dispose();
            x = next;
        }
        using var staged = model.Head(x);
        x.Dispose();
        Assert.True(full.allclose(staged, rtol: 0, atol: 1e-5));
    }
}
