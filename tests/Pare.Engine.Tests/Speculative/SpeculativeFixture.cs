using Pare.Core.Formats;
using Pare.Core.Tokenizers;
using Pare.Engine.Speculative;
using Pare.TestSupport;

namespace Pare.Engine.Tests.Speculative;

/// <summary>stories260K, its tokenizer, the story-opening prompts and the drafters the tests run.</summary>
internal static class SpeculativeFixture
{
    private static readonly Lazy<LlamaWeights> TargetWeights = new(() => LlamaWeights.FromCheckpoint(ModelLoader.Load(Shared.Stories260K)));
    private static readonly Lazy<LlamaWeights> SyntheticWeights = new(() => LlamaWeights.FromCheckpoint(ModelLoader.Load(Shared.PathOf("models", "synthetic-tiny", "synthetic-tiny.bin"))));
    private static readonly Lazy<ITokenizer> TokenizerValue = new(() => TokenizerLoader.Load(Shared.Stories260KTokenizer, 512));

    public static LlamaWeights Target => TargetWeights.Value;
    public static ITokenizer Tokenizer => TokenizerValue.Value;

    public static int[][] Prompts() => Shared.ReadJsonLines(Shared.PathOf("data", "prompts", "story-openings.jsonl"))
        .Select(row => Tokenizer.Encode(row.GetProperty("prompt").GetString()!, addBos: true))
        .ToArray();

    /// <summary>Every kind of drafter: lookup, early exit, int8/int4 and 2:4 self-drafts, a separate (random) model, adaptive.</summary>
    public static IEnumerable<Func<Transformer, IDrafter>> Drafters()
    {
        yield return _ => new PromptLookupDrafter();
        yield return t => new TransformerDrafter(new Transformer(SelfDraft.EarlyExit(Target, 1)), "layers=1");
        yield return t => new TransformerDrafter(new Transformer(SelfDraft.EarlyExit(Target, 3)), "layers=3");
        yield return t => new TransformerDrafter(new Transformer(SelfDraft.Quantized(Target, "int8")), "int8");
        yield return t => new TransformerDrafter(new Transformer(SelfDraft.Quantized(Target, "int4")), "int4");
        yield return t => new TransformerDrafter(new Transformer(SelfDraft.Pruned24(Target)), "2:4");
        yield return t => TransformerDrafter.For(t, new Transformer(SyntheticWeights.Value), "synthetic-tiny");
        yield return t => new TransformerDrafter(new Transformer(SelfDraft.EarlyExit(Target, 2)), "layers=2 adaptive", stopBelowConfidence: 0.6f);
    }

    public static LlamaWeights Synthetic => SyntheticWeights.Value;
}
