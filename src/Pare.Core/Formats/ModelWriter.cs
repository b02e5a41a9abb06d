using Pare.Core.Formats.Gguf;
using Pare.Core.Formats.Safetensors;

namespace Pare.Core.Formats;

/// <summary>Writes a checkpoint in the format a path asks for: .gguf → GGUF, .bin → llama2.c, otherwise an HF safetensors folder.</summary>
public static class ModelWriter
{
    public static string FormatOf(string path) =>
        path.EndsWith(".gguf", StringComparison.OrdinalIgnoreCase) ? "gguf"
        : path.EndsWith(".bin", StringComparison.OrdinalIgnoreCase) ? "llama2c" : "safetensors";

    public static void Write(Checkpoint checkpoint, string path, string? format = null)
    {
        switch (format ?? FormatOf(path))
        {
            case "gguf": GgufWriter.Write(checkpoint, path); break;
            case "llama2c": Llama2cWriter.Write(checkpoint, path); break;
            case "safetensors": HfWriter.Write(checkpoint, path); break;
            default: throw new ArgumentException($"unknown model format '{format}' (safetensors, gguf or llama2c)");
        }
    }
}
