namespace Pare.Engine;

/// <summary>
/// Keys and values of every layer for positions [0, Length). Positions past Length are stale and overwritten on
/// the next forward, so rolling back after rejected speculative tokens is just lowering Length.
/// </summary>
public sealed class KvCache
{
    public KvCache(int layers, int capacity, int kvDim)
    {
        Capacity = capacity;
        KvDim = kvDim;
        Keys = new float[layers][];
        Values = new float[layers][];
        for (int l = 0; l < layers; l++)
        {
            Keys[l] = new float[(long)capacity * kvDim];
            Values[l] = new float[(long)capacity * kvDim];
        }
    }

    public int Capacity { get; }
    public int KvDim { get; }
    public int Length { get; private set; }
    public float[][] Keys { get; }
    public float[][] Values { get; }

    /// <summary>Forgets positions from <paramref name="length"/> on.</summary>
    public void Truncate(int length)
    {
        if (length < 0 || length > Length) throw new ArgumentOutOfRangeException(nameof(length), $"cannot truncate a cache of {Length} positions to {length}");
        Length = length;
    }

    internal void Extend(int length) => Length = length;
}
