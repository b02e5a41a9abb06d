using System.Globalization;
using System.Text;

namespace Pare.Core.Tokenizers;

/// <summary>
/// SentencePiece BPE over a vocabulary of scored pieces, as llama.cpp's SPM tokenizer runs a GGUF "llama" vocabulary
/// and SentencePiece runs a BPE <c>tokenizer.model</c>: a space is put in front of the text (add_space_prefix), spaces
/// become '▁', the text is split into characters, and the adjacent pair whose concatenation is the highest-scoring piece
/// is merged (leftmost first on ties) until none is a piece; characters left outside the vocabulary become byte pieces
/// &lt;0xXX&gt;. Decoding turns '▁' back into spaces, byte pieces into bytes, and drops control tokens.
/// As in llama.cpp, a merge may form any piece (SentencePiece itself never forms control or unused pieces; for Llama 2's
/// vocabulary "&lt;s&gt;" and the like still encode as plain text, see the tests). Unlike llama.cpp, user-defined pieces
/// are not cut out of the text first: the Llama vocabularies Pare reads have none.
/// </summary>
public sealed class SentencePieceBpeTokenizer : ITokenizer
{
    private const int TypeUnknown = 2, TypeControl = 3, TypeByte = 6;
    private const char SpaceMarker = '\u2581';

    private readonly string[] _pieces;
    private readonly float[] _scores;
    private readonly int[] _types;
    private readonly Dictionary<string, int> _ids;
    // Looks up spans of the text without allocating a string per candidate pair.
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _spanIds;
    private readonly int[] _byteIds = new int[256];
    private readonly int _unknownId;

    public SentencePieceBpeTokenizer(VocabularyData vocab)
    {
        if (vocab.Kind != VocabularyKind.SentencePieceBpe)
            throw new ArgumentException($"{vocab.Source}: a {vocab.Kind} vocabulary is not SentencePiece BPE", nameof(vocab));
        _pieces = vocab.Tokens;
        _scores = vocab.Scores ?? throw new PareFormatException(vocab.Source, "a SentencePiece vocabulary needs piece scores");
        if (_scores.Length != _pieces.Length || (vocab.TokenTypes is { } t && t.Length != _pieces.Length))
            throw new PareFormatException(vocab.Source, $"{_pieces.Length} pieces but {_scores.Length} scores and {vocab.TokenTypes?.Length} types");
        _types = vocab.TokenTypes ?? InferTypes(_pieces, vocab);
        _ids = new Dictionary<string, int>(_pieces.Length, StringComparer.Ordinal);
        for (int i = 0; i < _pieces.Length; i++)
            _ids.TryAdd(_pieces[i], i);
        _spanIds = _ids.GetAlternateLookup<ReadOnlySpan<char>>();
        _unknownId = vocab.UnknownId;
        for (int b = 0; b < 256; b++)
            _byteIds[b] = _ids.TryGetValue($"<0x{b:X2}>", out var id) ? id : -1;
        BosId = vocab.BosId;
        EosId = vocab.EosId;
        AddSpacePrefix = vocab.AddSpacePrefix;
    }

    public int VocabSize => _pieces.Length;
    public int BosId { get; }
    public int EosId { get; }
    public bool AddSpacePrefix { get; }

    /// <summary>Types for a vocabulary that has none (llama2.c files): BOS/EOS control, UNK unknown, &lt;0xXX&gt; bytes.</summary>
    private static int[] InferTypes(string[] pieces, VocabularyData vocab)
    {
        var types = new int[pieces.Length];
        for (int i = 0; i < pieces.Length; i++)
            types[i] = i == vocab.BosId || i == vocab.EosId ? TypeControl
                : i == vocab.UnknownId ? TypeUnknown
                : IsBytePiece(pieces[i], out _) ? TypeByte
                : 1;
        return types;
    }

