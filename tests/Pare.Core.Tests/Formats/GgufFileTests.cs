using System.Runtime.InteropServices;
using Pare.Core.Formats.Gguf;
using Pare.Core.Tensors;
using Pare.Core.Tokenizers;
using Pare.TestSupport;

namespace Pare.Core.Tests.Formats;

/// <summary>GgufFile on files written by llama.cpp, checked against the llama2.c files they were converted from.</summary>
public class GgufFileTests
{
    [Fact]
    public void HeaderOfLlamaCppFileMatchesTheLlama2cHeader()
    {
        var gguf = GgufFile.Open(Shared.Stories260KGguf);
        var h = Llama2cFileFacts.Header(Shared.Stories260K); // dim, hidden, layers, heads, kv heads, vocab, seq_len
        var m = gguf.Metadata;
        Assert.Equal(3u, gguf.Version);
        Assert.Equal(GgufFile.DefaultAlignment, gguf.Alignment);
        Assert.Equal(0, gguf.DataOffset % gguf.Alignment);
        Assert.Equal("llama", m.GetString("general.architecture"));
        Assert.Equal(h[0], m.GetInt32("llama.embedding_length"));
        Assert.Equal(h[1], m.GetInt32("llama.feed_forward_length"));
        Assert.Equal(h[2], m.GetInt32("llama.block_count"));
        Assert.Equal(h[3], m.GetInt32("llama.attention.head_count"));
        Assert.Equal(h[4], m.GetInt32("llama.attention.head_count_kv"));
        Assert.Equal(h[6], m.GetInt32("llama.context_length"));
        Assert.Equal(1e-5, m.GetFloat("llama.attention.layer_norm_rms_epsilon"), 1e-9);
        // 9 tensors per layer, embedding, final norm, classifier.
        Assert.Equal(9 * h[2] + 3, gguf.Tensors.Count);
        var emb = gguf.TensorInfo("token_embd.weight");
        Assert.Equal(new long[] { h[0], Math.Abs(h[5]) }, emb.Dims); // ne[0] = dim varies fastest
        Assert.Equal(new long[] { Math.Abs(h[5]), h[0] }, emb.Shape);
        Assert.Equal(GgmlType.F32, emb.Type);
    }

    [Fact]
    public void TensorDataIsTheLlama2cData()
    {
        var gguf = GgufFile.Open(Shared.Stories260KGguf);
        var t = gguf.ReadTensor("token_embd.weight", "renamed");
        Assert.Equal("renamed", t.Name);
        Assert.Equal(DType.F32, t.Type);
        Assert.Equal(Llama2cFileFacts.Embedding(Shared.Stories260K), MemoryMarshal.Cast<byte, float>(t.Data.Span).ToArray());
    }

    [Fact]
    public void EmbeddedLlamaVocabularyIsTok512()
    {
        var gguf = GgufFile.Open(Shared.Stories260KGguf);
        var vocab = GgufVocabulary.Read(gguf)!;
        var (pieces, scores) = Llama2cFileFacts.Tokenizer(Shared.Stories260KTokenizer, 512);
        Assert.Equal(VocabularyKind.SentencePieceBpe, vocab.Kind);
        Assert.Equal(512, vocab.TokenTypes!.Length);
        // llama2.c spells BOS/EOS "\n<s>\n" and "\n</s>\n" and spaces as ' '; llama.cpp's converter stores control
        // tokens without the newlines and spaces as SentencePiece's '▁'.
        Assert.Equal(pieces.Select((p, i) => vocab.TokenTypes[i] == 3 ? p.Trim() : p.Replace(' ', '▁')), vocab.Tokens);
        Assert.Equal(scores, vocab.Scores);
        Assert.Equal((1, 2, 0), (vocab.BosId, vocab.EosId, vocab.UnknownId));
        Assert.True(vocab.AddBos);
        // llama.cpp marks byte-fallback pieces <0xXX> as type 6 (byte).
        Assert.All(Enumerable.Range(3, 256), i => Assert.Equal(6, vocab.TokenTypes[i]));
    }

