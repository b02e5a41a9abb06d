using Pare.Torch.Recovery;

namespace Pare.Torch.Tests;

[Collection(TorchCollection.Name)]
public class SentenceEmbeddingsTests
{
    private static double Cosine(float[] a, float[] b)
    {
        double ab = 0, aa = 0, bb = 0;
        for (int i = 0; i < a.Length; i++)
        {
            ab += a[i] * b[i];
            aa += a[i] * a[i];
            bb += b[i] * b[i];
        }
        return ab / Math.Sqrt(aa * bb);
    }

    [Fact]
    public void MiniLmPlacesParaphrasesCloserThanUnrelatedSentences()
    {
        using var encoder = new MiniLmEmbedder();
        var v = encoder.Embed(new[]
        {
            "The cat sat on the mat.",
            "A cat was sitting on the rug.",
            "The stock market fell sharply on Monday.",
            "Shares dropped steeply at the start of the week.",
        });
        // all-MiniLM-L6-v2 gives 384-dimensional vectors; paraphrase pairs score well above unrelated pairs.
        Assert.All(v, x => Assert.Equal(384, x.Length));
        double para1 = Cosine(v[0], v[1]), para2 = Cosine(v[2], v[3]);
        double unrelated = Math.Max(Cosine(v[0], v[2]), Cosine(v[1], v[3]));
        Assert.True(para1 > unrelated + 0.2 && para2 > unrelated + 0.2, $"paraphrases {para1:F3}, {para2:F3}; unrelated {unrelated:F3}");
    }

    private sealed class Fixed(string name) : ISentenceEmbedder
    {
        public string Name => name;
        public float[][] Embed(IReadOnlyList<string> texts, Action<int>? onDone = null) => texts.Select(_ => new[] { 1f }).ToArray();
    }

    private sealed class Missing : ISentenceEmbedder
    {
        public string Name => "missing";
        public float[][] Embed(IReadOnlyList<string> texts, Action<int>? onDone = null) => throw new DllNotFoundException("libonnxruntime.so: cannot open shared object file");
    }

    [Fact]
    public void AMissingEncoderFallsBackWithAWarningNotAnError()
    {
        var (embedder, warning) = SentenceEmbeddings.Choose(() => new Missing(), () => new Fixed("hidden"));
        Assert.Equal("hidden", embedder.Name);
        Assert.NotNull(warning);
        Assert.Contains("libonnxruntime", warning);
        Assert.Contains("hidden", warning);

        var (ctorFails, w2) = SentenceEmbeddings.Choose(() => throw new TypeInitializationException("Microsoft.ML.OnnxRuntime.NativeMethods", null), () => new Fixed("hidden"));
        Assert.Equal("hidden", ctorFails.Name);
        Assert.NotNull(w2);

        var (encoder, none) = SentenceEmbeddings.Choose(() => new Fixed("encoder"), () => new Fixed("hidden"));
        Assert.Equal("encoder", encoder.Name);
        Assert.Null(none);
    }
}
