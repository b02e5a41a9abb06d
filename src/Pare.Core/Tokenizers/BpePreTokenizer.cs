using System.Text;
using System.Text.RegularExpressions;

namespace Pare.Core.Tokenizers;

/// <summary>
/// Splits text into the words that byte-level BPE merges within, as llama.cpp does for a GGUF's tokenizer.ggml.pre:
/// "gpt-2" (and its aliases) use GPT-2's pattern <c>'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+</c>;
/// "llama-bpe" (Llama 3) uses <c>(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+</c>
/// and skips merging a word that is itself a token; a missing or "default" pre-tokenizer uses llama.cpp's default
/// chain of four patterns. Like llama.cpp (and unlike Python's findall) text that no pattern matches is kept as its
/// own word, so nothing is dropped.
/// </summary>
public sealed class BpePreTokenizer
{
    private enum Scheme { Default, Gpt2, Llama3 }

    // llama.cpp's default chain (LLAMA_VOCAB_PRE_TYPE_DEFAULT): each pattern splits the pieces the previous one left.
    private static readonly Regex DefaultPunctuation = new(@"[\p{P}\$\+<=>\^~\|]+", RegexOptions.CultureInvariant);
    private static readonly Regex DefaultNumbers = new(@"\p{N}+", RegexOptions.CultureInvariant);
    private static readonly Regex DefaultDigitTriples = new("[0-9][0-9][0-9]", RegexOptions.CultureInvariant);

    // tokenizer.ggml.pre names that llama.cpp maps to these patterns without other special handling.
    private static readonly HashSet<string> Gpt2Names = new(StringComparer.Ordinal) { "gpt-2", "phi-2", "jina-es", "jina-de", "mpt", "olmo", "jais" };
    private static readonly HashSet<string> Llama3Names = new(StringComparer.Ordinal) { "llama3", "llama-v3", "llama-bpe", "falcon3" };

    private readonly Scheme _scheme;

    private BpePreTokenizer(string name, Scheme scheme)
    {
        Name = name;
        _scheme = scheme;
    }

    public string Name { get; }

    /// <summary>Whether a word that is a token as a whole is taken as is, without merges (llama.cpp's ignore_merges).</summary>
    public bool IgnoreMerges => _scheme == Scheme.Llama3;

    /// <summary>The pre-tokenizer llama.cpp uses for <paramref name="pre"/>; null when Pare does not implement it.</summary>
    public static BpePreTokenizer? ForName(string? pre) => pre switch
    {
        null or "" or "default" => new BpePreTokenizer("default", Scheme.Default),
        _ when Gpt2Names.Contains(pre) => new BpePreTokenizer(pre, Scheme.Gpt2),
        _ when Llama3Names.Contains(pre) => new BpePreTokenizer(pre, Scheme.Llama3),
        _ => null,
    };

