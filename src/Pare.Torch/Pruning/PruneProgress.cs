namespace Pare.Torch.Pruning;

/// <summary>Progress of a pruning run: the stage ("gradients", "owl", "prune") and how far it got.</summary>
public readonly record struct PruneProgress(string Stage, int Done, int Total);
