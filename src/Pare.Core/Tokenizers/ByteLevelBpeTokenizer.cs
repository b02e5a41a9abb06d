using System.Text;

namespace Pare.Core.Tokenizers;

/// <summary>
/// GPT-2 byte-level BPE as llama.cpp runs a GGUF "gpt2" vocabulary: user-defined tokens are cut out of the text first,
/// the rest is split into words by the pre-tokenizer, each word's UTF-8 bytes are written in
/// <see cref="ByteLevelAlphabet"/> characters, and adjacent symbols are merged by the lowest merge rank (leftmost first
/// on ties) until no listed merge applies. Control tokens are never produced from text.
/// </summary>
public sealed class ByteLevelBpeTokenizer : ITokenizer
{
    private const int TypeControl = 3, TypeUserDefined = 4;

    private readonly string[] _tokens;
    private readonly int[] _types;
    private readonly Dictionary<string, int> _ids;
    // Merge ranks keyed by the merge line "left right" (alphabet text never holds a plain space), looked up by span.
    private readonly Dictionary<string, int> _ranks;
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _spanRanks;
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _spanIds;
    private readonly BpePreTokenizer _preTokenizer;
    // User-defined tokens, longest first: llama.cpp partitions the text on them in this order before pre-tokenizing.
    private readonly (string Text, int Id)[] _userDefined;

    public ByteLevelBpeTokenizer(VocabularyData vocab)
    {
        if (vocab.Kind != VocabularyKind.ByteLevelBpe)
            throw new ArgumentException($"{vocab.Source}: a {vocab.Kind} vocabulary is not byte-level BPE", nameof(vocab));
        _tokens = vocab.Tokens;
        _types = vocab.TokenTypes ?? Enumerable.Repeat(1, _tokens.Length).ToArray();
        _preTokenizer = BpePreTokenizer.ForName(vocab.PreTokenizer)
            ?? throw new PareFormatException(vocab.Source, $"pre-tokenizer '{vocab.PreTokenizer}' is not supported (Pare implements llama.cpp's 'default', 'gpt-2' and 'llama-bpe')");
        _ids = new Dictionary<string, int>(_tokens.Length, StringComparer.Ordinal);
        for (int i = 0; i < _tokens.Length; i++)
            if (!_ids.TryAdd(_tokens[i], i))
                throw new PareFormatException(vocab.Source, $"token '{_tokens[i]}' appears twice (ids {_ids[_tokens[i]]} and {i})");
        var merges = vocab.Merges ?? throw new PareFormatException(vocab.Source, "a byte-level BPE vocabulary needs its merges");
        _ranks = new Dictionary<string, int>(merges.Length, StringComparer.Ordinal);
        for (int rank = 0; rank < merges.Length; rank++)
        {
            // "left right", the separator searched from index 1 as llama.cpp does.
            if (merges[rank].IndexOf(' ', 1) < 0)
                throw new PareFormatException(vocab.Source, $"merge {rank} '{merges[rank]}' is not 'left right'");
            _ranks.TryAdd(merges[rank], rank); // the first listing of a pair is its rank
        }
        _spanRanks = _ranks.GetAlternateLookup<ReadOnlySpan<char>>();
        _spanIds = _ids.GetAlternateLookup<ReadOnlySpan<char>>();
        _userDefined = Enumerable.Range(0, _tokens.Length)
            .Where(i => _types[i] == TypeUserDefined && _tokens[i].Length > 0)
            .Select(i => (_tokens[i], i))
            .OrderByDescending(t => t.Item1.Length)
            .ToArray();
        BosId = vocab.BosId;
        EosId = vocab.EosId;
    }

    public int VocabSize => _tokens.Length;
    public int BosId { get; }
    public int EosId { get; }
    public string PreTokenizer => _preTokenizer.Name;

    public int[] Encode(string text, bool addBos)
    {
        var ids = new List<int>();
        if (addBos && BosId >= 0) ids.Add(BosId);
        foreach (var (fragment, tokenId) in PartitionUserDefined(text))
        {
            if (tokenId >= 0)
            {
                ids.Add(tokenId);
                continue;
            }
            foreach (var word in _preTokenizer.Split(fragment))
            {
                var symbols = ByteLevelAlphabet.Encode(Encoding.UTF8.GetBytes(word));
                if (_preTokenizer.IgnoreMerges && _ids.TryGetValue(symbols, out int whole))
                    ids.Add(whole);
                else
                    EncodeWord(symbols, ids);
            }
        }
        return ids.ToArray();
    }

