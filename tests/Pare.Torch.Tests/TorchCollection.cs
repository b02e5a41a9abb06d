namespace Pare.Torch.Tests;

/// <summary>
/// Every test that runs libtorch shares this collection: they run one after another, so none races another's
/// torch.set_num_threads (a process-wide setting) and two CPU-heavy tests never compete for the cores.
/// </summary>
[CollectionDefinition(Name)]
public sealed class TorchCollection
{
    public const string Name = "libtorch";
}
