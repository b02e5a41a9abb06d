using Pare.Core.Formats;
using Pare.Core.Formats.Gguf;

namespace Pare.Core.Tokenizers;

/// <summary>Finds and opens the tokenizer for a model.</summary>
public static class TokenizerLoader
{
    /// <summary>
    /// Opens a tokenizer file: a SentencePiece <c>.model</c>, a GGUF file's embedded vocabulary (by magic), or else a
    /// llama2.c tokenizer.bin. With <paramref name="expectedVocab"/>, a tokenizer of another size is an error.
    /// </summary>
    public static ITokenizer Load(string path, int? expectedVocab = null)
    {
        if (!File.Exists(path)) throw new PareFormatException(path, "tokenizer file not found");
        if (IsGguf(path))
        {
            var vocab = GgufVocabulary.Read(GgufFile.Open(path))
                ?? throw new PareFormatException(path, $"GGUF file has no embedded vocabulary ({GgufVocabulary.ModelKey})");
            return CheckSize(FromVocabulary(vocab), path, expectedVocab);
        }
        if (path.EndsWith(".json", StringComparison.OrdinalIgnoreCase))
            throw new PareFormatException(path, "Hugging Face tokenizer.json is not supported; give the model's tokenizer.model, a GGUF file with its vocabulary, or a llama2.c tokenizer.bin");
        if (path.EndsWith(".model", StringComparison.OrdinalIgnoreCase))
            return CheckSize(new SentencePieceBpeTokenizer(SentencePieceModelReader.Read(path)), path, expectedVocab);
        return Llama2cTokenizer.Load(path, expectedVocab);
    }

    /// <summary>The tokenizer for a vocabulary read from a model file, by its kind.</summary>
    public static ITokenizer FromVocabulary(VocabularyData vocab) => vocab.Kind switch
    {
        VocabularyKind.SentencePieceBpe => new SentencePieceBpeTokenizer(vocab),
        VocabularyKind.ByteLevelBpe => new ByteLevelBpeTokenizer(vocab),
        _ => throw new ArgumentException($"{vocab.Source}: unknown vocabulary kind {vocab.Kind}", nameof(vocab)),
    };

    /// <summary>The model's own tokenizer: embedded in the model file, or a tokenizer file in the model's folder.</summary>
    public static ITokenizer? FindFor(Checkpoint model)
    {
        if (model.Vocabulary is { } vocab)
            return CheckSize(FromVocabulary(vocab), vocab.Source.Length > 0 ? vocab.Source : model.Source, model.Config.VocabSize);
        var dir = Directory.Exists(model.Source) ? model.Source : Path.GetDirectoryName(Path.GetFullPath(model.Source));
        if (dir is null) return null;
        foreach (var name in new[] { "tokenizer.model", "tokenizer.bin" })
        {
            var p = Path.Combine(dir, name);
            if (File.Exists(p)) return Load(p, model.Config.VocabSize);
        }
        // llama2.c's custom vocabularies are named tok{N}.bin; take the one whose size fits the model.
        var custom = Path.Combine(dir, $"tok{model.Config.VocabSize}.bin");
        return File.Exists(custom) ? Load(custom, model.Config.VocabSize) : null;
    }

    private static bool IsGguf(string path)
    {
        Span<byte> magic = stackalloc byte[4];
        using var f = File.OpenRead(path);
        return f.ReadAtLeast(magic, 4, throwOnEndOfStream: false) == 4 && magic.SequenceEqual("GGUF"u8);
    }

    private static ITokenizer CheckSize(ITokenizer tokenizer, string path, int? expectedVocab) =>
        expectedVocab is int ev && tokenizer.VocabSize != ev
            ? throw new PareFormatException(path, $"tokenizer has {tokenizer.VocabSize} tokens, the model's vocabulary has {ev}")
            : tokenizer;
}
