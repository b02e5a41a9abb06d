using System.Text.Json;
using Pare.Core.Tensors;

namespace Pare.Core.Formats.Safetensors;

/// <summary>
/// Hugging Face layout: a folder with config.json (LlamaForCausalLM) and model.safetensors or a sharded
/// model.safetensors.index.json. q_proj/k_proj are turned from HF's rotate_half row order into Pare's interleaved one.
/// </summary>
public static class HfModelReader
{
    public const string ConfigFile = "config.json";
    public const string WeightsFile = "model.safetensors";
    public const string IndexFile = "model.safetensors.index.json";

    /// <summary>Reads a model folder, or the folder of a file in it (config.json, a .safetensors file, the index).</summary>
    public static Checkpoint Read(string path)
    {
        var dir = Directory.Exists(path) ? path : Path.GetDirectoryName(Path.GetFullPath(path))!;
        var configPath = Path.Combine(dir, ConfigFile);
        if (!File.Exists(configPath))
            throw new PareFormatException(path, $"no {ConfigFile} in {dir}; a Hugging Face model needs one beside its safetensors");
        var config = ReadConfig(configPath);

        var tensors = new Dictionary<string, TensorData>(StringComparer.Ordinal);
        foreach (var shard in Shards(dir, path))
        {
            var file = SafetensorsFile.Open(shard);
            foreach (var name in file.Names)
            {
                if (name.EndsWith(".rotary_emb.inv_freq", StringComparison.Ordinal)) continue; // recomputed; older HF saves carry it
                if (config.TiedEmbeddings && name == LlamaTensorNames.Classifier) continue; // a saved copy of the tied embedding
                if (!tensors.TryAdd(name, file[name]))
                    throw new PareFormatException(shard, $"tensor '{name}' appears in more than one shard");
            }
        }

        var expected = LlamaTensorNames.Expected(config).Select(e => e.Name).ToHashSet(StringComparer.Ordinal);
        foreach (var name in tensors.Keys)
            if (!expected.Contains(name))
                throw new PareFormatException(dir, $"tensor '{name}' is not part of a LLaMA model Pare knows");
        for (int l = 0; l < config.Layers; l++)
        {
            Unpermute(tensors, LlamaTensorNames.Query(l), config.Heads, dir);
            Unpermute(tensors, LlamaTensorNames.Key(l), config.KvHeads, dir);
        }
        var checkpoint = new Checkpoint(config, tensors, dir, "safetensors");
        checkpoint.Validate(scanValues: false);
        return checkpoint;
    }

    private static void Unpermute(Dictionary<string, TensorData> tensors, string name, int heads, string dir)
    {
        if (!tensors.TryGetValue(name, out var t))
            throw new PareFormatException(dir, $"tensor '{name}' is missing");
        if (t.Shape.Length != 2 || t.Rows % heads != 0 || t.Rows / heads % 2 != 0)
            throw new PareFormatException(dir, $"tensor '{name}' has shape {TensorData.FormatShape(t.Shape)}, which does not split into {heads} heads");
        tensors[name] = HfRopePermutation.ToInterleaved(t, heads);
    }

