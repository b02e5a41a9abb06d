using System.Text;
using System.Text.Json;
using Pare.Core.Tensors;

namespace Pare.Core.Formats.Safetensors;

/// <summary>Writes tensors (F32, F16, BF16) as a safetensors file, data contiguous in the given order.</summary>
public static class SafetensorsWriter
{
    public static void Write(string path, IReadOnlyList<TensorData> tensors, IReadOnlyDictionary<string, string>? metadata = null)
        => WriteRaw(path, tensors.Select(t => new SafetensorsEntry(t.Name, SafetensorsFile.DTypeName(t.Type), t.Shape, t.Data)).ToList(), metadata);

    /// <summary>Writes entries of any safetensors dtype (integer tensors of compressed-tensors among them), data contiguous in the given order.</summary>
    public static void WriteRaw(string path, IReadOnlyList<SafetensorsEntry> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var header = new MemoryStream();
        using (var json = new Utf8JsonWriter(header))
        {
            json.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                json.WriteStartObject(SafetensorsFile.MetadataKey);
                foreach (var (k, v) in metadata) json.WriteString(k, v);
                json.WriteEndObject();
            }
            long offset = 0;
            foreach (var t in tensors)
            {
                json.WriteStartObject(t.Name);
                json.WriteString("dtype", t.DType);
                json.WriteStartArray("shape");
                foreach (var d in t.Shape) json.WriteNumberValue(d);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                json.WriteNumberValue(offset + t.Data.Length);
                json.WriteEndArray();
                json.WriteEndObject();
                offset += t.Data.Length;
            }
            json.WriteEndObject();
        }
        // Like the reference implementation, pad the header with spaces so the data starts 8-byte aligned.
        while (header.Length % 8 != 0) header.WriteByte((byte)' ');

        AtomicFile.Write(path, stream =>
        {
            stream.Write(BitConverter.GetBytes((ulong)header.Length));
            header.Position = 0;
            header.CopyTo(stream);
            foreach (var t in tensors) stream.Write(t.Data.Span);
        });
    }
}

/// <summary>One tensor to write: name, safetensors dtype name, shape and little-endian bytes.</summary>
public sealed record SafetensorsEntry(string Name, string DType, long[] Shape, ReadOnlyMemory<byte> Data);
