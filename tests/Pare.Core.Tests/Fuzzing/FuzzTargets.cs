using System.Buffers.Binary;
using System.Text;
using Pare.Core.Formats;
using Pare.Core.Formats.Gguf;
using Pare.Core.Formats.Safetensors;
using Pare.Core.Tokenizers;
using Pare.TestSupport;

namespace Pare.Core.Tests.Fuzzing;

/// <summary>Every reader Pare has, each with a fixture made from the real files in ../shared.</summary>
public static class FuzzTargets
{
    private static readonly Lazy<IReadOnlyDictionary<string, FuzzTarget>> All = new(Build);

    public static IEnumerable<string> Names => All.Value.Keys;

    public static FuzzTarget Get(string name) => All.Value[name];

    private static IReadOnlyDictionary<string, FuzzTarget> Build()
    {
        var targets = new List<FuzzTarget>();
        var stories = File.ReadAllBytes(Shared.Stories260K);

        // llama2.c legacy v0: seven int32 header fields.
        string[] dims = ["dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads", "vocab_size", "seq_len"];
        targets.Add(Model("llama2c-v0", "model.bin", stories, 28, dims.Select((d, i) => new Field(4 * i, 4, d)).ToList()));

        // ak42 v1 (laid out as export.py's version1_export) and v2 (stories260K-q8.bin): magic, version, the same
        // seven fields at 8, the shared-classifier byte at 36 and (v2) the unaligned group size at 37.
        var versioned = new List<Field> { new(4, 4, "version"), new(36, 1, "shared_classifier"), new(37, 4, "group_size") };
        versioned.AddRange(dims.Select((d, i) => new Field(8 + 4 * i, 4, d)));
        targets.Add(Model("llama2c-v1", "model.bin", VersionOne(), 256, versioned));
        targets.Add(Model("llama2c-v2", "model.bin", File.ReadAllBytes(Shared.Stories260KQ8), 256, versioned));

        // GGUF: llama.cpp's converter output, f32 and q4_0 (with their vocabularies).
        foreach (var (name, path) in new[] { ("gguf-f32", Shared.Stories260KGguf), ("gguf-q4_0", Shared.PathOf("models", "synthetic-tiny", "synthetic-tiny.q4_0.gguf")) })
        {
            var bytes = File.ReadAllBytes(path);
            var gguf = GgufFile.Open(path);
            targets.Add(Model(name, "model.gguf", bytes, (int)gguf.DataOffset, GgufFields(bytes, gguf), loadVocabulary: true));
        }

        // Hugging Face folder: config.json + model.safetensors written from stories260K; then the sharded layout.
        using (var dir = new TempDir())
        {
            HfWriter.Write(Llama2cReader.Read(Shared.Stories260K), dir.Path);
            var config = File.ReadAllBytes(dir.File(HfModelReader.ConfigFile));
            var weights = File.ReadAllBytes(dir.File(HfModelReader.WeightsFile));
            var files = new Dictionary<string, byte[]> { [HfModelReader.ConfigFile] = config, [HfModelReader.WeightsFile] = weights };
            int header = 8 + (int)BinaryPrimitives.ReadUInt64LittleEndian(weights);
            targets.Add(new FuzzTarget("safetensors", files,
                [new MutableFile(HfModelReader.WeightsFile, header, [new Field(0, 8, "header length", IsOffset: true)], Custom: SafetensorsHeader)],
                d => ModelLoader.Load(d)));
            targets.Add(new FuzzTarget("hf-config", files, [new MutableFile(HfModelReader.ConfigFile, config.Length, [], IsJson: true)], d => ModelLoader.Load(d)));

            const string shard = "model-00001-of-00001.safetensors";
            var names = SafetensorsFile.Open(dir.File(HfModelReader.WeightsFile)).Names;
            var index = Encoding.UTF8.GetBytes("{\"metadata\": {\"total_size\": " + (weights.Length - header) + "}, \"weight_map\": {"
                + string.Join(", ", names.Select(n => $"\"{n}\": \"{shard}\"")) + "}}");
            var sharded = new Dictionary<string, byte[]> { [HfModelReader.ConfigFile] = config, [shard] = weights, [HfModelReader.IndexFile] = index };
            targets.Add(new FuzzTarget("hf-sharded", sharded,
                [new MutableFile(HfModelReader.IndexFile, index.Length, [], IsJson: true), new MutableFile(shard, header, [new Field(0, 8, "header length", IsOffset: true)], Custom: SafetensorsHeader)],
                d => ModelLoader.Load(d)));
        }

        // Tokenizers: SentencePiece tokenizer.model (protobuf), llama2.c tokenizer .bin, GGUF vocabularies, tokenizer.json.
        var spm = File.ReadAllBytes(Shared.PathOf("tokenizers", "llama2", "tokenizer.model"));
        targets.Add(Tokenizer("tokenizer-model", "tokenizer.model", spm, 4096, []));
        var tok512 = File.ReadAllBytes(Shared.Stories260KTokenizer);
        targets.Add(new FuzzTarget("tokenizer-llama2c", new Dictionary<string, byte[]> { ["tok512.bin"] = tok512 },
            [new MutableFile("tok512.bin", 2048, Llama2cTokenizerFields(tok512))],
            d =>
            {
                Exercise(TokenizerLoader.Load(Path.Combine(d, "tok512.bin")));
                TokenizerLoader.FromVocabulary(Llama2cVocabulary.Read(Path.Combine(d, "tok512.bin"), 512));
            }));
        var spmGguf = File.ReadAllBytes(Shared.PathOf("tokenizers", "gguf-vocab", "ggml-vocab-llama-spm.gguf"));
        var spmGgufFile = GgufFile.Open(Shared.PathOf("tokenizers", "gguf-vocab", "ggml-vocab-llama-spm.gguf"));
        targets.Add(Tokenizer("tokenizer-gguf", "vocab.gguf", spmGguf, 8192, GgufFields(spmGguf, spmGgufFile)));
        var bpePath = Shared.PathOf("tokenizers", "gguf-vocab", "ggml-vocab-gpt-2.gguf");
        var bpeGguf = File.ReadAllBytes(bpePath);
        targets.Add(Tokenizer("tokenizer-gguf-bpe", "vocab.gguf", bpeGguf, 8192, GgufFields(bpeGguf, GgufFile.Open(bpePath))) with { SuiteShare = 0.25 });
        var json = Encoding.UTF8.GetBytes("""{"version": "1.0", "model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b"]}, "added_tokens": [{"id": 3, "content": "<s>", "special": true}]}""");
        // Pare does not read tokenizer.json: every mutant, like the file itself, must be refused with a format error.
        targets.Add(Tokenizer("tokenizer-json", "tokenizer.json", json, json.Length, [], isJson: true) with { FixtureLoads = false });

        return targets.ToDictionary(t => t.Name);
    }

