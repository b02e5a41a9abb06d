using System.Text.Json;
using Pare.Core;
using Pare.Core.Formats;
using Pare.TestSupport;

namespace Pare.Engine.Tests;

/// <summary>The same model read from different file formats gives the same logits through the engine.</summary>
public class CrossFormatLogitsTests
{
    internal static int[] ReferenceIds()
    {
        var meta = JsonDocument.Parse(File.ReadAllText(Shared.Reference("stories260K.logits64.json"))).RootElement;
        return Shared.Ints(meta.GetProperty("ids"));
    }

    internal static float[] Logits(Checkpoint checkpoint, int[] ids)
    {
        var model = new Transformer(LlamaWeights.FromCheckpoint(checkpoint));
        var logits = new float[ids.Length * checkpoint.Config.VocabSize];
        model.Forward(ids, model.NewCache(), logits);
        return logits;
    }

    internal static float MaxAbsDifference(float[] a, float[] b)
    {
        Assert.Equal(a.Length, b.Length);
        float worst = 0;
        for (int i = 0; i < a.Length; i++) worst = Math.Max(worst, Math.Abs(a[i] - b[i]));
        return worst;
    }

    [Fact]
    public void LlamaCppGgufGivesTheLogitsOfTheLlama2cFile()
    {
        var ids = ReferenceIds();
        var expected = Logits(ModelLoader.Load(Shared.Stories260K), ids);
        var actual = Logits(ModelLoader.Load(Shared.Stories260KGguf), ids);
        float worst = MaxAbsDifference(expected, actual);
        Assert.True(worst <= 1e-5f, $"max |Δ| = {worst}");
    }
}
