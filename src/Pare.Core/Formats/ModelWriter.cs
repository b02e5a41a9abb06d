using Pare.Core.Formats.Gguf;
using Pare.Core.Formats.Safetensors;
using Pare.Core.Tokenizers;

namespace Pare.Core.Formats;

/// <summary>Writes a model in any supported format: the counterpart of <see cref="ModelLoader"/>, shared by every command that writes one.</summary>
public static class ModelWriter
{
    public const string Safetensors = "safetensors";
    public const string Gguf = "gguf";
    public const string Llama2c = "llama2c";
    public static readonly string[] Formats = [Safetensors, Gguf, Llama2c];

    /// <summary>The format an output path implies: .gguf → gguf, .bin → llama2c, anything else a safetensors folder.</summary>
    public static string FormatOf(string path)
        => path.EndsWith(".gguf", StringComparison.OrdinalIgnoreCase) ? Gguf
            : path.EndsWith(".bin", StringComparison.OrdinalIgnoreCase) ? Llama2c
            : Safetensors;

    /// <summary>
    /// Writes <paramref name="checkpoint"/> as <paramref name="format"/> (by default the one the path implies). A GGUF file always carries a vocabulary
    /// (<paramref name="vocabulary"/>, else the checkpoint's own): llama.cpp refuses a model without
    /// tokenizer.ggml.model, so writing one would only defer the failure to the user's next tool.
    /// </summary>
    public static void Write(Checkpoint checkpoint, string path, string? format = null, VocabularyData? vocabulary = null, string? name = null)
    {
        switch (format ?? FormatOf(path))
        {
            case Gguf:
                var vocab = vocabulary ?? checkpoint.Vocabulary
                    ?? throw new ArgumentException($"{path}: a GGUF file needs the model's vocabulary (llama.cpp refuses one without {GgufVocabulary.ModelKey}), and {checkpoint.Source} has none embedded or beside it (tokenizer.model, tokenizer.bin, tok{checkpoint.Config.VocabSize}.bin): pass --tokenizer with its tokenizer.model, llama2.c tokenizer .bin or a GGUF file that holds the vocabulary");
                GgufWriter.Write(checkpoint, path, vocab, name);
                break;
            case Safetensors:
                HfWriter.Write(checkpoint, path);
                break;
            case Llama2c:
                Llama2cWriter.Write(checkpoint, path);
                break;
            default:
                throw new ArgumentException($"unknown output format '{format}' ({string.Join(", ", Formats)})");
        }
    }

    /// <summary>Bytes on disk of a written model (a file, or the files of a folder).</summary>
    public static long SizeOf(string path)
        => Directory.Exists(path) ? new DirectoryInfo(path).EnumerateFiles().Sum(f => f.Length) : new FileInfo(path).Length;
}
