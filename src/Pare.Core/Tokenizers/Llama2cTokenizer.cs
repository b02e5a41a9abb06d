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
    private readonly Dictionary<long, int> _pairCache = new();

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
        // Encoding falls back to byte tokens for any character; all 256 must be ids of this vocabulary.
        if (_byteFallbackBase + 256 > pieces.Length || Math.Max(bosId, eosId) >= pieces.Length)
            throw new ArgumentException($"a llama2.c vocabulary needs BOS/EOS and the 256 byte tokens from id {_byteFallbackBase}; this one has {pieces.Length} tokens");
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
        }
        if (expectedVocab is int ev && pieces.Count != ev)
            throw new PareFormatException(path, $"tokenizer has {pieces.Count} tokens, the model's vocabulary has {ev}");
        try { return new Llama2cTokenizer(pieces.ToArray(), scores.ToArray()); }
        catch (ArgumentException e) { throw new PareFormatException(path, e.Message, e); }
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

        MergePairs(tokens, start);
        return tokens.ToArray();
    }

    /// <summary>
    /// run.c repeatedly merges the adjacent pair with the highest-scoring concatenation, the leftmost on ties. A heap
    /// keyed by (score, position) over a linked list gives the same merges in O(n log n) instead of O(n²) rescans.
    /// </summary>
    private void MergePairs(List<int> tokens, int start)
    {
        int n = tokens.Count - start;
        if (n < 2) return;
        var tok = new int[n];
        var next = new int[n];
        var prev = new int[n];
        var alive = new bool[n];
        for (int i = 0; i < n; i++)
        {
            tok[i] = tokens[start + i];
            next[i] = i + 1 < n ? i + 1 : -1;
            prev[i] = i - 1;
            alive[i] = true;
        }
        var heap = new PriorityQueue<(int Left, int LeftTok, int RightTok, int Merged), (float NegScore, int Pos)>();
        void Consider(int left)
        {
            if (left < 0 || next[left] < 0) return;
            int a = tok[left], b = tok[next[left]];
            int merged = MergedToken(a, b);
            if (merged >= 0) heap.Enqueue((left, a, b, merged), (-_scores[merged], left));
        }
        for (int i = 0; i < n - 1; i++) Consider(i);
        while (heap.TryDequeue(out var e, out _))
        {
            int right = next[e.Left];
            if (!alive[e.Left] || right < 0 || tok[e.Left] != e.LeftTok || tok[right] != e.RightTok) continue;
            tok[e.Left] = e.Merged;
            alive[right] = false;
            next[e.Left] = next[right];
            if (next[right] >= 0) prev[next[right]] = e.Left;
            Consider(prev[e.Left]);
            Consider(e.Left);
        }
        tokens.RemoveRange(start, n);
        for (int i = 0; i >= 0; i = next[i]) tokens.Add(tok[i]);
    }

    private int MergedToken(int a, int b)
    {
        long key = (long)a << 32 | (uint)b;
        lock (_pairCache)
        {
            if (_pairCache.TryGetValue(key, out var merged)) return merged;
            merged = _lookup.TryGetValue(_pieces[a] + _pieces[b], out var id) ? id : -1;
            _pairCache[key] = merged;
            return merged;
        }
    }

    private static int Utf8Length(byte lead) => lead switch
    {
        < 0x80 => 1,
        >= 0xF0 => 4,
        >= 0xE0 => 3,
        >= 0xC0 => 2,
        _ => 1,
    };

    public byte[] PieceBytes(int previous, int token)
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
