namespace Pare.Engine.Kernels;

/// <summary>
/// A unit of work split into parts that run on <see cref="Workers"/>. Implemented by reusable objects whose fields
/// are set before each dispatch, so dispatching allocates nothing (a lambda would allocate its closure).
/// </summary>
public interface IParallelWork
{
    /// <summary>Does part <paramref name="part"/> of <paramref name="parts"/>.</summary>
    void Execute(int part, int parts);
}
