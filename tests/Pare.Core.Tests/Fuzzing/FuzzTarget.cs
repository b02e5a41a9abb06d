namespace Pare.Core.Tests.Fuzzing;

/// <summary>One file of a fixture that mutations apply to, with what a mutator needs to know about its layout.</summary>
/// <param name="Name">File name inside the fixture folder.</param>
/// <param name="HeaderBytes">Length of the part the reader interprets (most mutations land there).</param>
/// <param name="Fields">Known header fields (counts, dimensions, types, offsets).</param>
/// <param name="IsJson">Whether the file is JSON text (token-level edits then).</param>
/// <param name="Custom">A mutation of its own (a safetensors JSON header rebuilt with its new length), used for half the cases.</param>
public sealed record MutableFile(string Name, int HeaderBytes, IReadOnlyList<Field> Fields, bool IsJson = false, Func<Mutator, byte[], (byte[] Bytes, string What)>? Custom = null);

/// <summary>
/// A reader under test: a fixture (files as they are on disk, made from the real models in ../shared), the files that
/// may be mutated, and the load, which either succeeds or throws the reader's own exception.
/// </summary>
public sealed record FuzzTarget(string Name, IReadOnlyDictionary<string, byte[]> Files, IReadOnlyList<MutableFile> Mutable, Action<string> Load)
{
    /// <summary>False for a format Pare refuses whole (tokenizer.json): then every mutant must be refused too.</summary>
    public bool FixtureLoads { get; init; } = true;

    /// <summary>Share of the suite's cases this target runs (a slow load, such as a 50,000-merge BPE vocabulary, runs fewer).</summary>
    public double SuiteShare { get; init; } = 1;

    public long FixtureBytes => Files.Values.Sum(b => (long)b.Length);
    public override string ToString() => Name;
}