    private static FuzzTarget Model(string name, string file, byte[] bytes, int header, IReadOnlyList<Field> fields, bool loadVocabulary = false)
        => new(name, new Dictionary<string, byte[]> { [file] = bytes }, [new MutableFile(file, header, fields)], d =>
        {
            var checkpoint = ModelLoader.Load(Path.Combine(d, file));
            checkpoint.Validate(scanValues: false);
            if (loadVocabulary && checkpoint.Vocabulary is { } vocab)
                Exercise(TokenizerLoader.FromVocabulary(vocab));
        });

    private static FuzzTarget Tokenizer(string name, string file, byte[] bytes, int header, IReadOnlyList<Field> fields, bool isJson = false)
        => new(name, new Dictionary<string, byte[]> { [file] = bytes }, [new MutableFile(file, header, fields, isJson)],
            d => Exercise(TokenizerLoader.Load(Path.Combine(d, file))));

    /// <summary>A loaded tokenizer must also work: encode and decode a line, and stream its pieces.</summary>
    private static void Exercise(ITokenizer tokenizer)
    {
        var ids = tokenizer.Encode("Once upon a time, 42 cats ate ünïcödé 🐈!", addBos: true);
        tokenizer.Decode(ids);
        for (int i = 1; i < ids.Length; i++) tokenizer.PieceBytes(ids[i - 1], ids[i]);
    }

