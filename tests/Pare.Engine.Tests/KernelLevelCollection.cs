namespace Pare.Engine.Tests;

/// <summary>
/// Tests that change the process-wide <see cref="Kernels.KernelDispatch.Level"/> or measure process-wide
/// allocation run alone, after the parallel tests.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class KernelLevelCollection
{
    public const string Name = "kernel level";
}
