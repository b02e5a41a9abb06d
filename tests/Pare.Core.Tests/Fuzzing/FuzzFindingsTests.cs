using System.Buffers.Binary;
using System.Text;
using Pare.Core.Formats;
using Pare.Core.Formats.Safetensors;
using Pare.Core.Tokenizers;
using Pare.TestSupport;

namespace Pare.Core.Tests.Fuzzing;

/// <summary>What the fuzzer found, each pinned as a plain test.</summary>
public class FuzzFindingsTests
{
    [Fact]
    public void Llama2cTokenizerTooShortForItsByteTokensIsAFormatError()
    {
        // A cut tok512.bin still parses token by token, but its byte-fallback ids (3 + byte) would point past the end.
        using var dir = new TempDir();
        var bytes = File.ReadAllBytes(Shared.Stories260KTokenizer);
        int pos = 4;
        for (int id = 0; id < 100; id++) pos += 8 + BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(pos + 4));
        File.WriteAllBytes(dir.File("tok.bin"), bytes[..pos]);
        var e = Assert.Throws<PareFormatException>(() => TokenizerLoader.Load(dir.File("tok.bin")));
        Assert.Contains("256 byte tokens", e.Message);
        Assert.Contains("100 tokens", e.Message);
    }

    [Fact]
    public void Llama2cVocabularyLargerThanTheFileFailsBeforeAllocating()
    {
        using var dir = new TempDir();
        File.Copy(Shared.Stories260KTokenizer, dir.File("tok.bin"));
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<PareFormatException>(() => Llama2cVocabulary.Read(dir.File("tok.bin"), 1 << 24));
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 1 << 20, "allocated for 2^24 tokens before checking the file");
        Assert.Contains("cannot hold 16777216 tokens", e.Message);
    }

    [Fact]
    public void InvalidUtf8InASafetensorsHeaderIsAFormatError()
    {
        using var dir = new TempDir();
        var header = Encoding.UTF8.GetBytes("""{"aé":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}""");
        int at = Array.IndexOf(header, (byte)0xC3);
        header[at + 1] = 0x28; // é's continuation byte replaced: no longer UTF-8
        var path = dir.File("x.safetensors");
        File.WriteAllBytes(path, [.. BitConverter.GetBytes((ulong)header.Length), .. header, 0, 0, 0, 0]);
        var e = Assert.Throws<PareFormatException>(() => SafetensorsFile.Open(path));
        Assert.Contains("not valid UTF-8", e.Message);
    }

    [Fact]
    public void InvalidUtf8InConfigJsonIsAFormatError()
    {
        using var dir = new TempDir();
        HfWriter.Write(Llama2cReader.Read(Shared.Stories260K), dir.Path);
        var config = File.ReadAllBytes(dir.File("config.json"));
        config[config.AsSpan().IndexOf("llama"u8)] = 0xFF;
        File.WriteAllBytes(dir.File("config.json"), config);
        var e = Assert.Throws<PareFormatException>(() => ModelLoader.Load(dir.Path));
        Assert.Contains("config.json", e.Message);
        Assert.Contains("not valid UTF-8", e.Message);
    }

    [Fact]
    public void GgufEmbeddingOfAnUnknownTypeWithAHugeShapeIsAFormatError()
    {
        // Found reading the code the fuzzer exercises: an unknown type skips the size checks, and the embedding's
        // row count (the vocabulary size) was then cast with checked() and overflowed.
        using var dir = new TempDir();
        var bytes = File.ReadAllBytes(Shared.Stories260KGguf);
        var needle = new byte[8 + "token_embd.weight".Length];
        BinaryPrimitives.WriteUInt64LittleEndian(needle, (ulong)(needle.Length - 8));
        Encoding.ASCII.GetBytes("token_embd.weight").CopyTo(needle, 8);
        int at = bytes.AsSpan().IndexOf(needle) + needle.Length; // n_dims, ne0 (64), ne1 (512), type
        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(at + 4 + 8), 1UL << 33);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(at + 4 + 16), 12); // q4_k: a type Pare cannot size
        File.WriteAllBytes(dir.File("m.gguf"), bytes);
        var e = Assert.Throws<PareFormatException>(() => ModelLoader.Load(dir.File("m.gguf")));
        Assert.Contains("token_embd.weight", e.Message);
    }
}
