using System.Text.Json;
using Pare.Core;
using Pare.Core.Formats;
using Pare.Core.Tokenizers;
using Pare.TestSupport;

namespace Pare.Torch.Tests;

/// <summary>stories260K, its reference logits and a calibration stream, loaded once for all tests.</summary>
public static class TestModels
{
    private static readonly Lazy<Checkpoint> Stories = new(() => ModelLoader.Load(Shared.Stories260K));
    private static readonly Lazy<int[]> Calibration = new(() =>
    {
        // The first 100 stories of the head slice, BOS-prefixed and concatenated (the TinyStories protocol).
        var tok = TokenizerLoader.Load(Shared.Stories260KTokenizer, 512);
        var stories = File.ReadAllText(Shared.TinyStories).Split("<|endoftext|>").Select(s => s.Trim()).Where(s => s.Length > 0).Take(100);
        return stories.SelectMany(s => tok.Encode(s, addBos: true)).ToArray();
    });

    public static Checkpoint Stories260K => Stories.Value;
    public static int[] CalibrationStream => Calibration.Value;

    public static (int[] Ids, int Vocab, float[] Logits) ReferenceLogits()
    {
        var meta = JsonDocument.Parse(File.ReadAllText(Shared.Reference("stories260K.logits64.json"))).RootElement;
        var ids = Shared.Ints(meta.GetProperty("ids"));
        int vocab = meta.GetProperty("vocab").GetInt32();
        var bytes = File.ReadAllBytes(Shared.Reference("stories260K.logits64.f32"));
        var expected = new float[bytes.Length / 4];
        Buffer.BlockCopy(bytes, 0, expected, 0, bytes.Length);
        return (ids, vocab, expected);
    }
}
