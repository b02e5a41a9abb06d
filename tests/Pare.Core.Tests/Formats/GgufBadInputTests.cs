using System.Buffers.Binary;
using System.Text;
using Pare.Core.Formats;
using Pare.Core.Formats.Gguf;
using Pare.TestSupport;

namespace Pare.Core.Tests.Formats;

/// <summary>Corrupt GGUF files (mutated copies of llama.cpp's stories260K GGUF) fail with a message naming the file and the problem.</summary>
public class GgufBadInputTests
{
    private static readonly byte[] Original = File.ReadAllBytes(Shared.Stories260KGguf);

    private static PareFormatException Fails(TempDir dir, byte[] bytes, string expected)
    {
        var path = dir.File("bad.gguf");
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<PareFormatException>(() => ModelLoader.Load(path));
        Assert.Contains(path, e.Message);
        Assert.Contains(expected, e.Message);
        return e;
    }

    /// <summary>Byte offset of a tensor's info entry: just after its name.</summary>
    private static int AfterTensorName(byte[] bytes, string name)
    {
        var needle = new byte[8 + name.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(needle, (ulong)name.Length);
        Encoding.ASCII.GetBytes(name).CopyTo(needle, 8);
        int at = bytes.AsSpan().IndexOf(needle);
        Assert.True(at > 0);
        return at + needle.Length;
    }

    [Fact]
    public void MissingFile()
    {
        var e = Assert.Throws<PareFormatException>(() => GgufFile.Open("/nonexistent/model.gguf"));
        Assert.Contains("/nonexistent/model.gguf", e.Message);
        Assert.Contains("not found", e.Message);
    }

    [Fact]
    public void WrongMagic()
    {
        using var dir = new TempDir();
        var bytes = (byte[])Original.Clone();
        bytes[3] = (byte)'X';
        var path = dir.File("bad.gguf");
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<PareFormatException>(() => ModelLoader.Load(path));
        Assert.Contains("not a GGUF file", e.Message);
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void UnsupportedVersion()
    {
        using var dir = new TempDir();
        var bytes = (byte[])Original.Clone();
        bytes[4] = 1;
        Fails(dir, bytes, "unsupported GGUF version 1");
    }

    [Theory]
    [InlineData(8, "tensors")]           // tensor count
    [InlineData(16, "metadata entries")] // key/value count
    [InlineData(24, "bytes of key")]     // length of the first key
    public void AbsurdCountsFailWithoutAllocating(int offset, string expected)
    {
        using var dir = new TempDir();
        var bytes = (byte[])Original.Clone();
        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(offset), 1UL << 62);
        Fails(dir, bytes, expected);
    }

    [Fact]
    public void AbsurdTensorDimension()
    {
        using var dir = new TempDir();
        var bytes = (byte[])Original.Clone();
        int at = AfterTensorName(bytes, "token_embd.weight");
        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(at + 4), ulong.MaxValue / 3);
        Fails(dir, bytes, "absurd size");
    }

