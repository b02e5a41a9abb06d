using System.Text;

namespace Pare.Core.Tokenizers;

/// <summary>
/// Turns generated tokens into text as they come, holding back the bytes of a character that byte tokens split across
/// several tokens until it is complete (DecodePiece alone would show each part as U+FFFD).
/// </summary>
public sealed class TokenTextStream(ITokenizer tokenizer, int previous)
{
    private readonly Decoder _utf8 = Encoding.UTF8.GetDecoder();
    private int _previous = previous;

    /// <summary>The text that is complete once <paramref name="token"/> is added (possibly empty).</summary>
    public string Append(int token)
    {
        var bytes = tokenizer.PieceBytes(_previous, token);
        _previous = token;
        return Decode(bytes, flush: false);
    }

    /// <summary>What is left at the end: the bytes of an unfinished character, as U+FFFD.</summary>
    public string Flush() => Decode([], flush: true);

    private string Decode(byte[] bytes, bool flush)
    {
        var chars = new char[_utf8.GetCharCount(bytes, flush)];
        int n = _utf8.GetChars(bytes, chars, flush);
        return new string(chars, 0, n);
    }
}
