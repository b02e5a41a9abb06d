using System.Buffers.Binary;
using System.Text;

namespace Pare.Core.Tokenizers;

/// <summary>
/// The tokenizer of karpathy/llama2.c: a vocabulary of byte strings with scores; encoding starts from UTF-8 code
/// points (unknown ones fall back to byte tokens &lt;0xXX&gt; at id byte+3), prepends the SentencePiece dummy
/// space, then repeatedly merges the adjacent pair whose concatenation is the highest-scoring vocabulary entry.
/// </summary>
public sealed class Llama2cTokenizer : ITokenizer
{
    // Token strings kept as Latin-1 so that one char is one byte: concatenating two keys concatenates their bytes.
    private readonly string[] _pieces;
    private readonly float[] _scores;
    private readonly Dictionary<string, int> _lookup;
    private readonly int _byteFallbackBase;

    public Llama2cTokenizer(string[] pieces, float[] scores, int bosId = 1, int eosId = 2)
    {
        _pieces = pieces;
        _scores = scores;
        BosId = bosId;
        EosId = eosId;
        _lookup = new Dictionary<string, int>(pieces.Length, StringComparer.Ordinal);
        for (int i = 0; i < pieces.Length; i++)
            _lookup.TryAdd(pieces[i], i);
        _byteFallbackBase = _lookup.TryGetValue("<0x00>", out var b) ? b : 3;
    }

    public int VocabSize => _pieces.Length;
    public int BosId { get; }
    public int EosId { get; }

    public static Llama2cTokenizer Load(string path, int? expectedVocab = null)
    {
        if (!File.Exists(path)) throw new PareFormatException(path, "tokenizer file not found");
        var bytes = File.ReadAllBytes(path);
        if (bytes.Length < 4) throw new PareFormatException(path, "truncated llama2.c tokenizer: no header");
        var pieces = new List<string>();
        var scores = new List<float>();
        int pos = 4;
        int maxLen = BinaryPrimitives.ReadInt32LittleEndian(bytes);
        if (maxLen <= 0 || maxLen > 1 << 16) throw new PareFormatException(path, $"not a llama2.c tokenizer: max token length {maxLen}");
        while (pos < bytes.Length)
        {
            if (bytes.Length - pos < 8) throw new PareFormatException(path, $"truncated llama2.c tokenizer at token {pieces.Count}");
            float score = BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(pos));
            int len = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(pos + 4));
            pos += 8;
            if (len < 0 || len > maxLen || len > bytes.Length - pos)
                throw new PareFormatException(path, $"corrupt llama2.c tokenizer: token {pieces.Count} claims {len} bytes");
            pieces.Add(Encoding.Latin1.GetString(bytes, pos, len));
            scores.Add(score);
            pos += len;
            if (expectedVocab is int v && pieces.Count == v) break;
        }
        if (expectedVocab is int ev && pieces.Count != ev)
            throw new PareFormatException(path, $"tokenizer has {pieces.Count} tokens, the model's vocabulary has {ev}");
        return new Llama2cTokenizer(pieces.ToArray(), scores.ToArray());
    }

    /// <summary>From a GGUF-style vocabulary (pieces with '▁' for spaces, as UTF-16 strings).</summary>
    public static Llama2cTokenizer FromVocabulary(VocabularyData vocab)
    {
        var pieces = vocab.Tokens.Select(t => Encoding.Latin1.GetString(Encoding.UTF8.GetBytes(t.Replace('\u2581', ' ')))).ToArray();
        var scores = vocab.Scores ?? new float[pieces.Length];
        return new Llama2cTokenizer(pieces, scores, vocab.BosId, vocab.EosId);
    }

    public int[] Encode(string text, bool addBos)
    {
        var tokens = new List<int>(text.Length + 2);
        if (addBos) tokens.Add(BosId);
        int start = tokens.Count;
        if (text.Length > 0 && _lookup.TryGetValue(" ", out var dummy))
            tokens.Add(dummy);

        var utf8 = Encoding.UTF8.GetBytes(text);
        for (int i = 0; i < utf8.Length;)
        {
            int len = Utf8Length(utf8[i]);
            if (i + len > utf8.Length) len = 1;
            var cp = Encoding.Latin1.GetString(utf8, i, len);
            if (_lookup.TryGetValue(cp, out var id))
                tokens.Add(id);
            else
                for (int k = 0; k < len; k++) tokens.Add(utf8[i + k] + _byteFallbackBase);
            i += len;
        }

        while (true)
        {
            float best = float.NegativeInfinity;
            int bestId = -1, bestAt = -1;
            for (int i = start; i < tokens.Count - 1; i++)
            {
                if (_lookup.TryGetValue(_pieces[tokens[i]] + _pieces[tokens[i + 1]], out var id) && _scores[id] > best)
                {
                    best = _scores[id];
                    bestId = id;
                    bestAt = i;
                }
            }
            if (bestAt < 0) break;
            tokens[bestAt] = bestId;
            tokens.RemoveAt(bestAt + 1);
        }
        return tokens.ToArray();
    }

    private static int Utf8Length(byte lead) => lead switch
    {
        < 0x80 => 1,
        >= 0xF0 => 4,
        >= 0xE0 => 3,
        >= 0xC0 => 2,
        _ => 1,
    };

    private byte[] PieceBytes(int previous, int token)
    {
        if (token < 0 || token >= _pieces.Length) return [];
        var piece = _pieces[token];
        if (previous == BosId && piece.Length > 0 && piece[0] == ' ') piece = piece[1..];
        if (piece.Length == 6 && piece.StartsWith("<0x", StringComparison.Ordinal) && piece[5] == '>'
            && byte.TryParse(piece.AsSpan(3, 2), System.Globalization.NumberStyles.HexNumber, null, out var b))
            return [b];
        return Encoding.Latin1.GetBytes(piece);
    }

    public string DecodePiece(int previous, int token) => Encoding.UTF8.GetString(PieceBytes(previous, token));

    public string Decode(ReadOnlySpan<int> ids)
    {
        var bytes = new List<byte>();
        int prev = BosId;
        foreach (var id in ids)
        {
            if (id == BosId || id == EosId) { prev = id; continue; }
            bytes.AddRange(PieceBytes(prev, id));
            prev = id;
        }
        return Encoding.UTF8.GetString(bytes.ToArray());
    }
}