    /// <summary>The words of <paramref name="text"/>, in order; their concatenation is the text.</summary>
    public List<string> Split(string text)
    {
        var pieces = new List<(int Start, int Length)> { (0, text.Length) };
        switch (_scheme)
        {
            case Scheme.Default:
                pieces = SplitByRegex(text, pieces, DefaultPunctuation);
                pieces = SplitGpt2(text, pieces);
                pieces = SplitByRegex(text, pieces, DefaultNumbers);
                pieces = SplitByRegex(text, pieces, DefaultDigitTriples);
                break;
            case Scheme.Gpt2:
                pieces = SplitGpt2(text, pieces);
                break;
            case Scheme.Llama3:
                pieces = SplitLlama3(text, pieces);
                break;
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
    /// The class of the code point at <paramref name="i"/> (None past <paramref name="end"/>): letters are Unicode L*,
    /// numbers N*, whitespace the White_Space property — the classes llama.cpp's tables give.
    /// </summary>
    private static CharClass Classify(string text, int i, int end)
    {
        if (i >= end) return CharClass.None;
        // Unpaired surrogates decode as U+FFFD (a symbol), as they become EF BF BD in UTF-8.
        Rune.DecodeFromUtf16(text.AsSpan(i, end - i), out var r, out _);
        return Rune.IsLetter(r) ? CharClass.Letter
            : Rune.IsNumber(r) ? CharClass.Number
            : Rune.IsWhiteSpace(r) ? CharClass.Whitespace
            : CharClass.Other;
    }

    private static int NextIndex(string text, int i, int end) =>
        i + (char.IsHighSurrogate(text[i]) && i + 1 < end && char.IsLowSurrogate(text[i + 1]) ? 2 : 1);

    private static bool IsCrOrLf(string text, int i, int end) => i < end && text[i] is '\r' or '\n';

    /// <summary>
    /// GPT-2's pattern, scanned by code point rather than run through a regex engine: .NET's regex sees UTF-16 units,
    /// so \p{L} would miss letters outside the BMP. Contractions are case-sensitive, as in GPT-2.
    /// </summary>
    private static List<(int, int)> SplitGpt2(string text, List<(int Start, int Length)> pieces)
    {
        var result = new List<(int, int)>();
        foreach (var (start, length) in pieces)
        {
            int end = start + length;
            CharClass ClassAt(int i) => Classify(text, i, end);
            int Next(int i) => NextIndex(text, i, end);

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

    /// <summary>Llama 3's pattern, scanned by code point like <see cref="SplitGpt2"/>; contractions ignore case.</summary>
    private static List<(int, int)> SplitLlama3(string text, List<(int Start, int Length)> pieces)
    {
        var result = new List<(int, int)>();
        foreach (var (start, length) in pieces)
        {
            int end = start + length;
            CharClass ClassAt(int i) => Classify(text, i, end);
            int Next(int i) => NextIndex(text, i, end);

            int pos = start;
            while (pos < end)
            {
                int wordStart = pos;
                var cls = ClassAt(pos);

                // (?i:'s|'t|'re|'ve|'m|'ll|'d)
                if (text[pos] == '\'' && pos + 1 < end)
                {
                    char n = char.ToLowerInvariant(text[pos + 1]);
                    if (n is 's' or 't' or 'm' or 'd')
                    {
                        result.Add((pos, 2));
                        pos += 2;
                        continue;
                    }
                    if (pos + 2 < end && (n, char.ToLowerInvariant(text[pos + 2])) is ('r', 'e') or ('v', 'e') or ('l', 'l'))
                    {
                        result.Add((pos, 3));
                        pos += 3;
                        continue;
                    }
                }

                // [^\r\n\p{L}\p{N}]?\p{L}+
                if (cls == CharClass.Letter || (cls != CharClass.Number && !IsCrOrLf(text, pos, end) && ClassAt(Next(pos)) == CharClass.Letter))
                {
                    pos = Next(pos);
                    while (ClassAt(pos) == CharClass.Letter) pos = Next(pos);
                    result.Add((wordStart, pos - wordStart));
                    continue;
                }

                // \p{N}{1,3}
                if (cls == CharClass.Number)
                {
                    for (int count = 0; count < 3 && ClassAt(pos) == CharClass.Number; count++) pos = Next(pos);
                    result.Add((wordStart, pos - wordStart));
                    continue;
                }

                // " ?[^\s\p{L}\p{N}]+[\r\n]*"
                int body = text[pos] == ' ' ? pos + 1 : pos;
                if (ClassAt(body) == CharClass.Other)
                {
                    pos = body;
                    while (ClassAt(pos) == CharClass.Other) pos = Next(pos);
                    while (IsCrOrLf(text, pos, end)) pos++;
                    result.Add((wordStart, pos - wordStart));
                    continue;
                }

                // Whitespace: "\s*[\r\n]+" ends after the run's last CR/LF; else "\s+(?!\S)" leaves the last
                // character of a run that text follows; else "\s+".
                int run = pos, lastBreak = -1, lastChar = pos;
                while (ClassAt(run) == CharClass.Whitespace)
                {
                    if (IsCrOrLf(text, run, end)) lastBreak = run;
                    lastChar = run;
                    run = Next(run);
                }
                if (lastBreak >= 0) pos = lastBreak + 1;
                else if (run > pos && run < end && lastChar > pos) pos = lastChar;
                else if (run > pos) pos = run;
                else pos = Next(pos);
                result.Add((wordStart, pos - wordStart));
            }
        }
        return result;
    }
}
