using System.Buffers.Binary;
using Pare.Core.Formats;
using Pare.TestSupport;

namespace Pare.Core.Tests.Formats;

/// <summary>Corrupt llama2.c checkpoints fail with a message naming the file and the problem; non-finite weights are warned about.</summary>
public class Llama2cBadInputTests
{
    private static PareFormatException Fails(TempDir dir, byte[] bytes, string expected)
    {
        var path = dir.File("bad.bin");
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<PareFormatException>(() => ModelLoader.Load(path));
        Assert.Contains(path, e.Message);
        Assert.Contains(expected, e.Message);
        return e;
    }

    [Fact]
    public void MissingFile()
    {
        var e = Assert.Throws<PareFormatException>(() => ModelLoader.Load("/nonexistent/model.bin"));
        Assert.Contains("/nonexistent/model.bin", e.Message);
    }

    [Theory]
    [InlineData(10)]
    [InlineData(28)]
    [InlineData(100_000)]
    public void TruncatedLegacyFile(int length)
    {
        using var dir = new TempDir();
        Fails(dir, File.ReadAllBytes(Shared.Stories260K)[..length], "truncated");
    }

    [Fact]
    public void AbsurdHeader()
    {
        using var dir = new TempDir();
        var bytes = File.ReadAllBytes(Shared.Stories260K);
        BinaryPrimitives.WriteInt32LittleEndian(bytes, 1 << 30); // dim
        Fails(dir, bytes, "implausible model dimensions");
    }

    [Fact]
    public void VocabSizeIntMinValueIsRefused()
    {
        // The sign of vocab_size says whether the classifier is separate; int.MinValue has no positive counterpart.
        using var dir = new TempDir();
        var bytes = File.ReadAllBytes(Shared.Stories260K);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(20), int.MinValue);
        Fails(dir, bytes, "vocab_size -2147483648");
    }

    [Fact]
    public void FewerLayersThanTheFileHoldsIsASizeMismatch()
    {
        // n_layers 5 → 3: the header now describes a smaller model than the file; MANIFEST.md's layout gives
        // 28 + 4·(512·64 + 3·(2·64 + 2·64·64 + 2·32·64 + 3·64·172) + 64 + 512·8) bytes for it.
        using var dir = new TempDir();
        var bytes = File.ReadAllBytes(Shared.Stories260K);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(8), 3);
        long expected = 28 + 4L * (512 * 64 + 3 * (2 * 64 + 2 * 64 * 64 + 2 * 32 * 64 + 3 * 64 * 172) + 64 + 512 * 8);
        var e = Fails(dir, bytes, "size mismatch");
        Assert.Contains($"describes {expected} bytes", e.Message);
        Assert.Contains($"the file has {bytes.Length}", e.Message);
    }

    [Fact]
    public void TrailingBytesAreRefusedInEveryVersion()
    {
        using var dir = new TempDir();
        foreach (var model in new[] { Shared.Stories260K, Shared.Stories260KQ8 })
        {
            var bytes = File.ReadAllBytes(model);
            Fails(dir, [.. bytes, 0], $"the file has {bytes.Length + 1}");
        }
    }

    [Fact]
    public void NotAModelAtAll()
    {
        using var dir = new TempDir();
        Fails(dir, System.Text.Encoding.ASCII.GetBytes("This is a text file, not a model checkpoint at all."), "implausible");
    }

    [Theory]
    [InlineData(300, "truncated")]
    [InlineData(200, "truncated")]
    public void TruncatedInt8Export(int length, string expected)
    {
        using var dir = new TempDir();
        Fails(dir, File.ReadAllBytes(Shared.Stories260KQ8)[..length], expected);
    }

    [Fact]
    public void UnknownAk42Version()
    {
        using var dir = new TempDir();
        var bytes = File.ReadAllBytes(Shared.Stories260KQ8);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(4), 7);
        Fails(dir, bytes, "unsupported llama2.c ak42 version 7");
    }

    [Fact]
    public void AbsurdGroupSize()
    {
        using var dir = new TempDir();
        var bytes = File.ReadAllBytes(Shared.Stories260KQ8);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(37), -8);
        Fails(dir, bytes, "group size");
    }

    [Fact]
    public void NonFiniteWeightsAreWarnedAbout()
    {
        using var dir = new TempDir();
        var bytes = File.ReadAllBytes(Shared.Stories260K);
        BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(28 + 4 * 10), float.NaN);      // in the embedding
        BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(28 + 4 * 11), float.PositiveInfinity);
        var path = dir.File("nan.bin");
        File.WriteAllBytes(path, bytes);
        var warnings = ModelLoader.Load(path).Validate();
        var warning = Assert.Single(warnings);
        Assert.Contains(path, warning);
        Assert.Contains(LlamaTensorNames.Embedding, warning);
        Assert.Contains("2 NaN/Inf", warning);
        Assert.Empty(ModelLoader.Load(Shared.Stories260K).Validate());
    }
}
