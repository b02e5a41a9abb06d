using Pare.Core;
using Pare.Core.Tokenizers;

namespace Pare.Eval;

/// <summary>Turns evaluation and calibration text into token streams, per the protocols in DESIGN.md.</summary>
public static class EvalText
{
    public const string StorySeparator = "<|endoftext|>";

    /// <summary>TinyStories: split on &lt;|endoftext|&gt;, trim, drop empty stories.</summary>
    public static List<string> Stories(string text)
        => text.Split(StorySeparator).Select(s => s.Trim()).Where(s => s.Length > 0).ToList();

    /// <summary>Each story encoded with BOS first and no EOS, concatenated.</summary>
    public static int[] TinyStoriesTokens(IEnumerable<string> stories, ITokenizer tokenizer)
    {
        var tokens = new List<int>();
        foreach (var story in stories) tokens.AddRange(tokenizer.Encode(story, addBos: true));
        return tokens.ToArray();
    }

    /// <summary>
    /// WikiText-2 raw as SparseGPT/Wanda evaluate it: the dataset's rows joined with "\n\n", tokenized once (BOS
    /// first, as LLaMA's HF tokenizer adds it). Rows are the file's lines (CRLF or LF), empty rows dropped.
    /// </summary>
    public static int[] RawTextTokens(string text, ITokenizer tokenizer)
    {
        var rows = text.Replace("\r\n", "\n").Split('\n').Where(r => r.Length > 0);
        return tokenizer.Encode(string.Join("\n\n", rows), addBos: true);
    }

    /// <summary>
    /// The token stream of a text file under a protocol ("tinystories" or "raw"), from the fraction
    /// [<paramref name="slice"/>.From, .To) of its stories (tinystories) or rows (raw): what `eval ppl` evaluates and
    /// `prune` calibrates on, so disjoint slices of one file never share a story.
    /// </summary>
    public static int[] Tokens(string path, string format, TextSlice slice, ITokenizer tokenizer)
    {
        var text = Read(path);
        if (format == "tinystories")
            return TinyStoriesTokens(slice.Take(Stories(text)), tokenizer);
        if (format != "raw")
            throw new ArgumentException($"unknown text format '{format}' (tinystories or raw)");
        var rows = text.Replace("\r\n", "\n").Split('\n');
        return RawTextTokens(string.Join("\n", slice.Take(rows)), tokenizer);
    }

    /// <summary>Reads a text file, naming it in the error when missing.</summary>
    public static string Read(string path)
        => File.Exists(path) ? File.ReadAllText(path) : throw new PareFormatException(path, "data file not found");
}
