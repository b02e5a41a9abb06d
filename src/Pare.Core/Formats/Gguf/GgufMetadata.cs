using System.Collections;

namespace Pare.Core.Formats.Gguf;

/// <summary>
/// The key/value metadata of a GGUF file, in file order, with typed getters that accept any integer width where an
/// integer is asked for (writers differ: llama.cpp stores most counts as uint32). Errors name the file and the key.
/// </summary>
public sealed class GgufMetadata : IEnumerable<KeyValuePair<string, GgufValue>>
{
    private readonly List<KeyValuePair<string, GgufValue>> _ordered = [];
    private readonly Dictionary<string, GgufValue> _byKey = new(StringComparer.Ordinal);

    public GgufMetadata(string source) => Source = source;

    /// <summary>The file the metadata came from (or will go to), for messages.</summary>
    public string Source { get; }
    public int Count => _ordered.Count;
    public IEnumerable<string> Keys => _ordered.Select(kv => kv.Key);

    public void Add(string key, GgufValue value)
    {
        if (!_byKey.TryAdd(key, value))
            throw new PareFormatException(Source, $"metadata key '{key}' appears twice");
        _ordered.Add(KeyValuePair.Create(key, value));
    }

    public bool Contains(string key) => _byKey.ContainsKey(key);
    public GgufValue? Find(string key) => _byKey.GetValueOrDefault(key);
    public GgufValue this[string key] => _byKey.TryGetValue(key, out var v) ? v : throw new PareFormatException(Source, $"metadata key '{key}' is missing");

    public string GetString(string key) => As<string>(key, GgufValueType.String);
    public string? FindString(string key) => Contains(key) ? GetString(key) : null;

    public bool GetBool(string key) => As<bool>(key, GgufValueType.Bool);
    public bool? FindBool(string key) => Contains(key) ? GetBool(key) : null;

    public long GetInt64(string key)
    {
        var v = this[key];
        return IntegerOf(v.Value) ?? throw WrongType(key, v, "an integer");
    }

    public long? FindInt64(string key) => Contains(key) ? GetInt64(key) : null;

    /// <summary>An integer that must fit in int32.</summary>
    public int GetInt32(string key)
    {
        long v = GetInt64(key);
        if (v is < int.MinValue or > int.MaxValue)
            throw new PareFormatException(Source, $"metadata key '{key}' = {v} is out of range");
        return (int)v;
    }

    public int? FindInt32(string key) => Contains(key) ? GetInt32(key) : null;

    public double GetFloat(string key)
    {
        var v = this[key];
        return v.Value switch
        {
            float f => f,
            double d => d,
            _ => throw WrongType(key, v, "a float"),
        };
    }

    public double? FindFloat(string key) => Contains(key) ? GetFloat(key) : null;

    public string[] GetStringArray(string key) => ArrayOf<string>(key, GgufValueType.String);
    public float[] GetFloat32Array(string key) => ArrayOf<float>(key, GgufValueType.Float32);

    /// <summary>An array of any integer type, each element fitting int32.</summary>
    public int[] GetInt32Array(string key)
    {
        var v = this[key];
        if (v.Type != GgufValueType.Array || v.Value is not Array array || array is string[] or float[] or double[] or bool[])
            throw WrongType(key, v, "an array of integers");
        var result = new int[array.Length];
        for (int i = 0; i < result.Length; i++)
        {
            long x = IntegerOf(array.GetValue(i)!)!.Value;
            if (x is < int.MinValue or > int.MaxValue)
                throw new PareFormatException(Source, $"metadata key '{key}'[{i}] = {x} is out of range");
            result[i] = (int)x;
        }
        return result;
    }

    public IEnumerator<KeyValuePair<string, GgufValue>> GetEnumerator() => _ordered.GetEnumerator();
    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    private static long? IntegerOf(object value) => value switch
    {
        byte b => b,
        sbyte b => b,
        ushort s => s,
        short s => s,
        uint u => u,
        int i => i,
        long l => l,
        ulong u when u <= long.MaxValue => (long)u,
        _ => null,
    };

    private T As<T>(string key, GgufValueType type)
    {
        var v = this[key];
        return v.Type == type ? (T)v.Value : throw WrongType(key, v, type.ToString().ToLowerInvariant());
    }

    private T[] ArrayOf<T>(string key, GgufValueType elementType)
    {
        var v = this[key];
        return v.Type == GgufValueType.Array && v.ElementType == elementType
            ? (T[])v.Value
            : throw WrongType(key, v, $"an array of {elementType.ToString().ToLowerInvariant()}");
    }

    private PareFormatException WrongType(string key, GgufValue v, string expected)
        => new(Source, $"metadata key '{key}' is {v.Describe()}, expected {expected}");
}
