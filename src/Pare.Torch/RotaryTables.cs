using Pare.Core;
using TorchSharp;
using static TorchSharp.torch;

namespace Pare.Torch;

/// <summary>
/// cos/sin of the rotary angles, [positions, head_dim/2], computed with the same float expressions as the Engine
/// (and llama2.c's run.c) so both give the same logits.
/// </summary>
public sealed class RotaryTables : IDisposable
{
    public RotaryTables(ModelConfig c)
    {
        int half = c.HeadDim / 2;
        var cos = new float[c.MaxSeqLen * half];
        var sin = new float[c.MaxSeqLen * half];
        for (int pos = 0; pos < c.MaxSeqLen; pos++)
        {
            for (int i = 0; i < half; i++)
            {
                float freq = 1.0f / MathF.Pow(c.RopeTheta, 2 * i / (float)c.HeadDim);
                float val = pos * freq;
                cos[pos * half + i] = MathF.Cos(val);
                sin[pos * half + i] = MathF.Sin(val);
            }
        }
        Cos = tensor(cos, new long[] { c.MaxSeqLen, half });
        Sin = tensor(sin, new long[] { c.MaxSeqLen, half });
    }

    public Tensor Cos { get; }
    public Tensor Sin { get; }

    /// <summary>Rotates interleaved pairs (2i, 2i+1) of every head of x: [B, T, heads, head_dim], positions 0..T−1.</summary>
    public Tensor Apply(Tensor x)
    {
        using var scope = NewDisposeScope();
        long b = x.shape[0], t = x.shape[1], h = x.shape[2], hd = x.shape[3];
        var pairs = x.reshape(b, t, h, hd / 2, 2);
        var x0 = pairs.select(4, 0);
        var x1 = pairs.select(4, 1);
        var cos = Cos.narrow(0, 0, t).unsqueeze(1);
        var sin = Sin.narrow(0, 0, t).unsqueeze(1);
        var r0 = x0 * cos - x1 * sin;
        var r1 = x0 * sin + x1 * cos;
        return stack(new[] { r0, r1 }, 4).reshape(b, t, h, hd).MoveToOuterDisposeScope();
    }

    public void Dispose()
    {
        Cos.Dispose();
        Sin.Dispose();
    }
}
