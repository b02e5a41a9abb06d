namespace Pare.Core;

/// <summary>A model, tokenizer or data file that cannot be read as what it claims to be. The message names the file and the problem.</summary>
public sealed class PareFormatException : Exception
{
    public PareFormatException(string path, string problem, Exception? inner = null)
        : base($"{path}: {problem}", inner)
    {
        FilePath = path;
        Problem = problem;
    }

    public string FilePath { get; }
    public string Problem { get; }
}
