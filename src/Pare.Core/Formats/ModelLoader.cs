using System.Text;
using Pare.Core.Formats.CompressedTensors;
using Pare.Core.Formats.Gguf;
using Pare.Core.Formats.Safetensors;

namespace Pare.Core.Formats;

/// <summary>Opens a model in any supported format, recognised by content rather than by file name.</summary>
public static class ModelLoader
{
    public static Checkpoint Load(string path)
    {
        if (Directory.Exists(path))
            return CompressedTensorsReader.IsCompressed(path) ? CompressedTensorsReader.Read(path) : HfModelReader.Read(path);
        if (!File.Exists(path))
            throw new PareFormatException(path, "model file not found");

        Span<byte> head = stackalloc byte[16];
        int n;
        using (var s = File.OpenRead(path))
            n = s.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        head = head[..n];

        // A .gguf name with another magic goes to the GGUF reader too, whose error says what is wrong with it.
        if ((n >= 4 && Encoding.ASCII.GetString(head[..4]) == "GGUF") || path.EndsWith(".gguf", StringComparison.OrdinalIgnoreCase))
            return GgufModelReader.Read(path);
        if (Llama2cReader.LooksVersioned(head))
            return Llama2cReader.Read(path);
        if (path.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase) || path.EndsWith(".safetensors.index.json", StringComparison.OrdinalIgnoreCase)
            || (n >= 9 && head[8] == (byte)'{'))
            return HfModelReader.Read(path);
        if (path.EndsWith(".json", StringComparison.OrdinalIgnoreCase))
            return HfModelReader.Read(Path.GetDirectoryName(Path.GetFullPath(path))!);
        return Llama2cReader.Read(path);
    }
}
