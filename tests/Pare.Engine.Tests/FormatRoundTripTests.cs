using Pare.Core;
using Pare.Core.Formats;
using Pare.Core.Formats.Gguf;
using Pare.Core.Formats.Safetensors;
using Pare.TestSupport;

namespace Pare.Engine.Tests;

/// <summary>llama2.c → safetensors → GGUF → llama2.c: every hop keeps the model, so the logits are bit-identical.</summary>
public class FormatRoundTripTests
{
    [Theory]
    [InlineData("stories260K/stories260K.bin")]
    [InlineData("synthetic-tiny/synthetic-tiny.bin")]
    public void ThroughEveryWriterAndBackGivesIdenticalLogits(string model)
    {
        using var dir = new TempDir();
        var ids = CrossFormatLogitsTests.ReferenceIds()[..32];
        var original = ModelLoader.Load(Shared.PathOf("models", model));
        var expected = CrossFormatLogitsTests.Logits(original, ids);

        HfWriter.Write(original, dir.File("hf"));
        var hf = ModelLoader.Load(dir.File("hf"));
        GgufWriter.Write(hf, dir.File("model.gguf"));
        var gguf = ModelLoader.Load(dir.File("model.gguf"));
        Llama2cWriter.Write(gguf, dir.File("model.bin"));
        var back = ModelLoader.Load(dir.File("model.bin"));

        foreach (var (name, hop) in new[] { ("safetensors", hf), ("gguf", gguf), ("llama2c", back) })
        {
            Assert.Equal(original.Config, hop.Config);
            Assert.True(expected.AsSpan().SequenceEqual(CrossFormatLogitsTests.Logits(hop, ids)), $"{name} logits differ");
        }
    }
}
