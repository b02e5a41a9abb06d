namespace Pare.Core.Formats.Gguf;

/// <summary>LLaMA-architecture models stored as GGUF.</summary>
public static class GgufModelReader
{
    public static Checkpoint Read(string path) => throw new PareFormatException(path, "GGUF reading is not implemented yet");
}
