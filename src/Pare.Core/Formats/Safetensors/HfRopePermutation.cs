using Pare.Core.Tensors;

namespace Pare.Core.Formats.Safetensors;

/// <summary>
/// Hugging Face LLaMA q_proj/k_proj rows are ordered for rotate_half RoPE (first half of each head's dimensions
/// pairs with the second half); Pare, llama2.c and GGUF pair dimensions 2i and 2i+1. HF's convert_llama_weights_to_hf
/// permutes w.view(heads, head_dim/2, 2, in).transpose(1, 2); these undo and redo that, row by row.
/// </summary>
public static class HfRopePermutation
{
    /// <summary>HF (half-split) row order → interleaved: interleaved row 2i+j of a head is HF row j·head_dim/2 + i.</summary>
    public static TensorData ToInterleaved(TensorData hf, int heads) => Permute(hf, heads, toInterleaved: true);

    /// <summary>Interleaved row order → HF (half-split), the permutation HF's converter applies.</summary>
    public static TensorData ToHalfSplit(TensorData interleaved, int heads) => Permute(interleaved, heads, toInterleaved: false);

    private static TensorData Permute(TensorData t, int heads, bool toInterleaved)
    {
        int rows = t.Rows;
        if (t.Shape.Length != 2 || rows % heads != 0 || rows / heads % 2 != 0)
            throw new ArgumentException($"tensor {t.Name} {TensorData.FormatShape(t.Shape)} cannot be split into {heads} heads of paired rows");
        int headDim = rows / heads, half = headDim / 2;
        int rowBytes = t.Data.Length / rows;
        var src = t.Data.Span;
        var dst = new byte[t.Data.Length];
        for (int h = 0; h < heads; h++)
            for (int i = 0; i < half; i++)
                for (int j = 0; j < 2; j++)
                {
                    int interleavedRow = h * headDim + 2 * i + j;
                    int halfSplitRow = h * headDim + j * half + i;
                    var (from, to) = toInterleaved ? (halfSplitRow, interleavedRow) : (interleavedRow, halfSplitRow);
                    src.Slice(from * rowBytes, rowBytes).CopyTo(dst.AsSpan(to * rowBytes, rowBytes));
                }
        return new TensorData(t.Name, t.Shape, t.Type, dst);
    }
}
