using System.Buffers.Binary;
using System.Text;
using System.Text.RegularExpressions;
using Pare.Core.Tokenizers;

namespace Pare.Core.Formats;

/// <summary>
/// A llama2.c tokenizer.bin as the vocabulary a GGUF file embeds, spelled the way llama.cpp's
/// convert-llama2c-to-ggml spells it: ids 0/1/2 become "&lt;unk&gt;" (unknown), "&lt;s&gt;" and "&lt;/s&gt;"
/// (control), empty pieces are control tokens, "&lt;0xXX&gt;" pieces are byte tokens, and spaces become
/// SentencePiece's '▁'. Pare's GGUF of a llama2.c model then carries the same vocabulary as llama.cpp's.
/// </summary>
public static partial class Llama2cVocabulary
{
    private const int Normal = 1, Unknown = 2, Control = 3, Byte = 6;

    public static VocabularyData Read(string path, int vocabSize)
    {
        if (!File.Exists(path)) throw new PareFormatException(path, "tokenizer file not found");
        var bytes = File.ReadAllBytes(path);
        // Every token takes at least 8 bytes (score, length): a vocabulary the file cannot hold fails before the arrays are allocated.
        if (vocabSize < 0 || bytes.Length < 4 || (bytes.Length - 4) / 8 < vocabSize)
            throw new PareFormatException(path, $"truncated llama2.c tokenizer: {bytes.Length} bytes cannot hold {vocabSize} tokens (at least {4 + 8L * vocabSize} bytes)");
        int pos = 4; // int32 max_token_length, unused
        var tokens = new string[vocabSize];
        var scores = new float[vocabSize];
        var types = new int[vocabSize];
        for (int id = 0; id < vocabSize; id++)
        {
            if (bytes.Length - pos < 8)
                throw new PareFormatException(path, $"truncated llama2.c tokenizer: token {id} of {vocabSize} is missing");
            scores[id] = BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(pos));
            int length = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(pos + 4));
            pos += 8;
            if (length < 0 || length > bytes.Length - pos)
                throw new PareFormatException(path, $"token {id} claims {length} bytes, {bytes.Length - pos} remain");
            string text = Encoding.UTF8.GetString(bytes, pos, length);
            pos += length;
            (tokens[id], types[id]) = id switch
            {
                0 => ("<unk>", Unknown),
                1 => ("<s>", Control),
                2 => ("</s>", Control),
                _ when text.Length == 0 => (text, Control),
                _ when BytePiece().IsMatch(text) => (text, Byte),
                _ => (text.Replace(' ', '▁'), Normal),
            };
        }
        if (pos != bytes.Length)
            throw new PareFormatException(path, $"the tokenizer holds more than {vocabSize} tokens (the model's vocabulary size)");
        return new VocabularyData
        {
            Kind = VocabularyKind.SentencePieceBpe,
            Tokens = tokens,
            Scores = scores,
            TokenTypes = types,
            BosId = 1,
            EosId = 2,
            UnknownId = 0,
            AddBos = true,
            Source = path,
        };
    }

    [GeneratedRegex("^<0x[0-9A-Fa-f]{2}>$")]
    private static partial Regex BytePiece();
}
