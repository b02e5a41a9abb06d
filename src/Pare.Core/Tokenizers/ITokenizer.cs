namespace Pare.Core.Tokenizers;

/// <summary>Text ↔ token ids for a model.</summary>
public interface ITokenizer
{
    int VocabSize { get; }
    int BosId { get; }
    int EosId { get; }

    /// <summary>Token ids for <paramref name="text"/>, with BOS first when asked.</summary>
    int[] Encode(string text, bool addBos);

    /// <summary>The text of a whole id sequence (leading BOS and the SentencePiece leading space handled).</summary>
    string Decode(ReadOnlySpan<int> ids);

    /// <summary>
    /// The text piece <paramref name="token"/> adds after <paramref name="previous"/> while streaming. A piece that ends
    /// inside a UTF-8 character (byte tokens) shows U+FFFD; <see cref="TokenTextStream"/> joins such pieces.
    /// </summary>
    string DecodePiece(int previous, int token);

    /// <summary>The UTF-8 bytes <paramref name="token"/> adds after <paramref name="previous"/>; may end inside a character.</summary>
    byte[] PieceBytes(int previous, int token);
}
