namespace Pare.Engine;

/// <summary>
/// Keys and values of every layer for positions [0, Length). Positions past Length are stale and overwritten on
/// the next forward, so rolling back after rejected speculative tokens is just lowering Length.
/// With token routing a layer holds entries only for the tokens that computed it (a skipped token has no key or value
/// there, so later tokens cannot attend to it in that layer): each layer keeps its own entry count and the position
/// of each entry, and <see cref="Truncate"/> drops every layer's entries at or past the new length. Without routing
/// every layer's entry j is position j.
/// </summary>
public sealed class KvCache
{
    private readonly int[] _layerLength;

    public KvCache(int layers, int capacity, int kvDim)
    {
        Capacity = capacity;
        KvDim = kvDim;
        Keys = new float[layers][];
        Values = new float[layers][];
        Positions = new int[layers][];
        RouteScores = new float[layers][];
        _layerLength = new int[layers];
        for (int l = 0; l < layers; l++)
        {
            Keys[l] = new float[(long)capacity * kvDim];
            Values[l] = new float[(long)capacity * kvDim];
            Positions[l] = new int[capacity];
            RouteScores[l] = new float[capacity];
        }
    }

    public int Capacity { get; }
    public int KvDim { get; }
    public int Length { get; private set; }
    public float[][] Keys { get; }
    public float[][] Values { get; }
    /// <summary>Per layer, the position of each entry (entries are in position order).</summary>
    public int[][] Positions { get; }
    /// <summary>Per layer and position, the attention factor a router read there (routers rank a token against the earlier ones).</summary>
    public float[][] RouteScores { get; }

    /// <summary>Entries layer <paramref name="layer"/> holds (= <see cref="Length"/> unless tokens skipped it).</summary>
    public int LayerLength(int layer) => _layerLength[layer];

    /// <summary>Forgets positions from <paramref name="length"/> on.</summary>
    public void Truncate(int length)
    {
        if (length < 0 || length > Length) throw new ArgumentOutOfRangeException(nameof(length), $"cannot truncate a cache of {Length} positions to {length}");
        Length = length;
        for (int l = 0; l < _layerLength.Length; l++)
        {
            int m = _layerLength[l];
            while (m > 0 && Positions[l][m - 1] >= length) m--;
            _layerLength[l] = m;
        }
    }

    internal void SetLayerLength(int layer, int entries) => _layerLength[layer] = entries;

    internal void Extend(int length) => Length = length;
}
