namespace Pare.Core.Formats.Safetensors;

/// <summary>Hugging Face layout: config.json with model.safetensors or a sharded index.</summary>
public static class HfModelReader
{
    public static Checkpoint Read(string path) => throw new PareFormatException(path, "Hugging Face safetensors reading is not implemented yet");
}
