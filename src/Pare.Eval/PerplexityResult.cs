namespace Pare.Eval;

/// <summary>Perplexity over non-overlapping windows: exp of the mean next-token NLL.</summary>
public sealed record PerplexityResult(int WindowLength, int Windows, long TokensScored, double MeanNll, double[] WindowNll, double Seconds)
{
    public double Perplexity => Math.Exp(MeanNll);
    public double TokensPerSecond => Seconds > 0 ? (double)Windows * WindowLength / Seconds : 0;
}
