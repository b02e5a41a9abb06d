using System.CommandLine;
using System.Globalization;

namespace Pare.Cli;

/// <summary>
/// --adaptive [THRESHOLD], shared by every command that drafts: alone it turns adaptive draft length on at the
/// default confidence, with a value it sets the draft confidence (top probability) below which drafting stops.
/// Absent, drafting always runs the full k tokens.
/// </summary>
public static class AdaptiveOption
{
    public const float DefaultThreshold = 0.4f;

    public static Option<float?> Create() => new("--adaptive")
    {
        Description = $"Adaptive draft length: stop drafting when the draft's top probability falls below THRESHOLD (alone: {DefaultThreshold.ToString(CultureInfo.InvariantCulture)})",
        Arity = ArgumentArity.ZeroOrOne,
        CustomParser = result =>
        {
            if (result.Tokens.Count == 0) return DefaultThreshold;
            var text = result.Tokens[0].Value;
            if (float.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out float t) && t > 0 && t < 1) return t;
            result.AddError($"--adaptive takes a confidence between 0 and 1 (exclusive), got '{text}'");
            return null;
        },
    };

    /// <summary>The threshold a drafter is built with: 0 (off) when the option is absent.</summary>
    public static float Threshold(ParseResult parse, Option<float?> option) => parse.GetValue(option) ?? 0f;
}
