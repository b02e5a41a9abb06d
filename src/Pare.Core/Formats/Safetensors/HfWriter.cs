using System.Text.Json.Nodes;
using Pare.Core.Tensors;
using Pare.Core.Tokenizers;

namespace Pare.Core.Formats.Safetensors;

/// <summary>
/// Writes a checkpoint in Hugging Face layout: config.json and model.safetensors with HF names and HF's q/k row
/// order. Nothing else is copied (tokenizer files stay where they are). Block-quantized tensors (q8_0, q4_0) have
/// no safetensors dtype and are written dequantised to F32. The folder is written as a unit (see <see cref="AtomicFolder"/>).
/// </summary>
public static class HfWriter
{
    public static void Write(Checkpoint checkpoint, string directory)
    {
        checkpoint.Validate(scanValues: false);
        var c = checkpoint.Config;
        var tensors = new List<TensorData>();
        foreach (var (name, _) in LlamaTensorNames.Expected(c))
        {
            var t = checkpoint[name];
            if (t.Type is not (DType.F32 or DType.F16 or DType.BF16))
                t = TensorData.FromFloat32(name, t.ToFloat32(), t.Shape);
            tensors.Add(t);
        }
        foreach (var extra in checkpoint.Tensors.Keys.Except(tensors.Select(t => t.Name)))
            throw new ArgumentException($"{checkpoint.Source}: tensor '{extra}' is not part of a LLaMA model and has no Hugging Face name");
        for (int l = 0; l < c.Layers; l++)
        {
            int q = tensors.FindIndex(t => t.Name == LlamaTensorNames.Query(l));
            int k = tensors.FindIndex(t => t.Name == LlamaTensorNames.Key(l));
            tensors[q] = HfRopePermutation.ToHalfSplit(tensors[q], c.Heads);
            tensors[k] = HfRopePermutation.ToHalfSplit(tensors[k], c.KvHeads);
        }

        var json = Config(c, tensors[0].Type, checkpoint.Vocabulary).ToJsonString(new() { WriteIndented = true });
        AtomicFolder.Write(directory, temp =>
        {
            SafetensorsWriter.Write(Path.Combine(temp, HfModelReader.WeightsFile), tensors, new Dictionary<string, string> { ["format"] = "pt" });
            File.WriteAllText(Path.Combine(temp, HfModelReader.ConfigFile), json + "\n");
        });
    }

    public static JsonObject Config(ModelConfig c, DType dtype, VocabularyData? vocabulary) => new()
    {
        ["architectures"] = new JsonArray("LlamaForCausalLM"),
        ["model_type"] = "llama",
        ["hidden_size"] = c.Dim,
        ["intermediate_size"] = c.HiddenDim,
        ["num_hidden_layers"] = c.Layers,
        ["num_attention_heads"] = c.Heads,
        ["num_key_value_heads"] = c.KvHeads,
        ["vocab_size"] = c.VocabSize,
        ["max_position_embeddings"] = c.MaxSeqLen,
        ["rms_norm_eps"] = c.NormEps,
        ["rope_theta"] = c.RopeTheta,
        ["tie_word_embeddings"] = c.TiedEmbeddings,
        ["hidden_act"] = "silu",
        ["attention_bias"] = false,
        ["mlp_bias"] = false,
        ["bos_token_id"] = vocabulary?.BosId ?? 1,
        ["eos_token_id"] = vocabulary?.EosId ?? 2,
        ["torch_dtype"] = dtype switch { DType.F16 => "float16", DType.BF16 => "bfloat16", _ => "float32" },
    };
}
