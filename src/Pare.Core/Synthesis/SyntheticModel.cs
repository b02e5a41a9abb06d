using System.Numerics;
using System.Runtime.InteropServices;
using Pare.Core.Tensors;

namespace Pare.Core.Synthesis;

/// <summary>
/// Seeded random LLaMA models at real shapes, for speed measurements (dense kernels' speed does not depend on the
/// values): matrices ~ normal(0, 0.02), norm weights 1. Each tensor has its own stream (seed, tensor index), so
/// tensors are generated in parallel and a tensor's values do not depend on the others.
/// </summary>
public static class SyntheticModel
{
    public const float Std = 0.02f;

    /// <summary>Named shapes: stories110m and tinyllama-1.1b with untied classifiers, stories260k tied as the original.</summary>
    public static ModelConfig Shape(string spec)
    {
        switch (spec.ToLowerInvariant())
        {
            case "stories110m": return new ModelConfig { Dim = 768, HiddenDim = 2048, Layers = 12, Heads = 12, KvHeads = 12, VocabSize = 32000, MaxSeqLen = 1024, TiedEmbeddings = false };
            case "tinyllama-1.1b": return new ModelConfig { Dim = 2048, HiddenDim = 5632, Layers = 22, Heads = 32, KvHeads = 4, VocabSize = 32000, MaxSeqLen = 2048, TiedEmbeddings = false };
            case "stories260k": return new ModelConfig { Dim = 64, HiddenDim = 172, Layers = 5, Heads = 8, KvHeads = 4, VocabSize = 512, MaxSeqLen = 512, TiedEmbeddings = true };
        }
        var values = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase);
        foreach (var part in spec.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var kv = part.Split('=', 2);
            if (kv.Length != 2 || !int.TryParse(kv[1], out int v))
                throw new ArgumentException($"shape '{spec}': '{part}' is not key=integer (expected stories110m, tinyllama-1.1b, stories260k or dim=..,hidden=..,layers=..,heads=..,kv_heads=..,vocab=..[,seq=..][,tied=0|1])");
            values[kv[0]] = v;
        }
        int Get(string key, int? fallback = null) => values.TryGetValue(key, out int v) ? v
            : fallback ?? throw new ArgumentException($"shape '{spec}' lacks {key}=");
        var config = new ModelConfig
        {
            Dim = Get("dim"),
            HiddenDim = Get("hidden"),
            Layers = Get("layers"),
            Heads = Get("heads"),
            KvHeads = Get("kv_heads", Get("heads")),
            VocabSize = Get("vocab"),
            MaxSeqLen = Get("seq", 1024),
            TiedEmbeddings = Get("tied", 0) != 0,
        };
        config.Validate(spec);
        return config;
    }

    public static Checkpoint Create(ModelConfig config, ulong seed, Action<int, int>? progress = null)
    {
        config.Validate("synthetic model");
        var expected = LlamaTensorNames.Expected(config).ToArray();
        var tensors = new TensorData[expected.Length];
        int done = 0;
        Parallel.For(0, expected.Length, i =>
        {
            var (name, shape) = expected[i];
            long count = shape.Aggregate(1L, (a, d) => a * d);
            var bytes = GC.AllocateUninitializedArray<byte>(checked((int)(count * 4)));
            var values = MemoryMarshal.Cast<byte, float>(bytes.AsSpan());
            if (shape.Length == 1) values.Fill(1f);
            else FillNormal(values, seed, (ulong)i, Std);
            tensors[i] = new TensorData(name, shape, DType.F32, bytes);
            progress?.Invoke(Interlocked.Increment(ref done), expected.Length);
        });
        return new Checkpoint(config, tensors.ToDictionary(t => t.Name), "synthetic", "synthetic");
    }

    /// <summary>Normal values by Box–Muller from xoshiro256** seeded via SplitMix64 with (seed, stream).</summary>
    public static void FillNormal(Span<float> values, ulong seed, ulong stream, float std)
    {
        ulong sm = seed * 0x9E3779B97F4A7C15UL ^ (stream + 1) * 0xD1B54A32D192ED03UL;
        ulong s0 = SplitMix(ref sm), s1 = SplitMix(ref sm), s2 = SplitMix(ref sm), s3 = SplitMix(ref sm);
        for (int i = 0; i < values.Length; i += 2)
        {
            ulong r = Next(ref s0, ref s1, ref s2, ref s3);
            // Two 24-bit uniforms: u1 in (0, 1] so the log is finite, u2 in [0, 1).
            float u1 = ((uint)(r >> 40) + 1) * (1f / (1 << 24));
            float u2 = (uint)(r >> 16 & 0xFFFFFF) * (1f / (1 << 24));
            float radius = std * MathF.Sqrt(-2f * MathF.Log(u1));
            var (sin, cos) = MathF.SinCos(2f * MathF.PI * u2);
            values[i] = radius * cos;
            if (i + 1 < values.Length) values[i + 1] = radius * sin;
        }
    }

    private static ulong SplitMix(ref ulong x)
    {
        ulong z = x += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    private static ulong Next(ref ulong s0, ref ulong s1, ref ulong s2, ref ulong s3)
    {
        ulong result = BitOperations.RotateLeft(s1 * 5, 7) * 9;
        ulong t = s1 << 17;
        s2 ^= s0;
        s3 ^= s1;
        s1 ^= s2;
        s0 ^= s3;
        s2 ^= t;
        s3 = BitOperations.RotateLeft(s3, 45);
        return result;
    }
}
