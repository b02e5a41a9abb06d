using Pare.Core;

namespace Pare.Torch.Pruning;

/// <summary>One greedy step: the sub-block removed and the calibration loss with it (and all earlier ones) gone.</summary>
public sealed record BlockPrunerStep(int Layer, SubBlock Part, double Loss);

/// <summary>
/// BlockPruner (Zhong et al. 2024): treat each layer's attention and MLP as separate sub-blocks and remove them one at
/// a time, each time the one whose removal (on top of those already removed) gives the lowest calibration
/// perplexity. The loss comes from the caller (Engine perplexity on the calibration windows), so the search scores
/// the model exactly as it will run.
/// </summary>
public static class BlockPruner
{
    public static IReadOnlyList<BlockPrunerStep> Search(Checkpoint checkpoint, int count, Func<Checkpoint, double> calibrationLoss, Action<int, int>? onCandidate = null)
    {
        int layers = checkpoint.Config.Layers;
        if (count < 0 || count > 2 * layers - 1) throw new ArgumentException($"can remove 0..{2 * layers - 1} of {2 * layers} sub-blocks, asked for {count}");
        var removed = new List<(int, SubBlock)>();
        var steps = new List<BlockPrunerStep>();
        int evaluated = 0, total = Enumerable.Range(0, count).Sum(i => 2 * layers - i);
        for (int step = 0; step < count; step++)
        {
            (int Layer, SubBlock Part)? best = null;
            double bestLoss = double.PositiveInfinity;
            for (int l = 0; l < layers; l++)
            {
                foreach (var part in new[] { SubBlock.Attention, SubBlock.Mlp })
                {
                    if (removed.Contains((l, part))) continue;
                    var candidate = removed.Append((l, part)).ToList();
                    // Removing every sub-block of the model leaves nothing to run.
                    if (candidate.Count == 2 * layers) continue;
                    double loss = calibrationLoss(BlockRemoval.Remove(checkpoint, candidate));
                    onCandidate?.Invoke(++evaluated, total);
                    if (loss < bestLoss)
                    {
                        bestLoss = loss;
                        best = (l, part);
                    }
                }
            }
            var chosen = best ?? throw new InvalidOperationException("no sub-block left to remove");
            removed.Add(chosen);
            steps.Add(new BlockPrunerStep(chosen.Layer, chosen.Part, bestLoss));
        }
        return steps;
    }
}