    /// <summary>The v1 export of stories260K: header, norms, then embedding and the layers' matrices (shared classifier).</summary>
    private static byte[] VersionOne()
    {
        var legacy = Llama2cReader.Read(Shared.Stories260K);
        var c = legacy.Config;
        using var stream = new MemoryStream();
        using (var w = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true))
        {
            w.Write(Llama2cReader.Magic);
            w.Write(1);
            foreach (var v in new[] { c.Dim, c.HiddenDim, c.Layers, c.Heads, c.KvHeads, c.VocabSize, c.MaxSeqLen }) w.Write(v);
            w.Write((byte)1);
            w.Write(new byte[256 - 37]);
            var order = Enumerable.Range(0, c.Layers).Select(LlamaTensorNames.AttentionNorm)
                .Concat(Enumerable.Range(0, c.Layers).Select(LlamaTensorNames.FfnNorm))
                .Append(LlamaTensorNames.FinalNorm).Append(LlamaTensorNames.Embedding);
            foreach (var kind in new Func<int, string>[] { LlamaTensorNames.Query, LlamaTensorNames.Key, LlamaTensorNames.Value, LlamaTensorNames.Output, LlamaTensorNames.Gate, LlamaTensorNames.Down, LlamaTensorNames.Up })
                order = order.Concat(Enumerable.Range(0, c.Layers).Select(kind));
            foreach (var n in order) w.Write(legacy[n].Data.Span);
        }
        return stream.ToArray();
    }

    /// <summary>The fixed header, every metadata entry's type/length/count words and every tensor entry's dims, type and offset.</summary>
    private static List<Field> GgufFields(byte[] bytes, GgufFile file)
    {
        var fields = new List<Field> { new(4, 4, "version"), new(8, 8, "tensor count"), new(16, 8, "metadata count") };
        foreach (var key in file.Metadata.Keys)
        {
            int after = AfterString(bytes, key);
            if (after < 0) continue;
            fields.Add(new Field(after - key.Length - 8, 8, $"length of key {key}"));
            fields.Add(new Field(after, 4, $"type of {key}"));
            fields.Add(new Field(after + 4, 8, $"value/length of {key}"));
            fields.Add(new Field(after + 4, 4, $"array element type of {key}"));
            fields.Add(new Field(after + 8, 8, $"array count of {key}"));
        }
        foreach (var t in file.Tensors)
        {
            int after = AfterString(bytes, t.Name);
            if (after < 0) continue;
            fields.Add(new Field(after, 4, $"n_dims of {t.Name}"));
            for (int d = 0; d < t.Dims.Length; d++) fields.Add(new Field(after + 4 + 8 * d, 8, $"dim {d} of {t.Name}"));
            int type = after + 4 + 8 * t.Dims.Length;
            fields.Add(new Field(type, 4, $"type of {t.Name}"));
            fields.Add(new Field(type + 4, 8, $"offset of {t.Name}", IsOffset: true));
        }
        return fields;
    }

    /// <summary>Position just after a GGUF string (uint64 length + bytes) equal to <paramref name="s"/>, or −1.</summary>
    private static int AfterString(byte[] bytes, string s)
    {
        var needle = new byte[8 + Encoding.UTF8.GetByteCount(s)];
        BinaryPrimitives.WriteUInt64LittleEndian(needle, (ulong)(needle.Length - 8));
        Encoding.UTF8.GetBytes(s).CopyTo(needle, 8);
        int at = bytes.AsSpan().IndexOf(needle);
        return at < 0 ? -1 : at + needle.Length;
    }

    /// <summary>max_token_length and the score/length words of the first 64 tokens.</summary>
    private static List<Field> Llama2cTokenizerFields(byte[] bytes)
    {
        var fields = new List<Field> { new(0, 4, "max_token_length") };
        int pos = 4;
        for (int id = 0; id < 64 && pos + 8 <= bytes.Length; id++)
        {
            fields.Add(new Field(pos, 4, $"score of token {id}"));
            fields.Add(new Field(pos + 4, 4, $"length of token {id}"));
            pos += 8 + BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(pos + 4));
        }
        return fields;
    }

    /// <summary>Edits the JSON header of a safetensors file and writes it back with its new length (padding kept to 8 bytes).</summary>
    private static (byte[] Bytes, string What) SafetensorsHeader(Mutator mutator, byte[] original)
    {
        int length = (int)BinaryPrimitives.ReadUInt64LittleEndian(original);
        var header = original.AsSpan(8, length).ToArray();
        var (json, what) = mutator.Mutate(header, header.Length, [], isJson: true);
        var padded = json.Concat(Enumerable.Repeat((byte)' ', (8 - json.Length % 8) % 8)).ToArray();
        var bytes = new byte[8 + padded.Length + original.Length - 8 - length];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)padded.Length);
        padded.CopyTo(bytes, 8);
        original.AsSpan(8 + length).CopyTo(bytes.AsSpan(8 + padded.Length));
        return (bytes, "header " + what);
    }
}
