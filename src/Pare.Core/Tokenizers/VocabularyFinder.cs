using Pare.Core.Formats;
using Pare.Core.Formats.Gguf;

namespace Pare.Core.Tokenizers;

/// <summary>
/// The vocabulary that belongs with a model, for writers that embed one (GGUF): the model's own, else a given
/// tokenizer file, else one beside the model (tokenizer.model, tokenizer.bin, tok{vocab}.bin).
/// </summary>
public static class VocabularyFinder
{
    /// <summary>Null only when the model carries none, none is given and none lies beside it.</summary>
    public static VocabularyData? Find(Checkpoint checkpoint, string? given = null)
    {
        if (checkpoint.Vocabulary is { } own && given == null) return own;
        int vocab = checkpoint.Config.VocabSize;
        string? path = given;
        if (path == null)
        {
            var dir = Directory.Exists(checkpoint.Source) ? checkpoint.Source : Path.GetDirectoryName(Path.GetFullPath(checkpoint.Source));
            if (dir == null) return null;
            path = new[] { "tokenizer.model", "tokenizer.bin", $"tok{vocab}.bin" }.Select(n => Path.Combine(dir, n)).FirstOrDefault(File.Exists);
            if (path == null) return null;
        }
        return Read(path, vocab);
    }

    /// <summary>A tokenizer file's vocabulary, which must have <paramref name="vocab"/> tokens.</summary>
    public static VocabularyData Read(string path, int vocab)
    {
        if (!File.Exists(path)) throw new PareFormatException(path, "tokenizer file not found");
        var data = path.EndsWith(".model", StringComparison.OrdinalIgnoreCase) ? SentencePieceModelReader.Read(path)
            : IsGguf(path) ? GgufVocabulary.Read(GgufFile.Open(path)) ?? throw new PareFormatException(path, $"GGUF file has no embedded vocabulary ({GgufVocabulary.ModelKey})")
            : Llama2cVocabulary.Read(path, vocab);
        if (data.Tokens.Length != vocab)
            throw new PareFormatException(path, $"tokenizer has {data.Tokens.Length} tokens, the model's vocabulary has {vocab}");
        return data;
    }

    private static bool IsGguf(string path)
    {
        Span<byte> magic = stackalloc byte[4];
        using var f = File.OpenRead(path);
        return f.ReadAtLeast(magic, 4, throwOnEndOfStream: false) == 4 && magic.SequenceEqual("GGUF"u8);
    }
}
