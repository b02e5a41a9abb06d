using System.Text;
using System.Text.RegularExpressions;

namespace Pare.Core.Tokenizers;

/// <summary>
/// Splits text into the words that byte-level BPE merges within, as llama.cpp does for a GGUF's tokenizer.ggml.pre:
/// "gpt-2" (and its aliases) use GPT-2's pattern <c>'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+</c>;
/// a missing or "default" pre-tokenizer uses llama.cpp's default chain of four patterns. Like llama.cpp (and unlike
/// Python's findall) text that no pattern matches is kept as its own word, so nothing is dropped.
/// </summary>
public sealed class BpePreTokenizer
{
    // llama.cpp's default chain (LLAMA_VOCAB_PRE_TYPE_DEFAULT): each pattern splits the pieces the previous one left.
    private static readonly Regex DefaultPunctuation = new(@"[\p{P}\$\+<=>\^~\|]+", RegexOptions.CultureInvariant);
    private static readonly Regex DefaultNumbers = new(@"\p{N}+", RegexOptions.CultureInvariant);
    private static readonly Regex DefaultDigitTriples = new("[0-9][0-9][0-9]", RegexOptions.CultureInvariant);

    // The tokenizer.ggml.pre names llama.cpp maps to the GPT-2 pattern without other special handling.
    private static readonly HashSet<string> Gpt2Names = new(StringComparer.Ordinal) { "gpt-2", "phi-2", "jina-es", "jina-de", "mpt", "olmo", "jais" };

    private readonly bool _useDefaultChain;

    private BpePreTokenizer(string name, bool useDefaultChain)
    {
        Name = name;
        _useDefaultChain = useDefaultChain;
    }

    public string Name { get; }

    /// <summary>The pre-tokenizer llama.cpp uses for <paramref name="pre"/>; null when Pare does not implement it.</summary>
    public static BpePreTokenizer? ForName(string? pre) => pre switch
    {
        null or "" or "default" => new BpePreTokenizer("default", useDefaultChain: true),
        _ when Gpt2Names.Contains(pre) => new BpePreTokenizer(pre, useDefaultChain: false),
        _ => null,
    };

    /// <summary>The words of <paramref name="text"/>, in order; their concatenation is the text.</summary>
    public List<string> Split(string text)
    {
        var pieces = new List<(int Start, int Length)> { (0, text.Length) };
        if (_useDefaultChain) pieces = SplitByRegex(text, pieces, DefaultPunctuation);
        pieces = SplitGpt2(text, pieces);
        if (_useDefaultChain)
        {
            pieces = SplitByRegex(text, pieces, DefaultNumbers);
            pieces = SplitByRegex(text, pieces, DefaultDigitTriples);
        }
        return pieces.Where(p => p.Length > 0).Select(p => text.Substring(p.Start, p.Length)).ToList();
    }

    /// <summary>Each piece cut into matches of <paramref name="pattern"/> and the unmatched stretches between them.</summary>
    private static List<(int, int)> SplitByRegex(string text, List<(int Start, int Length)> pieces, Regex pattern)
    {
        var result = new List<(int, int)>();
        foreach (var (start, length) in pieces)
        {
            int end = start + length, at = start;
            for (var m = pattern.Match(text, start, length); m.Success; m = m.NextMatch())
            {
                if (m.Length == 0) continue;
                if (m.Index > at) result.Add((at, m.Index - at));
                result.Add((m.Index, m.Length));
                at = m.Index + m.Length;
            }
            if (end > at) result.Add((at, end - at));
        }
        return result;
    }

    private enum CharClass { None, Letter, Number, Whitespace, Other }

    /// <summary>
    /// GPT-2's pattern, scanned by code point rather than run through a regex engine: .NET's regex sees UTF-16 units,
    /// so \p{L} would miss letters outside the BMP. Letters are Unicode L*, numbers N*, whitespace the White_Space
    /// property — the classes llama.cpp's tables give. Contractions are case-sensitive, as in GPT-2.
    /// </summary>
    private static List<(int, int)> SplitGpt2(string text, List<(int Start, int Length)> pieces)
    {
        var result = new List<(int, int)>();
        foreach (var (start, length) in pieces)
        {
            int end = start + length;
            CharClass ClassAt(int i)
            {
                if (i >= end) return CharClass.None;
                // Unpaired surrogates decode as U+FFFD (a symbol), as they become EF BF BD in UTF-8.
                Rune.DecodeFromUtf16(text.AsSpan(i, end - i), out var r, out _);
                return Rune.IsLetter(r) ? CharClass.Letter
                    : Rune.IsNumber(r) ? CharClass.Number
                    : Rune.IsWhiteSpace(r) ? CharClass.Whitespace
                    : CharClass.Other;
            }
            int Next(int i) => i + (char.IsHighSurrogate(text[i]) && i + 1 < end && char.IsLowSurrogate(text[i + 1]) ? 2 : 1);

            int pos = start;
            while (pos < end)
            {
                int wordStart = pos;
                char c = text[pos];
                if (c == '\'' && pos + 1 < end)
                {
                    char n = text[pos + 1];
                    if (n is 's' or 't' or 'm' or 'd')
                    {
                        result.Add((pos, 2));
                        pos += 2;
                        continue;
                    }
                    if (pos + 2 < end && (n, text[pos + 2]) is ('r', 'e') or ('v', 'e') or ('l', 'l'))
                    {
                        result.Add((pos, 3));
                        pos += 3;
                        continue;
                    }
                }

                // " ?\p{L}+", " ?\p{N}+", " ?[^\s\p{L}\p{N}]+": an optional space, then a run of one class.
                int body = c == ' ' ? pos + 1 : pos;
                var cls = ClassAt(body);
                if (cls is CharClass.Letter or CharClass.Number or CharClass.Other)
                {
                    pos = body;
                    while (pos < end && ClassAt(pos) == cls) pos = Next(pos);
                    result.Add((wordStart, pos - wordStart));
                    continue;
                }

                int run = pos;
                while (run < end && ClassAt(run) == CharClass.Whitespace) run = Next(run);
                if (run > pos)
                {
                    // "\s+(?!\S)": a whitespace run followed by more text leaves its last character to start the next word.
                    int last = run;
                    if (run < end)
                    {
                        last = pos;
                        for (int i = pos; i < run; i = Next(i)) last = i;
                    }
                    pos = last > pos ? last : run;
                    result.Add((wordStart, pos - wordStart));
                    continue;
                }

                pos = Next(pos);
                result.Add((wordStart, pos - wordStart));
            }
        }
        return result;
    }
}
