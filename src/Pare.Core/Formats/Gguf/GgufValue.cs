namespace Pare.Core.Formats.Gguf;

/// <summary>
/// One metadata value. Scalars are held as the matching C# type (uint for UInt32, float for Float32, ...), strings
/// as string, arrays as a typed C# array (string[], float[], int[], ...) with <see cref="ElementType"/> saying what
/// the file stores.
/// </summary>
public sealed record GgufValue
{
    private GgufValue(GgufValueType type, object value, GgufValueType elementType = GgufValueType.UInt8)
    {
        Type = type;
        Value = value;
        ElementType = elementType;
    }

    public GgufValueType Type { get; }
    public object Value { get; }
    /// <summary>Element type of an array (meaningless for other values).</summary>
    public GgufValueType ElementType { get; }

    public static GgufValue Of(string value) => new(GgufValueType.String, value);
    public static GgufValue Of(uint value) => new(GgufValueType.UInt32, value);
    public static GgufValue Of(int value) => new(GgufValueType.Int32, value);
    public static GgufValue Of(float value) => new(GgufValueType.Float32, value);
    public static GgufValue Of(bool value) => new(GgufValueType.Bool, value);
    public static GgufValue Of(string[] values) => new(GgufValueType.Array, values, GgufValueType.String);
    public static GgufValue Of(float[] values) => new(GgufValueType.Array, values, GgufValueType.Float32);
    public static GgufValue Of(int[] values) => new(GgufValueType.Array, values, GgufValueType.Int32);

    /// <summary>A scalar of the given type; <paramref name="value"/> must be the matching C# type.</summary>
    public static GgufValue Scalar(GgufValueType type, object value)
    {
        if (type is GgufValueType.Array) throw new ArgumentException("use Array for arrays", nameof(type));
        if (value.GetType() != ClrType(type)) throw new ArgumentException($"a {type} value must be a {ClrType(type).Name}, got {value.GetType().Name}", nameof(value));
        return new(type, value);
    }

    /// <summary>An array whose elements have <paramref name="elementType"/>; <paramref name="values"/> must be the matching C# array.</summary>
    public static GgufValue Array(GgufValueType elementType, System.Array values)
    {
        if (elementType is GgufValueType.Array) throw new ArgumentException("arrays of arrays are not supported", nameof(elementType));
        if (values.GetType().GetElementType() != ClrType(elementType))
            throw new ArgumentException($"an array of {elementType} must be a {ClrType(elementType).Name}[], got {values.GetType().Name}", nameof(values));
        return new(GgufValueType.Array, values, elementType);
    }

    public static Type ClrType(GgufValueType type) => type switch
    {
        GgufValueType.UInt8 => typeof(byte),
        GgufValueType.Int8 => typeof(sbyte),
        GgufValueType.UInt16 => typeof(ushort),
        GgufValueType.Int16 => typeof(short),
        GgufValueType.UInt32 => typeof(uint),
        GgufValueType.Int32 => typeof(int),
        GgufValueType.Float32 => typeof(float),
        GgufValueType.Bool => typeof(bool),
        GgufValueType.String => typeof(string),
        GgufValueType.UInt64 => typeof(ulong),
        GgufValueType.Int64 => typeof(long),
        GgufValueType.Float64 => typeof(double),
        _ => typeof(System.Array),
    };

    /// <summary>Short description for messages: "uint32", "array of string[512]".</summary>
    public string Describe() => Type == GgufValueType.Array
        ? $"array of {ElementType.ToString().ToLowerInvariant()}[{((System.Array)Value).Length}]"
        : Type.ToString().ToLowerInvariant();

    public override string ToString() => Type switch
    {
        GgufValueType.Array => Describe(),
        GgufValueType.String => $"\"{Value}\"",
        _ => Convert.ToString(Value, System.Globalization.CultureInfo.InvariantCulture) ?? "",
    };
}
