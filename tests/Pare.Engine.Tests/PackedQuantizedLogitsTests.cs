using Pare.Core;
using Pare.Core.Formats;
using Pare.Core.Formats.Gguf;
using Pare.Core.Tensors;
using Pare.TestSupport;

namespace Pare.Engine.Tests;

/// <summary>
/// A model quantised on the q8_0/q4_0 grid (pruned or not) and written as GGUF blocks runs on the Engine's int8/int4
/// kernels straight from the file; its logits match those of the very same grid values loaded densely (f32), up to
/// the kernels' activation rounding (int8 activations per block of 32).
/// </summary>
public class PackedQuantizedLogitsTests
{
    [Theory]
    [InlineData(8, false)]
    [InlineData(4, false)]
    [InlineData(4, true)]
    public void PackedFileGivesTheLogitsOfItsDenseValues(int bits, bool pruned)
    {
        var ck = ModelLoader.Load(Shared.Stories260K);
        var packed = new Dictionary<string, TensorData>(ck.Tensors);
        var dense = new Dictionary<string, TensorData>(ck.Tensors);
        int blocks = 0;
        for (int l = 0; l < ck.Config.Layers; l++)
        {
            foreach (var name in LlamaTensorNames.Linears(l))
            {
                var t = ck[name];
                var w = t.ToFloat32();
                if (pruned) for (int i = 0; i < w.Length; i++) if (i % 4 < 2) w[i] = 0; // 2:4 with zeros in place
                var q = SymmetricGrid.RoundToNearest(w, t.Rows, t.Columns, bits, 32);
                packed[name] = q.ToTensorData(name);
                dense[name] = TensorData.FromFloat32(name, q.Dequantize(), t.Shape);
                if (q.IsGgml) blocks++;
            }
        }
        Assert.Equal(4 * ck.Config.Layers * 1 + 2 * ck.Config.Layers, blocks); // every linear but down_proj (172 columns)
        var path = Path.Combine(Path.GetTempPath(), $"pare-packed-{Guid.NewGuid():N}.gguf");
        try
        {
            GgufWriter.Write(ck.With(packed), path);
            var file = ModelLoader.Load(path);
            Assert.Equal(bits == 8 ? DType.Q8_0 : DType.Q4_0, file[LlamaTensorNames.Query(0)].Type);
            var ids = CrossFormatLogitsTests.ReferenceIds();
            var expected = CrossFormatLogitsTests.Logits(ck.With(dense), ids);
            var actual = CrossFormatLogitsTests.Logits(file, ids);
            float worst = CrossFormatLogitsTests.MaxAbsDifference(expected, actual), scale = expected.Max(Math.Abs);
            Assert.True(worst < 0.02f * scale, $"max |Δ| = {worst}, max |logit| = {scale}");
        }
        finally
        {
            File.Delete(path);
        }
    }
}