    [Fact]
    public void TensorOffsetOutsideTheFile()
    {
        using var dir = new TempDir();
        var bytes = (byte[])Original.Clone();
        int at = AfterTensorName(bytes, "blk.4.ffn_norm.weight"); // n_dims (4), one dim (8), type (4), offset (8)
        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(at + 4 + 8 + 4), (ulong)bytes.Length);
        Fails(dir, bytes, "blk.4.ffn_norm.weight");
        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(at + 4 + 8 + 4), (ulong)bytes.Length - 64);
        Fails(dir, bytes, "lies outside the file");
    }

    [Fact]
    public void OverlappingTensors()
    {
        using var dir = new TempDir();
        var bytes = (byte[])Original.Clone();
        int at = AfterTensorName(bytes, "blk.4.ffn_norm.weight");
        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(at + 4 + 8 + 4), 0); // on top of token_embd
        Fails(dir, bytes, "overlap");
    }

    [Fact]
    public void TensorTypeFlippedToF16IsRefused()
    {
        // f32 → f16 halves the tensor's bytes, so it still lies inside the file; the tensor after it no longer
        // starts where this one ends, which llama.cpp's reader checks too.
        using var dir = new TempDir();
        var bytes = (byte[])Original.Clone();
        int at = AfterTensorName(bytes, "blk.0.attn_q.weight"); // n_dims (4), two dims (16), type
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(at + 4 + 16), (uint)GgmlType.F16);
        var e = Fails(dir, bytes, "'blk.0.attn_q.weight' (f16, shape [64, 64]) takes 8192 bytes");
        Assert.Contains("belong to no tensor", e.Message);
    }

    [Fact]
    public void LastTensorTypeFlippedLeavesBytesNoTensorOwns()
    {
        using var dir = new TempDir();
        var bytes = (byte[])Original.Clone();
        var last = GgufFile.Open(Shared.Stories260KGguf).Tensors[^1];
        Assert.Equal(GgmlType.F32, last.Type);
        int at = AfterTensorName(bytes, last.Name);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(at + 4 + 8 * last.Dims.Length), (uint)GgmlType.F16);
        Fails(dir, bytes, "trailing bytes");
    }

    [Fact]
    public void TensorsOfBothWritersTileTheDataSection()
    {
        // llama.cpp's converter and Pare's writer both lay tensors end to end (padded to the alignment).
        foreach (var name in new[] { "synthetic-tiny.f32.gguf", "synthetic-tiny.f16.gguf", "synthetic-tiny.q8_0.gguf", "synthetic-tiny.q4_0.gguf" })
            Assert.NotEmpty(GgufFile.Open(Shared.PathOf("models", "synthetic-tiny", name)).Tensors);
        using var dir = new TempDir();
        GgufWriter.Write(Llama2cReader.Read(Shared.Stories260K), dir.File("m.gguf"), Llama2cVocabulary.Read(Shared.Stories260KTokenizer, 512));
        // 5 layers of 9 tensors, the embedding and the final norm (the classifier is tied).
        Assert.Equal(5 * 9 + 2, GgufFile.Open(dir.File("m.gguf")).Tensors.Count);
    }

    [Fact]
    public void UnknownTensorTypeIsNamedWhenRead()
    {
        using var dir = new TempDir();
        var bytes = (byte[])Original.Clone();
        int at = AfterTensorName(bytes, "blk.0.attn_q.weight"); // n_dims (4), two dims (16), type
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(at + 4 + 16), (uint)GgmlType.Q4_K);
        var e = Fails(dir, bytes, "blk.0.attn_q.weight");
        Assert.Contains("q4_k", e.Message);
    }

    [Fact]
    public void TruncationAnywhereIsAFormatError()
    {
        using var dir = new TempDir();
        var path = dir.File("cut.gguf");
        var header = GgufFile.Open(Shared.Stories260KGguf).DataOffset;
        var cuts = Enumerable.Range(0, 60).Select(i => (int)(header * i / 60)).Concat([(int)header + 100, Original.Length - 1]);
        foreach (int cut in cuts)
        {
            File.WriteAllBytes(path, Original[..cut]);
            var e = Assert.Throws<PareFormatException>(() => ModelLoader.Load(path));
            Assert.Contains(path, e.Message);
        }
    }

    [Fact]
    public void RandomHeaderCorruptionNeverEscapesAsAnotherException()
    {
        // Overwrite bytes of the header (seeded) — the fixed fields, the first keys and the tensor table, where the
        // counts, lengths, types and offsets are: each file must load or fail with PareFormatException, never crash,
        // hang or throw another exception type.
        using var dir = new TempDir();
        var path = dir.File("flip.gguf");
        var rng = new Random(11);
        int header = (int)GgufFile.Open(Shared.Stories260KGguf).DataOffset;
        int table = AfterTensorName(Original, "token_embd.weight") - 8 - "token_embd.weight".Length;
        for (int trial = 0; trial < 100; trial++)
        {
            var bytes = (byte[])Original.Clone();
            for (int k = 0; k < 3; k++) bytes[rng.Next(2) == 0 ? rng.Next(4, 300) : rng.Next(table, header)] = (byte)rng.Next(256);
            File.WriteAllBytes(path, bytes);
            try { ModelLoader.Load(path); }
            catch (PareFormatException e) { Assert.Contains(path, e.Message); }
        }
    }

    [Fact]
    public void VocabularyOfAnotherSizeIsRefusedByTheWriter()
    {
        using var dir = new TempDir();
        var model = ModelLoader.Load(Shared.Stories260K);
        var vocab = Llama2cVocabulary.Read(Shared.Stories260KTokenizer, 512) with { Tokens = new string[500] };
        var e = Assert.Throws<ArgumentException>(() => GgufWriter.Write(model, dir.File("x.gguf"), vocab));
        Assert.Contains("500 tokens", e.Message);
        Assert.False(File.Exists(dir.File("x.gguf")));
    }
}
