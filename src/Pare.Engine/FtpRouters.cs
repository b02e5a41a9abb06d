using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Pare.Core;
using Pare.Core.Formats.Safetensors;
using Pare.Core.Tensors;

namespace Pare.Engine;

/// <summary>
/// FTP's trained routers as the Engine runs them: per decoder block a two-layer MLP (4 → hidden → 1, ReLU) over the
/// four factors (position / context length, the token's self-attention weight, its rank among earlier tokens, the
/// block's sparsity from the schedule); a token computes the block when the logit is positive. A block whose schedule
/// asks for no sparsity has no router and computes every token. The file (safetensors) records the schedule, the
/// global target and a fingerprint of the model the routers were trained for.
/// </summary>
public sealed class FtpRouters : ITokenRouter
{
    public const int Factors = 4;

    public FtpRouters(ModelConfig config, double[] schedule, float[]?[] w1, float[]?[] b1, float[]?[] w2, float[] b2, string fingerprint, double target)
    {
        if (schedule.Length != config.Layers) throw new ArgumentException($"the schedule has {schedule.Length} blocks, the model {config.Layers}");
        Config = config;
        Schedule = schedule;
        W1 = w1;
        B1 = b1;
        W2 = w2;
        B2 = b2;
        Fingerprint = fingerprint;
        Target = target;
        Hidden = w1.FirstOrDefault(w => w != null) is { } first ? first.Length / Factors : 0;
    }

    public ModelConfig Config { get; }
    /// <summary>Token sparsity each block was asked for (share of tokens that skip it).</summary>
    public double[] Schedule { get; }
    public double Target { get; }
    public string Fingerprint { get; }
    public int Hidden { get; }
    /// <summary>Per block (null: no router), [hidden, 4] row-major, [hidden], [hidden]; and the output bias.</summary>
    public float[]?[] W1 { get; }
    public float[]?[] B1 { get; }
    public float[]?[] W2 { get; }
    public float[] B2 { get; }

    public bool HasRouter(int layer) => W1[layer] != null;

    /// <summary>Multiply-adds of one token through one router, to set against the block's.</summary>
    public long RouterMultiplyAdds => (long)Hidden * (Factors + 1);

    public void Route(int layer, ReadOnlySpan<int> positions, ReadOnlySpan<float> attention, ReadOnlySpan<float> rank, Span<bool> active)
    {
        var w1 = W1[layer];
        if (w1 == null)
        {
            active.Fill(true);
            return;
        }
        var b1 = B1[layer]!;
        var w2 = W2[layer]!;
        float s = (float)Schedule[layer], ctx = Config.MaxSeqLen;
        Span<float> f = stackalloc float[Factors];
        for (int t = 0; t < positions.Length; t++)
        {
            f[0] = positions[t] / ctx;
            f[1] = attention[t];
            f[2] = rank[t];
            f[3] = s;
            float z = B2[layer];
            for (int h = 0; h < Hidden; h++)
            {
                float a = b1[h];
                for (int k = 0; k < Factors; k++) a += w1[h * Factors + k] * f[k];
                if (a > 0) z += w2[h] * a;
            }
            active[t] = z > 0;
        }
    }

    /// <summary>
    /// Identifies a model cheaply: its shape and a SHA-256 over the leading bytes of the embedding and of every
    /// layer's query weight, so routers refuse another model (or the same shape with other weights).
    /// </summary>
    public static string FingerprintOf(Checkpoint checkpoint)
    {
        var c = checkpoint.Config;
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        sha.AppendData(Encoding.UTF8.GetBytes($"{c.Dim},{c.HiddenDim},{c.Layers},{c.Heads},{c.KvHeads},{c.VocabSize},{c.MaxSeqLen};"));
        void Add(TensorData t)
        {
            // Decoded to f32 so a model keeps its fingerprint across file formats.
            var values = t.ToFloat32();
            var head = values.AsSpan(0, Math.Min(values.Length, 4096));
            sha.AppendData(System.Runtime.InteropServices.MemoryMarshal.AsBytes(head));
        }
        Add(checkpoint[LlamaTensorNames.Embedding]);
        for (int l = 0; l < c.Layers; l++) Add(checkpoint[LlamaTensorNames.Query(l)]);
        return Convert.ToHexString(sha.GetHashAndReset()).ToLowerInvariant();
    }

    public void Save(string path)
    {
        var tensors = new List<TensorData>();
        for (int l = 0; l < Config.Layers; l++)
        {
            if (W1[l] == null) continue;
            tensors.Add(TensorData.FromFloat32($"router.{l}.w1", W1[l]!, Hidden, Factors));
            tensors.Add(TensorData.FromFloat32($"router.{l}.b1", B1[l]!, Hidden));
            tensors.Add(TensorData.FromFloat32($"router.{l}.w2", W2[l]!, Hidden));
            tensors.Add(TensorData.FromFloat32($"router.{l}.b2", [B2[l]], 1));
        }
        var metadata = new Dictionary<string, string>
        {
            ["method"] = "ftp",
            ["schedule"] = JsonSerializer.Serialize(Schedule),
            ["token_sparsity"] = Target.ToString("R", CultureInfo.InvariantCulture),
            ["fingerprint"] = Fingerprint,
            ["layers"] = Config.Layers.ToString(CultureInfo.InvariantCulture),
        };
        var temp = path + ".tmp";
        SafetensorsWriter.Write(temp, tensors, metadata);
        File.Move(temp, path, overwrite: true);
    }

    /// <summary>Loads routers for <paramref name="checkpoint"/>, refusing a file made for another model.</summary>
    public static FtpRouters Load(string path, Checkpoint checkpoint)
    {
        var file = SafetensorsFile.Open(path);
        if (!file.Metadata.TryGetValue("method", out var method) || method != "ftp" || !file.Metadata.TryGetValue("schedule", out var scheduleText) || !file.Metadata.TryGetValue("fingerprint", out var fingerprint))
            throw new PareFormatException(path, "not an FTP routers file (no method/schedule/fingerprint metadata)");
        var expected = FingerprintOf(checkpoint);
        if (fingerprint != expected)
            throw new ArgumentException($"{path}: these routers were trained for another model (fingerprint {fingerprint[..12]}…, {checkpoint.Source} has {expected[..12]}…)");
        var schedule = JsonSerializer.Deserialize<double[]>(scheduleText) ?? throw new PareFormatException(path, "empty schedule");
        var c = checkpoint.Config;
        if (schedule.Length != c.Layers) throw new PareFormatException(path, $"schedule for {schedule.Length} blocks, the model has {c.Layers}");
        var w1 = new float[]?[c.Layers];
        var b1 = new float[]?[c.Layers];
        var w2 = new float[]?[c.Layers];
        var b2 = new float[c.Layers];
        for (int l = 0; l < c.Layers; l++)
        {
            if (!file.Tensors.ContainsKey($"router.{l}.w1")) continue;
            w1[l] = file[$"router.{l}.w1"].ToFloat32();
            b1[l] = file[$"router.{l}.b1"].ToFloat32();
            w2[l] = file[$"router.{l}.w2"].ToFloat32();
            b2[l] = file[$"router.{l}.b2"].ToFloat32()[0];
        }
        double target = file.Metadata.TryGetValue("token_sparsity", out var t) ? double.Parse(t, CultureInfo.InvariantCulture) : schedule.Average();
        return new FtpRouters(c, schedule, w1, b1, w2, b2, fingerprint, target);
    }
}
