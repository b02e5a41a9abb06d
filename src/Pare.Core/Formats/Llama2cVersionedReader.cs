namespace Pare.Core.Formats;

/// <summary>llama2.c versioned exports ("ak42" magic): v1 fp32 and v2 int8 with per-group scales.</summary>
internal static class Llama2cVersionedReader
{
    public static Checkpoint Read(MappedFile file)
        => throw new PareFormatException(file.Path, "llama2.c versioned (ak42) checkpoints are not supported yet");
}
