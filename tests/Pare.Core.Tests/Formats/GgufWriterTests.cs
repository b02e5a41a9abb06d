using Pare.Core.Formats;
using Pare.Core.Formats.Gguf;
using Pare.Core.Tensors;
using Pare.TestSupport;

namespace Pare.Core.Tests.Formats;

/// <summary>GGUF written by Pare reads back identically and carries the header llama.cpp's own files carry.</summary>
public class GgufWriterTests
{
    private static string Tiny(string suffix) => Shared.PathOf("models", "synthetic-tiny", $"synthetic-tiny.{suffix}");

    [Theory]
    [InlineData("stories260K/stories260K.f32.gguf")]
    [InlineData("synthetic-tiny/synthetic-tiny.f16.gguf")]
    [InlineData("synthetic-tiny/synthetic-tiny.q8_0.gguf")]
    [InlineData("synthetic-tiny/synthetic-tiny.q4_0.gguf")]
    public void RewritingALlamaCppFileKeepsTensorsKeysAndTypes(string model)
    {
        using var dir = new TempDir();
        var reference = GgufFile.Open(Shared.PathOf("models", model));
        var original = GgufModelReader.Read(reference);
        var path = dir.File("out.gguf");
        GgufWriter.Write(original, path);

        var written = GgufFile.Open(path);
        var back = GgufModelReader.Read(written);
        Assert.Equal(original.Config, back.Config);
        Assert.Equal(original.Tensors.Keys.Order(), back.Tensors.Keys.Order());
        foreach (var (name, t) in original.Tensors)
        {
            Assert.Equal(t.Type, back[name].Type);
            Assert.Equal(t.Shape, back[name].Shape);
            Assert.True(t.Data.Span.SequenceEqual(back[name].Data.Span), name);
        }
        Assert.Equal(original.Vocabulary!.Tokens, back.Vocabulary!.Tokens);
        Assert.Equal(original.Vocabulary.Scores, back.Vocabulary.Scores);
        Assert.Equal(original.Vocabulary.TokenTypes, back.Vocabulary.TokenTypes);
        Assert.Equal(original.Vocabulary with { Source = "" }, back.Vocabulary with { Source = "", Tokens = original.Vocabulary.Tokens, Scores = original.Vocabulary.Scores, TokenTypes = original.Vocabulary.TokenTypes, Merges = original.Vocabulary.Merges });

        // Same tensor names and types as llama.cpp's file; every key it carries, with the same value type.
        Assert.Equal(reference.Tensors.Select(t => (t.Name, t.Type)).Order(), written.Tensors.Select(t => (t.Name, t.Type)).Order());
        foreach (var (key, value) in reference.Metadata)
        {
            var mine = written.Metadata.Find(key);
            Assert.True(mine != null, $"key '{key}' is missing");
            Assert.Equal((value.Type, value.ElementType), (mine.Type, mine.ElementType));
        }
        foreach (var key in new[] { "general.file_type", "general.quantization_version", "llama.context_length", "llama.rope.dimension_count" })
            if (reference.Metadata.Contains(key))
                Assert.Equal(reference.Metadata.GetInt64(key), written.Metadata.GetInt64(key));
        Assert.Equal([path], Directory.GetFiles(dir.Path)); // no temporary left behind
    }

    [Fact]
    public void TiedLlama2cModelIsWrittenWithoutAClassifier()
    {
        using var dir = new TempDir();
        var original = Llama2cReader.Read(Shared.Stories260K);
        Assert.True(original.Config.TiedEmbeddings);
        GgufWriter.Write(original, dir.File("tied.gguf"));
        var written = GgufFile.Open(dir.File("tied.gguf"));
        Assert.False(written.HasTensor(GgufTensorNames.Classifier));
        var back = GgufModelReader.Read(written);
        Assert.Equal(original.Config, back.Config);
        Assert.Null(back.Vocabulary);
        foreach (var (name, t) in original.Tensors)
            Assert.True(t.Data.Span.SequenceEqual(back[name].Data.Span), name);
    }

    [Fact]
    public void UnsupportedArchitectureIsRefusedByName()
    {
        using var dir = new TempDir();
        var original = GgufModelReader.Read(Tiny("f32.gguf"));
        GgufWriter.Write(original, dir.File("a.gguf"));
        // Same length as "llama", so only the value changes: patch the bytes after the key.
        var bytes = File.ReadAllBytes(dir.File("a.gguf"));
        int at = IndexOf(bytes, "general.architecture"u8) + "general.architecture".Length + 4 + 8;
        "gemma"u8.CopyTo(bytes.AsSpan(at));
        File.WriteAllBytes(dir.File("b.gguf"), bytes);
        var e = Assert.Throws<PareFormatException>(() => ModelLoader.Load(dir.File("b.gguf")));
        Assert.Contains("unsupported architecture 'gemma'", e.Message);
        Assert.Contains(dir.File("b.gguf"), e.Message);
    }

    [Fact]
    public void BFloat16TensorsSurviveGgufAndSafetensors()
    {
        using var dir = new TempDir();
        var f32 = Llama2cReader.Read(Shared.Stories260K);
        var bf16 = f32.With(f32.Tensors.ToDictionary(kv => kv.Key, kv => new TensorData(kv.Key, kv.Value.Shape, DType.BF16,
            kv.Value.ToFloat32().SelectMany(v => BitConverter.GetBytes(TensorCodec.FloatToBFloat16(v))).ToArray())));
        GgufWriter.Write(bf16, dir.File("b.gguf"));
        Pare.Core.Formats.Safetensors.HfWriter.Write(bf16, dir.File("hf"));
        var gguf = GgufFile.Open(dir.File("b.gguf"));
        Assert.Equal(32, gguf.Metadata.GetInt64("general.file_type")); // LLAMA_FTYPE_MOSTLY_BF16
        foreach (var back in new[] { GgufModelReader.Read(gguf), ModelLoader.Load(dir.File("hf")) })
            foreach (var (name, t) in bf16.Tensors)
            {
                Assert.Equal(DType.BF16, back[name].Type);
                Assert.True(t.Data.Span.SequenceEqual(back[name].Data.Span), name);
            }
    }

    [Fact]
    public void VocabularySettingsSurvive()
    {
        using var dir = new TempDir();
        var vocab = Llama2cVocabulary.Read(Shared.Stories260KTokenizer, 512) with { AddSpacePrefix = false, AddBos = false, EosId = 5 };
        GgufWriter.Write(Llama2cReader.Read(Shared.Stories260K), dir.File("v.gguf"), vocab);
        var back = GgufModelReader.Read(dir.File("v.gguf")).Vocabulary!;
        Assert.False(back.AddSpacePrefix);
        Assert.False(back.AddBos);
        Assert.Equal(5, back.EosId);
        Assert.Equal(vocab.Tokens, back.Tokens);
    }

    internal static int IndexOf(byte[] haystack, ReadOnlySpan<byte> needle) => haystack.AsSpan().IndexOf(needle);
}