    /// <summary>The text cut at occurrences of user-defined tokens: (text, -1) stretches and ("", id) tokens.</summary>
    private List<(string Text, int Id)> PartitionUserDefined(string text)
    {
        var parts = new List<(string Text, int Id)> { (text, -1) };
        foreach (var (token, id) in _userDefined)
        {
            var next = new List<(string, int)>(parts.Count);
            foreach (var part in parts)
            {
                if (part.Id >= 0)
                {
                    next.Add(part);
                    continue;
                }
                int at = 0;
                for (int hit = part.Text.IndexOf(token, StringComparison.Ordinal); hit >= 0; hit = part.Text.IndexOf(token, at, StringComparison.Ordinal))
                {
                    if (hit > at) next.Add((part.Text[at..hit], -1));
                    next.Add(("", id));
                    at = hit + token.Length;
                }
                if (at < part.Text.Length) next.Add((part.Text[at..], -1));
            }
            parts = next;
        }
        return parts;
    }

    /// <summary>BPE over one word (already in alphabet characters, one character per byte).</summary>
    private void EncodeWord(string word, List<int> output)
    {
        int n = word.Length;
        if (n == 0) return;
        var start = new int[n];
        var length = new int[n];
        var next = new int[n];
        var prev = new int[n];
        for (int i = 0; i < n; i++)
        {
            start[i] = i;
            length[i] = 1;
            next[i] = i + 1 < n ? i + 1 : -1;
            prev[i] = i - 1;
        }
        var queue = new PriorityQueue<(int Left, int LeftLength, int RightLength), (int Rank, int Left)>();
        var pairText = new char[n + 1];
        void Consider(int left)
        {
            if (left < 0 || next[left] < 0) return;
            int right = next[left];
            // Symbols are contiguous, so the pair is the word's span with a space inserted at the boundary.
            word.AsSpan(start[left], length[left]).CopyTo(pairText);
            pairText[length[left]] = ' ';
            word.AsSpan(start[right], length[right]).CopyTo(pairText.AsSpan(length[left] + 1));
            if (_spanRanks.TryGetValue(pairText.AsSpan(0, length[left] + 1 + length[right]), out int rank))
                queue.Enqueue((left, length[left], length[right]), (rank, left));
        }
        for (int i = 0; i + 1 < n; i++) Consider(i);
        while (queue.TryDequeue(out var pair, out _))
        {
            int left = pair.Left, right = next[left];
            // Stale entries: either side has grown (or vanished) since the pair was queued.
            if (length[left] != pair.LeftLength || right < 0 || length[right] != pair.RightLength) continue;
            length[left] += length[right];
            length[right] = 0;
            next[left] = next[right];
            if (next[right] >= 0) prev[next[right]] = left;
            Consider(prev[left]);
            Consider(left);
        }
        for (int i = 0; i >= 0; i = next[i])
        {
            var symbol = word.AsSpan(start[i], length[i]);
            if (_spanIds.TryGetValue(symbol, out int id))
            {
                output.Add(id);
                continue;
            }
            // Only reachable when the vocabulary lacks some single-byte tokens: emit those it has (as llama.cpp does).
            foreach (var ch in symbol)
                if (_ids.TryGetValue(ch.ToString(), out int single)) output.Add(single);
        }
    }

    private void AppendBytes(int token, List<byte> bytes)
    {
        if (token < 0 || token >= _tokens.Length || _types[token] == TypeControl) return;
        var text = _tokens[token];
        if (_types[token] == TypeUserDefined)
        {
            // User-defined tokens are stored as plain text, not in the byte alphabet.
            bytes.AddRange(Encoding.UTF8.GetBytes(text));
            return;
        }
        foreach (var ch in text)
            if (ByteLevelAlphabet.TryDecode(ch, out var b)) bytes.Add(b);
    }

    public string Decode(ReadOnlySpan<int> ids)
    {
        var bytes = new List<byte>();
        foreach (var id in ids) AppendBytes(id, bytes);
        return Encoding.UTF8.GetString(bytes.ToArray());
    }

    public byte[] PieceBytes(int previous, int token)
    {
        var bytes = new List<byte>();
        AppendBytes(token, bytes);
        return bytes.ToArray();
    }

    public string DecodePiece(int previous, int token) => Encoding.UTF8.GetString(PieceBytes(previous, token));
}
