using System.Text;
using Pare.TestSupport;

namespace Pare.Core.Tests.Tokenizers;

/// <summary>
/// llama.cpp's tokenizer test vectors (models/ggml-vocab-*.gguf.inp/.out): the .inp holds strings each followed by a
/// line <c>__ggml_vocab_test__</c>; the .out holds, one line per string, the expected ids separated by spaces (no BOS).
/// </summary>
public static class VocabTestVectors
{
    private const string Separator = "\n__ggml_vocab_test__\n";

    public static string VocabPath(string name) => Shared.PathOf("tokenizers", "gguf-vocab", $"ggml-vocab-{name}.gguf");

    public static IReadOnlyList<(string Text, int[] Ids)> Read(string name)
    {
        var path = VocabPath(name);
        var input = Encoding.UTF8.GetString(File.ReadAllBytes(path + ".inp"));
        var texts = input.Split(Separator);
        // Every string, the last included, is followed by the separator: the final element is the empty remainder.
        Assert.Equal("", texts[^1]);
        var lines = File.ReadAllLines(path + ".out");
        Assert.Equal(texts.Length - 1, lines.Length);
        return texts[..^1]
            .Zip(lines, (t, l) => (t, l.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse).ToArray()))
            .ToList();
    }

    /// <summary>The vectors whose encoding differs from the expected ids, described for an assertion message.</summary>
    public static List<string> Mismatches(IReadOnlyList<(string Text, int[] Ids)> vectors, Func<string, int[]> encode)
    {
        var bad = new List<string>();
        foreach (var (text, ids) in vectors)
        {
            var got = encode(text);
            if (!got.SequenceEqual(ids))
                bad.Add($"'{Escape(text)}': expected [{string.Join(' ', ids)}], got [{string.Join(' ', got)}]");
        }
        return bad;
    }

    public static string Escape(string s) => s.Replace("\n", "\\n").Replace("\t", "\\t");
}
