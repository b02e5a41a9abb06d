using Pare.Core.Tensors;

namespace Pare.Core.Formats;

/// <summary>
/// Writes llama2.c's legacy v0 format (what run.c reads): seven int32 (vocab_size negative when the classifier is
/// separate), then f32 tensors in run.c's order, including the RoPE tables freq_cis_real/imag that export.py writes
/// (run.c ignores them). Tensors of other types are written dequantised to f32.
/// </summary>
public static class Llama2cWriter
{
    public static void Write(Checkpoint checkpoint, string path)
    {
        checkpoint.Validate(scanValues: false);
        var c = checkpoint.Config;
        if (c.RopeTheta != 10000f)
            throw new ArgumentException($"{checkpoint.Source}: llama2.c's format has no RoPE base; this model uses {c.RopeTheta}, not 10000");
        var unwritable = checkpoint.Tensors.Keys.Except(LlamaTensorNames.Expected(c).Select(e => e.Name)).FirstOrDefault();
        if (unwritable != null)
            throw new ArgumentException($"{checkpoint.Source}: tensor '{unwritable}' has no place in a llama2.c file");

        AtomicFile.Write(path, stream =>
        {
            var w = new BinaryWriter(stream);
            foreach (var v in new[] { c.Dim, c.HiddenDim, c.Layers, c.Heads, c.KvHeads, c.TiedEmbeddings ? c.VocabSize : -c.VocabSize, c.MaxSeqLen })
                w.Write(v);
            void Tensor(string name) => WriteF32(w, checkpoint[name]);
            void Stacked(Func<int, string> name)
            {
                for (int l = 0; l < c.Layers; l++) Tensor(name(l));
            }
            Tensor(LlamaTensorNames.Embedding);
            Stacked(LlamaTensorNames.AttentionNorm);
            Stacked(LlamaTensorNames.Query);
            Stacked(LlamaTensorNames.Key);
            Stacked(LlamaTensorNames.Value);
            Stacked(LlamaTensorNames.Output);
            Stacked(LlamaTensorNames.FfnNorm);
            Stacked(LlamaTensorNames.Gate);
            Stacked(LlamaTensorNames.Down);
            Stacked(LlamaTensorNames.Up);
            Tensor(LlamaTensorNames.FinalNorm);
            var (cos, sin) = RopeTables(c.HeadDim, c.MaxSeqLen, c.RopeTheta);
            foreach (var v in cos) w.Write(v);
            foreach (var v in sin) w.Write(v);
            if (!c.TiedEmbeddings) Tensor(LlamaTensorNames.Classifier);
            w.Flush();
        });
    }

    /// <summary>
    /// llama2.c model.py's precompute_freqs_cis in f32: freq_i = 1 / θ^(2i/head_dim), angle = t·freq_i, tables
    /// [seq_len, head_dim/2] of cos and sin.
    /// </summary>
    public static (float[] Cos, float[] Sin) RopeTables(int headDim, int seqLen, float theta)
    {
        int half = headDim / 2;
        var cos = new float[seqLen * half];
        var sin = new float[seqLen * half];
        for (int i = 0; i < half; i++)
        {
            float freq = 1f / MathF.Pow(theta, 2 * i / (float)headDim);
            for (int t = 0; t < seqLen; t++)
            {
                float angle = t * freq;
                cos[t * half + i] = MathF.Cos(angle);
                sin[t * half + i] = MathF.Sin(angle);
            }
        }
        return (cos, sin);
    }

    private static void WriteF32(BinaryWriter w, TensorData t)
    {
        if (t.Type == DType.F32) w.Write(t.Data.Span);
        else foreach (var v in t.ToFloat32()) w.Write(v);
    }
}