    private static bool IsBytePiece(string piece, out byte value)
    {
        value = 0;
        return piece.Length == 6 && piece.StartsWith("<0x", StringComparison.Ordinal) && piece[5] == '>'
            && byte.TryParse(piece.AsSpan(3, 2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out value);
    }

    public int[] Encode(string text, bool addBos)
    {
        var ids = new List<int>(text.Length + 2);
        if (addBos && BosId >= 0) ids.Add(BosId);
        if (text.Length == 0) return ids.ToArray(); // llama.cpp and SentencePiece: no dummy prefix for empty text
        var normalized = ((AddSpacePrefix ? " " : "") + text).Replace(' ', SpaceMarker);
        EncodeNormalized(normalized, ids);
        return ids.ToArray();
    }

    private void EncodeNormalized(string s, List<int> output)
    {
        // Symbols are spans of s, one per code point to begin with.
        var starts = new List<int>(s.Length);
        for (int i = 0; i < s.Length; i += char.IsHighSurrogate(s[i]) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1]) ? 2 : 1)
            starts.Add(i);
        int n = starts.Count;
        var start = starts.ToArray();
        var length = new int[n];
        var next = new int[n];
        var prev = new int[n];
        for (int i = 0; i < n; i++)
        {
            length[i] = (i + 1 < n ? start[i + 1] : s.Length) - start[i];
            next[i] = i + 1 < n ? i + 1 : -1;
            prev[i] = i - 1;
        }

        // Highest score first, then leftmost: the order of SentencePiece's and llama.cpp's agenda.
        var queue = new PriorityQueue<(int Left, int Size), (float NegScore, int Left)>();
        void Consider(int left)
        {
            if (left < 0 || next[left] < 0) return;
            int size = length[left] + length[next[left]];
            if (_spanIds.TryGetValue(s.AsSpan(start[left], size), out int id))
                queue.Enqueue((left, size), (-_scores[id], left));
        }
        for (int i = 0; i + 1 < n; i++) Consider(i);
        while (queue.TryDequeue(out var pair, out _))
        {
            int left = pair.Left, right = next[left];
            // Stale entries: a side has been merged away or has grown since the pair was queued.
            if (length[left] == 0 || right < 0 || length[left] + length[right] != pair.Size) continue;
            length[left] += length[right];
            length[right] = 0;
            next[left] = next[right];
            if (next[right] >= 0) prev[next[right]] = left;
            Consider(prev[left]);
            Consider(left);
        }

        for (int i = 0; i >= 0; i = next[i])
        {
            var symbol = s.AsSpan(start[i], length[i]);
            if (_spanIds.TryGetValue(symbol, out int id))
            {
                output.Add(id);
                continue;
            }
            // Merged symbols are always pieces, so this is a single character outside the vocabulary: byte fallback.
            foreach (var b in Encoding.UTF8.GetBytes(symbol.ToArray()))
                output.Add(_byteIds[b] >= 0 ? _byteIds[b] : _unknownId);
        }
    }

    private void AppendBytes(int token, List<byte> bytes)
    {
        if (token < 0 || token >= _pieces.Length || _types[token] == TypeControl) return;
        if (_types[token] == TypeByte && IsBytePiece(_pieces[token], out var b))
        {
            bytes.Add(b);
            return;
        }
        bytes.AddRange(Encoding.UTF8.GetBytes(_pieces[token].Replace(SpaceMarker, ' ')));
    }

    public string Decode(ReadOnlySpan<int> ids)
    {
        var bytes = new List<byte>();
        foreach (var id in ids) AppendBytes(id, bytes);
        var text = Encoding.UTF8.GetString(bytes.ToArray());
        // The space add_space_prefix put in front of the text is not part of it.
        return AddSpacePrefix && text.StartsWith(' ') ? text[1..] : text;
    }

    public byte[] PieceBytes(int previous, int token)
    {
        var bytes = new List<byte>();
        AppendBytes(token, bytes);
        // The first piece after BOS carries the space add_space_prefix put in front of the text.
        if (AddSpacePrefix && previous == BosId && bytes.Count > 0 && bytes[0] == (byte)' ') bytes.RemoveAt(0);
        return bytes.ToArray();
    }

    public string DecodePiece(int previous, int token) => Encoding.UTF8.GetString(PieceBytes(previous, token));
}
