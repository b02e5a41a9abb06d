using System.Text;

namespace Pare.Core.Tests.Formats;

/// <summary>
/// Independent readings of the llama2.c files in ../shared, written out here from the format description in
/// MANIFEST.md so that reader tests compare against something Pare's readers did not produce.
/// </summary>
internal static class Llama2cFileFacts
{
    /// <summary>The seven int32 of a legacy v0 header.</summary>
    public static int[] Header(string binPath)
    {
        var bytes = File.ReadAllBytes(binPath);
        return Enumerable.Range(0, 7).Select(i => BitConverter.ToInt32(bytes, 4 * i)).ToArray();
    }

    /// <summary>The token embedding table of a legacy v0 file (it comes right after the header).</summary>
    public static float[] Embedding(string binPath)
    {
        var h = Header(binPath);
        int n = Math.Abs(h[5]) * h[0];
        var bytes = File.ReadAllBytes(binPath);
        var result = new float[n];
        Buffer.BlockCopy(bytes, 28, result, 0, n * 4);
        return result;
    }

    /// <summary>tokenizer.bin: int32 max length, then per token a float score, an int32 length and the bytes.</summary>
    public static (string[] Pieces, float[] Scores) Tokenizer(string path, int vocab)
    {
        using var r = new BinaryReader(File.OpenRead(path));
        r.ReadInt32();
        var pieces = new string[vocab];
        var scores = new float[vocab];
        for (int i = 0; i < vocab; i++)
        {
            scores[i] = r.ReadSingle();
            pieces[i] = Encoding.UTF8.GetString(r.ReadBytes(r.ReadInt32()));
        }
        return (pieces, scores);
    }
}