    [Fact]
    public void EmbeddedGpt2VocabularyHasMergesAndEndOfText()
    {
        var gguf = GgufFile.Open(Shared.PathOf("tokenizers", "gguf-vocab", "ggml-vocab-gpt-2.gguf"));
        var vocab = GgufVocabulary.Read(gguf)!;
        Assert.Empty(gguf.Tensors);
        Assert.Equal(VocabularyKind.ByteLevelBpe, vocab.Kind);
        Assert.Equal(50257, vocab.Tokens.Length); // GPT-2's published vocabulary size
        Assert.Equal("<|endoftext|>", vocab.Tokens[vocab.EosId]);
        Assert.Equal("Ġ t", vocab.Merges![0]); // GPT-2's first merge (merges.txt)
        Assert.False(vocab.AddBos);
        Assert.Equal("gpt-2", vocab.PreTokenizer);
    }

    [Fact]
    public void QuantizedTensorsAreReadAsTheirBlockType()
    {
        var gguf = GgufFile.Open(Shared.PathOf("models", "synthetic-tiny", "synthetic-tiny.q4_0.gguf"));
        var t = gguf.ReadTensor("blk.0.attn_q.weight");
        Assert.Equal(DType.Q4_0, t.Type);
        Assert.Equal(128L * 128 / 32 * 18, t.Data.Length);
    }

    [Fact]
    public void TypedGettersRejectTheWrongType()
    {
        var gguf = GgufFile.Open(Shared.Stories260KGguf);
        var e = Assert.Throws<PareFormatException>(() => gguf.Metadata.GetString("llama.block_count"));
        Assert.Contains("llama.block_count", e.Message);
        Assert.Contains(Shared.Stories260KGguf, e.Message);
        Assert.Throws<PareFormatException>(() => gguf.Metadata.GetInt64("no.such.key"));
        Assert.Throws<PareFormatException>(() => gguf.ReadTensor("no.such.tensor"));
    }

    [Fact]
    public void Llama2cTokenizerBecomesTheVocabularyLlamaCppEmbeds()
    {
        var mine = Pare.Core.Formats.Llama2cVocabulary.Read(Shared.Stories260KTokenizer, 512);
        var llamaCpp = GgufVocabulary.Read(GgufFile.Open(Shared.Stories260KGguf))!;
        Assert.Equal(llamaCpp.Tokens, mine.Tokens);
        Assert.Equal(llamaCpp.Scores, mine.Scores);
        Assert.Equal(llamaCpp.TokenTypes, mine.TokenTypes);
        Assert.Equal((llamaCpp.BosId, llamaCpp.EosId, llamaCpp.UnknownId), (mine.BosId, mine.EosId, mine.UnknownId));
        var e = Assert.Throws<PareFormatException>(() => Pare.Core.Formats.Llama2cVocabulary.Read(Shared.Stories260KTokenizer, 500));
        Assert.Contains("more than 500 tokens", e.Message);
    }

    [Fact]
    public void VersionTwoHasTheSameLayout()
    {
        // GGUF v3 only added big-endian files; a little-endian v2 file is laid out exactly like v3.
        using var dir = new TempDir();
        var bytes = File.ReadAllBytes(Shared.Stories260KGguf);
        bytes[4] = 2;
        File.WriteAllBytes(dir.File("v2.gguf"), bytes);
        var v2 = GgufFile.Open(dir.File("v2.gguf"));
        var v3 = GgufFile.Open(Shared.Stories260KGguf);
        Assert.Equal(2u, v2.Version);
        Assert.Equal(v3.Metadata.Keys, v2.Metadata.Keys);
        Assert.Equal(v3.Tensors, v2.Tensors, (a, b) => a.Name == b.Name && a.Offset == b.Offset && a.Dims.SequenceEqual(b.Dims));
    }

    [Fact]
    public void Llama2cExportOfLlama2VocabularyComesBackAsTheSentencePieceModel()
    {
        // llama2.c's tokenizer.bin of Llama 2 was exported from tokenizer.model; the llama.cpp spelling rules must
        // recover the SentencePiece pieces, scores and types.
        var spm = SentencePieceModelReader.Read(Shared.PathOf("tokenizers", "llama2", "tokenizer.model"));
        var bin = Pare.Core.Formats.Llama2cVocabulary.Read(Shared.PathOf("tokenizers", "llama2", "tokenizer.bin"), spm.Tokens.Length);
        Assert.Equal(spm.Tokens, bin.Tokens);
        Assert.Equal(spm.Scores, bin.Scores);
        Assert.Equal(spm.TokenTypes, bin.TokenTypes);
    }
}
