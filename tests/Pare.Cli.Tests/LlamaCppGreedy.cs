using LLama;
using LLama.Common;
using LLama.Native;

namespace Pare.Cli.Tests;

/// <summary>
/// Greedy decoding by llama.cpp itself (libllama c0c7e147, as LLamaSharp 0.30.0 ships it): an independent reader of
/// GGUF that checks what Pare writes — vocabulary, metadata and tensors — by running it. llama.cpp tokenizes the
/// prompt with the file's own vocabulary; each next token is the argmax of llama.cpp's logits.
/// </summary>
public static class LlamaCppGreedy
{
    private static readonly object Gate = new();
    private static bool _configured;

    public static (int[] PromptIds, int[] GeneratedIds) Run(string gguf, string prompt, int tokens)
    {
        lock (Gate)
        {
            if (!_configured)
            {
                // llama.cpp logs every load to stderr; only its warnings and errors matter here.
                NativeLibraryConfig.All.WithLogCallback((level, message) => { if (level >= LLamaLogLevel.Warning) Console.Error.Write(message); });
                _configured = true;
            }
            var parameters = new ModelParams(gguf) { ContextSize = 512, GpuLayerCount = 0, BatchSize = 512 };
            using var weights = LLamaWeights.LoadFromFile(parameters);
            using var context = weights.CreateContext(parameters);
            var promptIds = context.Tokenize(prompt, addBos: true, special: false);
            var batch = new LLamaBatch();
            for (int i = 0; i < promptIds.Length; i++) batch.Add(promptIds[i], i, LLamaSeqId.Zero, i == promptIds.Length - 1);
            var generated = new List<int>();
            for (int pos = promptIds.Length; generated.Count < tokens; pos++)
            {
                if (context.Decode(batch) != DecodeResult.Ok) throw new InvalidOperationException($"llama.cpp could not decode at position {pos}");
                var logits = context.NativeHandle.GetLogitsIth(batch.TokenCount - 1);
                int best = 0;
                for (int v = 1; v < logits.Length; v++) if (logits[v] > logits[best]) best = v;
                generated.Add(best);
                batch.Clear();
                batch.Add((LLamaToken)best, pos, LLamaSeqId.Zero, true);
            }
            return (promptIds.Select(t => (int)t).ToArray(), generated.ToArray());
        }
    }
}
