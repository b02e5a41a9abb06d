using System.Text.Json;
using Pare.Core;

namespace Pare.Eval;

/// <summary>How a task is scored: pick one of several continuations, or reproduce one continuation (LAMBADA).</summary>
public enum ZeroShotKind
{
    /// <summary>Choices scored by log-likelihood: <c>query</c>/<c>choices</c>/<c>gold</c>, or WinoGrande's <c>context_options</c>/<c>continuation</c>/<c>gold</c>.</summary>
    MultipleChoice,
    /// <summary><c>context</c>/<c>continuation</c>: greedy exact match and perplexity of the continuation.</summary>
    Completion,
}

/// <summary>
/// One scored pair: the model reads <see cref="Context"/> and is scored on <see cref="Continuation"/>. A multiple-choice
/// item has one per choice (sharing the context, or — WinoGrande — sharing the continuation). <see cref="Choice"/> is
/// the choice's own text, without the delimiter, whose UTF-8 length normalises acc_norm (lm-evaluation-harness
/// divides by the length of the choice string, not of the delimiter it adds).
/// </summary>
public sealed record ZeroShotPair(string Context, string Continuation, string Choice);

/// <summary>One item: its pairs (one per choice, or one for a completion) and the gold choice's index.</summary>
public sealed record ZeroShotItem(IReadOnlyList<ZeroShotPair> Pairs, int Gold)
{
}

/// <summary>A named list of items of one kind.</summary>
public sealed record ZeroShotTask(string Name, ZeroShotKind Kind, IReadOnlyList<ZeroShotItem> Items)
{
    /// <summary>
    /// Reads a JSONL file in one of llm-foundry's formats (detected per file from the first line's fields).
    /// <paramref name="delimiter"/> joins context and continuation ("Question … Answer" tasks in llm-foundry's own
    /// configs use other delimiters; lm-evaluation-harness's defaults are a single space).
    /// </summary>
    public static ZeroShotTask Load(string path, string? name = null, string delimiter = " ", int? limit = null)
    {
        if (!File.Exists(path)) throw new PareFormatException(path, "task file not found");
        var items = new List<ZeroShotItem>();
        ZeroShotKind? kind = null;
        int lineNo = 0;
        foreach (var line in File.ReadLines(path))
        {
            lineNo++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            if (limit is int l && items.Count >= l) break;
            JsonElement e;
            try
            {
                e = JsonDocument.Parse(line).RootElement;
            }
            catch (JsonException ex)
            {
                throw new PareFormatException(path, $"line {lineNo}: not valid JSON ({ex.Message})");
            }
            var (k, item) = ParseItem(e, delimiter, path, lineNo);
            if (kind is { } seen && seen != k) throw new PareFormatException(path, $"line {lineNo}: mixes a {k} item into a {seen} task");
            kind = k;
            items.Add(item);
        }
        if (items.Count == 0) throw new PareFormatException(path, "no items");
        return new ZeroShotTask(name ?? Path.GetFileNameWithoutExtension(path), kind!.Value, items);
    }

    private static (ZeroShotKind, ZeroShotItem) ParseItem(JsonElement e, string delimiter, string path, int lineNo)
    {
        string Where(string what) => $"line {lineNo}: {what}";
        if (e.ValueKind != JsonValueKind.Object) throw new PareFormatException(path, Where("not a JSON object"));
        if (e.TryGetProperty("query", out var query) && e.TryGetProperty("choices", out var choices))
        {
            var texts = Strings(choices, path, Where("'choices'"));
            int gold = Gold(e, texts.Count, path, Where("'gold'"));
            var q = query.GetString() ?? "";
            return (ZeroShotKind.MultipleChoice, new ZeroShotItem(texts.Select(c => new ZeroShotPair(q, delimiter + c, c)).ToList(), gold));
        }
        if (e.TryGetProperty("context_options", out var options) && e.TryGetProperty("continuation", out var shared))
        {
            var contexts = Strings(options, path, Where("'context_options'"));
            int gold = Gold(e, contexts.Count, path, Where("'gold'"));
            var text = shared.GetString() ?? "";
            return (ZeroShotKind.MultipleChoice, new ZeroShotItem(contexts.Select(c => new ZeroShotPair(c, delimiter + text, text)).ToList(), gold));
        }
        if (e.TryGetProperty("context", out var context) && e.TryGetProperty("continuation", out var continuationText))
        {
            var cont = continuationText.GetString() ?? "";
            if (cont.Length == 0) throw new PareFormatException(path, Where("empty 'continuation'"));
            return (ZeroShotKind.Completion, new ZeroShotItem([new ZeroShotPair(context.GetString() ?? "", delimiter + cont, cont)], 0));
        }
        throw new PareFormatException(path, Where("expected query/choices/gold, context_options/continuation/gold or context/continuation"));
    }

    private static List<string> Strings(JsonElement array, string path, string what)
    {
        if (array.ValueKind != JsonValueKind.Array) throw new PareFormatException(path, $"{what} is not a list");
        var list = array.EnumerateArray().Select(c => c.ValueKind == JsonValueKind.String ? c.GetString()! : throw new PareFormatException(path, $"{what} holds a non-string")).ToList();
        if (list.Count == 0) throw new PareFormatException(path, $"{what} is an empty list");
        return list;
    }

    private static int Gold(JsonElement e, int count, string path, string what)
    {
        if (!e.TryGetProperty("gold", out var g) || g.ValueKind != JsonValueKind.Number || !g.TryGetInt32(out int gold))
            throw new PareFormatException(path, $"{what} is missing or not an integer");
        if (gold < 0 || gold >= count) throw new PareFormatException(path, $"{what} is {gold}, outside the {count} choices (0..{count - 1})");
        return gold;
    }
}
