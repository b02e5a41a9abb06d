namespace Pare.Eval;

/// <summary>
/// A cloze task for stories models, which cannot do the standard zero-shot suites: the context is a story up to its
/// last word, the continuation that word (trailing punctuation dropped, as LAMBADA's targets carry none). The
/// completion variant scores greedy exact match and perplexity; the multiple-choice variant sets the gold word among
/// <c>choices − 1</c> distractors, last words of other stories (distinct from the gold word and each other), the
/// gold position drawn from a seeded generator so the file is the same on every run.
/// </summary>
public static class TinyStoriesCloze
{
    public const string CompletionName = "tinystories_cloze";
    public const string ChoiceName = "tinystories_cloze4";

    /// <summary>(context, last word) of each story that has at least two words and a last word of letters.</summary>
    public static List<(string Context, string Word)> Split(IEnumerable<string> stories)
    {
        var list = new List<(string, string)>();
        foreach (var story in stories)
        {
            var s = story.TrimEnd();
            int end = s.Length;
            while (end > 0 && !char.IsLetterOrDigit(s[end - 1])) end--;
            int start = end;
            while (start > 0 && !char.IsWhiteSpace(s[start - 1])) start--;
            if (start == 0 || end == start) continue;
            var word = s[start..end];
            if (!word.All(char.IsLetter)) continue;
            list.Add((s[..start].TrimEnd(), word));
        }
        return list;
    }

    public static ZeroShotTask Completion(IEnumerable<string> stories, int? limit = null)
    {
        var items = Split(stories).Take(limit ?? int.MaxValue)
            .Select(x => new ZeroShotItem([new ZeroShotPair(x.Context, " " + x.Word, x.Word)], 0)).ToList();
        return new ZeroShotTask(CompletionName, ZeroShotKind.Completion, items);
    }

    public static ZeroShotTask MultipleChoice(IEnumerable<string> stories, int choices = 4, int seed = 0, int? limit = null)
    {
        if (choices < 2) throw new ArgumentException($"a multiple-choice cloze needs at least 2 choices, got {choices}");
        var split = Split(stories);
        var words = split.Select(x => x.Word).Distinct(StringComparer.OrdinalIgnoreCase).ToList();
        if (words.Count < choices) throw new ArgumentException($"only {words.Count} distinct last words, fewer than {choices} choices");
        var rng = new Random(seed);
        var items = new List<ZeroShotItem>();
        foreach (var (context, word) in split.Take(limit ?? int.MaxValue))
        {
            var options = new List<string> { word };
            while (options.Count < choices)
            {
                var w = words[rng.Next(words.Count)];
                if (!options.Contains(w, StringComparer.OrdinalIgnoreCase)) options.Add(w);
            }
            int gold = rng.Next(choices);
            (options[0], options[gold]) = (options[gold], options[0]);
            items.Add(new ZeroShotItem(options.Select(o => new ZeroShotPair(context, " " + o, o)).ToList(), gold));
        }
        return new ZeroShotTask(choices == 4 ? ChoiceName : $"tinystories_cloze{choices}", ZeroShotKind.MultipleChoice, items);
    }

    /// <summary>A task as llm-foundry JSONL lines (query/choices/gold or context/continuation), for other tools to read.</summary>
    public static IEnumerable<string> ToJsonLines(ZeroShotTask task)
    {
        foreach (var item in task.Items)
        {
            var node = task.Kind == ZeroShotKind.MultipleChoice
                ? new System.Text.Json.Nodes.JsonObject
                {
                    ["query"] = item.Pairs[0].Context,
                    ["choices"] = new System.Text.Json.Nodes.JsonArray(item.Pairs.Select(p => (System.Text.Json.Nodes.JsonNode)p.Choice).ToArray()),
                    ["gold"] = item.Gold,
                }
                : new System.Text.Json.Nodes.JsonObject { ["context"] = item.Pairs[0].Context, ["continuation"] = item.Pairs[0].Choice };
            yield return node.ToJsonString();
        }
    }
}
