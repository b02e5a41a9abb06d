using System.Text;
using System.Text.RegularExpressions;
using Pare.Core.Tokenizers;

namespace Pare.Core.Tests.Tokenizers;

/// <summary>
/// The code-point scanners of <see cref="BpePreTokenizer"/> against .NET's regex engine running the published
/// patterns (GPT-2's encoder.py, Llama 3's tokenizer.json), keeping unmatched stretches as words like llama.cpp.
/// .NET's regex sees UTF-16 units, so strings where a non-BMP character touches a letter are left out: there the
/// engines legitimately differ (a surrogate half is not a letter).
/// </summary>
public class BpePreTokenizerTests
{
    private const string Gpt2Pattern = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";
    private const string Llama3Pattern = @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    private static readonly string[] ExtraStrings =
    [
        "Hello\r\n\r\n  world\n", "  \n\n  x  ", "I'M HERE 12345678 'Ll ÄÖü don't", "a\u00A0b\u3000c\u2028d", "x\t\t\ny",
        "1,234,567.89 + 3 = ¾", "\n", "   ", "tab\there", "'''s 's'S", "Ünïcödé ТЕСТ 中文字符 テスト",
    ];

    private static List<string> ReferenceSplit(string text, Regex pattern)
    {
        var words = new List<string>();
        int at = 0;
        foreach (Match m in pattern.Matches(text))
        {
            if (m.Index > at) words.Add(text[at..m.Index]);
            words.Add(m.Value);
            at = m.Index + m.Length;
        }
        if (at < text.Length) words.Add(text[at..]);
        return words;
    }

    private static bool AstralTouchesLetter(string s)
    {
        var runes = s.EnumerateRunes().ToArray();
        for (int i = 0; i < runes.Length; i++)
            if (runes[i].Utf16SequenceLength == 2
                && ((i > 0 && Rune.IsLetter(runes[i - 1])) || (i + 1 < runes.Length && Rune.IsLetter(runes[i + 1])) || Rune.IsLetter(runes[i]) || Rune.IsNumber(runes[i])))
                return true;
        return false;
    }

    [Theory]
    [InlineData("gpt-2", Gpt2Pattern)]
    [InlineData("llama-bpe", Llama3Pattern)]
    public void ScannerSplitsLikeThePublishedPattern(string pre, string pattern)
    {
        var tokenizer = BpePreTokenizer.ForName(pre)!;
        var regex = new Regex(pattern, RegexOptions.CultureInvariant);
        var strings = VocabTestVectors.Read("gpt-2").Select(v => v.Text).Concat(ExtraStrings).Where(s => !AstralTouchesLetter(s)).ToList();
        Assert.True(strings.Count >= 50, $"only {strings.Count} comparable strings");
        foreach (var s in strings)
            Assert.Equal(ReferenceSplit(s, regex), tokenizer.Split(s));
    }

    [Fact]
    public void Llama3KeepsAnEmojiWithTheLettersAfterIt()
    {
        // "[^\r\n\p{L}\p{N}]?\p{L}+" over code points: one non-letter (here a whole emoji) may lead a run of letters.
        Assert.Equal(["\U0001F600abc", " d"], BpePreTokenizer.ForName("llama-bpe")!.Split("\U0001F600abc d"));
        Assert.Equal(["\U0001F600", "abc", " d"], BpePreTokenizer.ForName("gpt-2")!.Split("\U0001F600abc d"));
    }

    [Fact]
    public void UnknownPreTokenizerIsNotGuessed() => Assert.Null(BpePreTokenizer.ForName("qwen2"));
}
