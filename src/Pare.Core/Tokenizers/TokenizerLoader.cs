using Pare.Core.Formats;

namespace Pare.Core.Tokenizers;

/// <summary>Finds and opens the tokenizer for a model.</summary>
public static class TokenizerLoader
{
    /// <summary>Opens a tokenizer file: llama2.c tokenizer.bin, SentencePiece tokenizer.model, or a GGUF vocabulary.</summary>
    public static ITokenizer Load(string path, int? expectedVocab = null)
    {
        if (!File.Exists(path)) throw new PareFormatException(path, "tokenizer file not found");
        return Llama2cTokenizer.Load(path, expectedVocab);
    }

    /// <summary>The model's own tokenizer: embedded in the model file, or a tokenizer file in the model's folder.</summary>
    public static ITokenizer? FindFor(Checkpoint model)
    {
        if (model.Vocabulary is { } vocab)
            return Llama2cTokenizer.FromVocabulary(vocab);
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
}