    private static IEnumerable<string> Shards(string dir, string requested)
    {
        var single = Path.Combine(dir, WeightsFile);
        var index = Path.Combine(dir, IndexFile);
        if (requested.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase) && File.Exists(requested) && !File.Exists(index))
            return [requested];
        if (File.Exists(single)) return [single];
        if (!File.Exists(index))
            throw new PareFormatException(dir, $"neither {WeightsFile} nor {IndexFile} is there");
        try
        {
            using var doc = ParseJson(index);
            if (!doc.RootElement.TryGetProperty("weight_map", out var map) || map.ValueKind != JsonValueKind.Object)
                throw new PareFormatException(index, "no \"weight_map\" object");
            var files = new List<string>();
            foreach (var entry in map.EnumerateObject())
            {
                var shard = entry.Value.ValueKind == JsonValueKind.String ? entry.Value.GetString()! : throw new PareFormatException(index, $"weight_map entry '{entry.Name}' is not a file name");
                if (shard.Contains('/') || shard.Contains('\\') || shard.StartsWith('.'))
                    throw new PareFormatException(index, $"weight_map entry '{entry.Name}' names '{shard}', which is not a file in the model folder");
                var full = Path.Combine(dir, shard);
                if (!files.Contains(full)) files.Add(full);
            }
            return files;
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            throw new PareFormatException(index, $"malformed JSON: {e.Message}", e);
        }
    }

    /// <summary>A JSON file, refused when it is not valid UTF-8 (System.Text.Json would only fail later, reading a string, with another exception).</summary>
    private static JsonDocument ParseJson(string path)
    {
        var bytes = File.ReadAllBytes(path);
        if (!System.Text.Unicode.Utf8.IsValid(bytes))
            throw new PareFormatException(path, "malformed JSON: not valid UTF-8");
        return JsonDocument.Parse(bytes, new JsonDocumentOptions { MaxDepth = 64 });
    }

    /// <summary>
    /// An integer field that must fit int32: a number too large is "out of range" (not "missing"), and a fraction,
    /// a boolean or a string is not an integer at all.
    /// </summary>
    private static int JsonInt32(string path, string key, JsonElement v)
    {
        if (v.ValueKind != JsonValueKind.Number)
            throw new PareFormatException(path, $"\"{key}\" is {v.GetRawText()}, not an integer");
        if (v.TryGetInt32(out int i)) return i;
        if (v.TryGetInt64(out long l) || IsWholeNumber(v.GetRawText()))
            throw new PareFormatException(path, $"\"{key}\" = {v.GetRawText()} is out of range (at most {int.MaxValue})");
        throw new PareFormatException(path, $"\"{key}\" is {v.GetRawText()}, not an integer");
    }

    private static bool IsWholeNumber(string raw) => raw.TrimStart('-').All(char.IsAsciiDigit);

    /// <summary>bos/eos_token_id: null, a token id of the vocabulary, or (eos, as newer configs write) a list of them.</summary>
    private static void CheckTokenIds(string path, string key, JsonElement v, int vocab)
    {
        if (v.ValueKind == JsonValueKind.Null) return;
        var ids = v.ValueKind == JsonValueKind.Array ? v.EnumerateArray().ToList() : [v];
        foreach (var e in ids)
        {
            int id = JsonInt32(path, key, e);
            if (id < 0 || id >= vocab)
                throw new PareFormatException(path, $"\"{key}\" = {id} is out of range: the vocabulary has {vocab} tokens (0 to {vocab - 1})");
        }
    }

    public static ModelConfig ReadConfig(string configPath)
    {
        JsonDocument doc;
        try { doc = ParseJson(configPath); }
        catch (JsonException e) { throw new PareFormatException(configPath, $"malformed JSON: {e.Message}", e); }
        try
        {
            using (doc)
            {
                var root = doc.RootElement;
                if (root.ValueKind != JsonValueKind.Object)
                    throw new PareFormatException(configPath, "not a JSON object");
                var modelType = root.TryGetProperty("model_type", out var mt) && mt.ValueKind == JsonValueKind.String ? mt.GetString() : null;
                if (modelType != "llama")
                    throw new PareFormatException(configPath, $"unsupported model_type '{modelType ?? "(none)"}' (Pare reads 'llama')");
                if (root.TryGetProperty("rope_scaling", out var scaling) && scaling.ValueKind != JsonValueKind.Null)
                    throw new PareFormatException(configPath, "rope_scaling is not supported");
                if (root.TryGetProperty("hidden_act", out var act) && (act.ValueKind != JsonValueKind.String || act.GetString() != "silu"))
                    throw new PareFormatException(configPath, $"hidden_act {act.GetRawText()} is not supported (LLaMA uses silu)");
                foreach (var bias in new[] { "attention_bias", "mlp_bias" })
                    if (root.TryGetProperty(bias, out var b) && b.ValueKind == JsonValueKind.True)
                        throw new PareFormatException(configPath, $"{bias} is not supported");

                int Int(string key, int? fallback = null)
                {
                    if (!root.TryGetProperty(key, out var v))
                        return fallback ?? throw new PareFormatException(configPath, $"\"{key}\" is missing");
                    return JsonInt32(configPath, key, v);
                }
                float Float(string key, float fallback)
                    => !root.TryGetProperty(key, out var v) ? fallback
                        : v.ValueKind == JsonValueKind.Number && v.TryGetDouble(out double d) && float.IsFinite((float)d) && d > 0 ? (float)d
                        : throw new PareFormatException(configPath, $"\"{key}\" is not a positive number");

                int heads = Int("num_attention_heads");
                var config = new ModelConfig
                {
                    Architecture = "llama",
                    Dim = Int("hidden_size"),
                    HiddenDim = Int("intermediate_size"),
                    Layers = Int("num_hidden_layers"),
                    Heads = heads,
                    KvHeads = Int("num_key_value_heads", heads),
                    VocabSize = Int("vocab_size"),
                    MaxSeqLen = Int("max_position_embeddings", 2048),
                    NormEps = Float("rms_norm_eps", 1e-6f), // LlamaConfig's defaults
                    RopeTheta = Float("rope_theta", 10000f),
                    TiedEmbeddings = root.TryGetProperty("tie_word_embeddings", out var tie) && tie.ValueKind == JsonValueKind.True,
                };
                config.Validate(configPath);
                foreach (var key in new[] { "bos_token_id", "eos_token_id" })
                    if (root.TryGetProperty(key, out var id))
                        CheckTokenIds(configPath, key, id, config.VocabSize);
                if (root.TryGetProperty("head_dim", out var hd) && hd.ValueKind != JsonValueKind.Null && (hd.ValueKind != JsonValueKind.Number || !hd.TryGetInt32(out int headDim) || headDim != config.HeadDim))
                    throw new PareFormatException(configPath, $"head_dim {hd.GetRawText()} differs from hidden_size / num_attention_heads = {config.HeadDim}");
                return config;
            }
        }
        catch (InvalidOperationException e)
        {
            // A string value with an escape that is no valid UTF-16 (a lone surrogate) fails only when read.
            throw new PareFormatException(configPath, $"malformed JSON: {e.Message}", e);
        }
    }
}
