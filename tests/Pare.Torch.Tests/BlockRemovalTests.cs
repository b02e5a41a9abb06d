using Pare.Core;
using Pare.Torch.Pruning;
using static TorchSharp.torch;

namespace Pare.Torch.Tests;

/// <summary>ShortGPT's Block Influence and BlockPruner's greedy search.</summary>
[Collection(TorchCollection.Name)]
public class BlockRemovalTests
{
    [Fact]
    public void BlockInfluenceIsOneMinusTheMeanCosineOfEachLayersInputAndOutput()
    {
        var ckpt = TestModels.Stories260K;
        var samples = CalibrationSamples.Draw(TestModels.CalibrationStream, 4, 64, seed: 1);
        var bi = ShortGpt.Influence(ckpt, samples);

        // Independent: the whole model's layers in sequence, cosines written out in double precision.
        using var _ = no_grad();
        using var model = new TorchLlama(ckpt);
        using var tokens = TorchLlama.Tokens(samples);
        var x = model.Embed(tokens);
        for (int l = 0; l < ckpt.Config.Layers; l++)
        {
            var y = model.Layers[l].Forward(x, model.Rope);
            var a = x.to(ScalarType.Float64).reshape(-1, ckpt.Config.Dim);
            var b = y.to(ScalarType.Float64).reshape(-1, ckpt.Config.Dim);
            var cos = (a * b).sum(1) / (a.norm(1) * b.norm(1));
            double expected = 1 - cos.mean().item<double>();
            Assert.Equal(expected, bi[l].Value, 9);
            x = y;
        }
        int lowest = bi.MinBy(b => b.Value)!.Layer;
        Assert.Equal([lowest], ShortGpt.Choose(bi, 1));
        Assert.Equal(2, ShortGpt.Choose(bi, 2).Length);
        Assert.Throws<ArgumentException>(() => ShortGpt.Choose(bi, 5));
    }

    [Fact]
    public void BlockPrunerRemovesTheCheapestSubBlockAtEachStep()
    {
        // A loss with a known greedy order: each removed sub-block costs its weight (layer 1's MLP, then layer 0's
        // attention cost least); dropping a whole layer costs 10, so the third step takes layer 2's attention (ties go
        // to the first candidate) rather than layer 0's cheap MLP.
        var ckpt = TestModels.Stories260K;
        double Cost(int l, SubBlock p) => (l, p) switch { (1, SubBlock.Mlp) => 0.1, (0, SubBlock.Attention) => 0.2, (1, SubBlock.Attention) => 0.3, _ => 1 + l };
        double Loss(Checkpoint c)
        {
            double loss = 0;
            // Recover what was removed from the written checkpoint: dropped layers shrink the count, zeros mark halves.
            if (c.Config.Layers < ckpt.Config.Layers) return 10;
            for (int l = 0; l < c.Config.Layers; l++)
            {
                if (Pare.Engine.LlamaWeights.IsZero(c[LlamaTensorNames.Output(l)])) loss += Cost(l, SubBlock.Attention);
                if (Pare.Engine.LlamaWeights.IsZero(c[LlamaTensorNames.Down(l)])) loss += Cost(l, SubBlock.Mlp);
            }
            return loss;
        }
        var steps = BlockPruner.Search(ckpt, 3, Loss);
        Assert.Equal([(1, SubBlock.Mlp), (0, SubBlock.Attention), (2, SubBlock.Attention)], steps.Select(s => (s.Layer, s.Part)));
        Assert.Throws<ArgumentException>(() => BlockPruner.Search(ckpt, 10, Loss));
    }
}
