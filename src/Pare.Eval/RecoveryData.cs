using System.Formats.Tar;
using System.IO.Compression;
using System.Text;
using System.Text.Json;
using Pare.Core;

namespace Pare.Eval;

/// <summary>One recovery sample: its domain (which file it came from), its index in that domain (file order) and its text.</summary>
public sealed record RecoverySample(string Domain, int Index, string Text);

/// <summary>
/// Recovery data from a heterogeneous mix of files, as samples (the unit selection chooses): TinyStories stories
/// (split on &lt;|endoftext|&gt;), lines of raw text (WikiText-2, PTB; headings dropped, short lines merged), the
/// paragraphs of the Brown corpus archive (tags stripped), and JSONL records (GSM8K question + answer, zero-shot
/// query + gold choice or context + continuation, or a <c>text</c> field). Each domain is split in file order: the
/// first part trains, the rest is held out for evaluation, so the two never overlap.
/// </summary>
public static class RecoveryData
{
    /// <summary>Lines of raw text are merged until a sample has at least this many characters (PTB lines are single sentences).</summary>
    public const int MinSampleChars = 200;

    /// <summary>
    /// Parses <c>FILE</c> or <c>DOMAIN=FILE</c>; the default domain is the file's folder name (../shared/data/ptb/… →
    /// ptb), except in a folder of many tasks (zeroshot/piqa.jsonl → piqa), where it is the file name without extension.
    /// </summary>
    public static (string Domain, string Path) ParseSpec(string spec)
    {
        int eq = spec.IndexOf('=');
        if (eq > 0) return (spec[..eq], spec[(eq + 1)..]);
        string stem = System.IO.Path.GetFileName(spec).Split('.')[0];
        string? dir = System.IO.Path.GetFileName(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(spec)));
        return (string.IsNullOrEmpty(dir) || dir == "zeroshot" ? stem : dir, spec);
    }

    /// <summary>All samples of one file, in file order.</summary>
    public static List<RecoverySample> Load(string domain, string path)
    {
        if (!File.Exists(path)) throw new PareFormatException(path, "data file not found");
        IEnumerable<string> texts;
        if (path.EndsWith(".tgz", StringComparison.Ordinal) || path.EndsWith(".tar.gz", StringComparison.Ordinal)) texts = BrownParagraphs(path);
        else if (path.EndsWith(".jsonl", StringComparison.Ordinal)) texts = JsonlTexts(path);
        else
        {
            var text = File.ReadAllText(path);
            texts = text.Contains(EvalText.StorySeparator, StringComparison.Ordinal) ? EvalText.Stories(text) : MergeShort(RawLines(text));
        }
        var samples = texts.Select((t, i) => new RecoverySample(domain, i, t)).ToList();
        if (samples.Count == 0) throw new PareFormatException(path, "no usable samples (expected stories, text lines, JSONL records with question/answer, query/choices/gold, context/continuation or text, or a Brown corpus archive)");
        return samples;
    }

    /// <summary>The part [from, to) of a domain's samples by fraction of their count, as EvalCommand slices.</summary>
    public static List<RecoverySample> Slice(IReadOnlyList<RecoverySample> samples, double from, double to)
    {
        int a = (int)Math.Round(samples.Count * from), b = (int)Math.Round(samples.Count * to);
        return samples.Skip(a).Take(b - a).ToList();
    }

    private static IEnumerable<string> RawLines(string text)
    {
        foreach (var raw in text.Replace("\r\n", "\n").Split('\n'))
        {
            var line = raw.Trim();
            if (line.Length == 0) continue;
            // WikiText headings (" = Title = ", " = = Section = = ") carry no running text.
            if (line.StartsWith('=') && line.EndsWith('=')) continue;
            yield return line;
        }
    }

    private static IEnumerable<string> MergeShort(IEnumerable<string> lines)
    {
        var sb = new StringBuilder();
        foreach (var line in lines)
        {
            if (sb.Length > 0) sb.Append(' ');
            sb.Append(line);
            if (sb.Length >= MinSampleChars)
            {
                yield return sb.ToString();
                sb.Clear();
            }
        }
        if (sb.Length > 0) yield return sb.ToString();
    }

    private static IEnumerable<string> JsonlTexts(string path)
    {
        foreach (var line in File.ReadLines(path))
        {
            if (string.IsNullOrWhiteSpace(line)) continue;
            JsonElement r;
            try { r = JsonDocument.Parse(line).RootElement; }
            catch (JsonException e) { throw new PareFormatException(path, $"not JSON lines: {e.Message}"); }
            if (r.ValueKind != JsonValueKind.Object) continue;
            string? text = null;
            if (Str(r, "question") is { } q && Str(r, "answer") is { } a) text = q + "\n" + a;
            else if (Str(r, "query") is { } query && r.TryGetProperty("choices", out var choices) && choices.ValueKind == JsonValueKind.Array
                     && r.TryGetProperty("gold", out var gold) && gold.ValueKind == JsonValueKind.Number && gold.GetInt32() is int g && g >= 0 && g < choices.GetArrayLength())
                text = query + " " + choices[g].GetString();
            else if (Str(r, "context") is { } c && Str(r, "continuation") is { } cont) text = c + cont;
            else if (Str(r, "text") is { } t) text = t;
            if (!string.IsNullOrWhiteSpace(text)) yield return text.Trim();
        }
    }

    private static string? Str(JsonElement r, string name) => r.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    /// <summary>The Brown corpus as NLTK ships it: one file per text, paragraphs separated by blank lines, tokens as word/tag.</summary>
    private static IEnumerable<string> BrownParagraphs(string path)
    {
        using var file = File.OpenRead(path);
        using var gz = new GZipStream(file, CompressionMode.Decompress);
        using var tar = new TarReader(gz);
        var paragraphs = new List<string>();
        while (tar.GetNextEntry() is { } entry)
        {
            var name = System.IO.Path.GetFileName(entry.Name);
            // Text files are named by category letter and number (ca01 … cr09); skip the index and metadata files.
            if (entry.DataStream is null || name.Length != 4 || !name.StartsWith('c') || !char.IsDigit(name[2])) continue;
            using var reader = new StreamReader(entry.DataStream);
            var words = new List<string>();
            foreach (var line in reader.ReadToEnd().Split('\n'))
            {
                if (line.Trim().Length == 0)
                {
                    if (words.Count > 0) paragraphs.Add(string.Join(' ', words));
                    words.Clear();
                    continue;
                }
                foreach (var token in line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries))
                {
                    int slash = token.LastIndexOf('/');
                    var word = slash > 0 ? token[..slash] : token;
                    words.Add(word switch { "``" or "''" => "\"", _ => word });
                }
            }
            if (words.Count > 0) paragraphs.Add(string.Join(' ', words));
        }
        return MergeShort(paragraphs);
    }
}
