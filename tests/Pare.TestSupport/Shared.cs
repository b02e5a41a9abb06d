using System.Text.Json;

namespace Pare.TestSupport;

/// <summary>Locates ../shared (beside the repo; PARE_SHARED overrides) and the files tests read from it.</summary>
public static class Shared
{
    private static readonly Lazy<string> RootPath = new(Find);

    public static string Root => RootPath.Value;

    public static string PathOf(params string[] parts) => Path.Combine([Root, .. parts]);

    public static string Stories260K => PathOf("models", "stories260K", "stories260K.bin");
    public static string Stories260KTokenizer => PathOf("models", "stories260K", "tok512.bin");
    public static string Stories260KGguf => PathOf("models", "stories260K", "stories260K.f32.gguf");
    public static string Stories260KQ8 => PathOf("models", "stories260K", "stories260K-q8.bin");
    public static string TinyStories => PathOf("data", "tinystories", "TinyStories-valid.head.txt");
    public static string Reference(string name) => PathOf("reference", name);

    public static IEnumerable<JsonElement> ReadJsonLines(string path)
    {
        foreach (var line in File.ReadLines(path))
            if (!string.IsNullOrWhiteSpace(line))
                yield return JsonDocument.Parse(line).RootElement.Clone();
    }

    public static int[] Ints(JsonElement array) => array.EnumerateArray().Select(e => e.GetInt32()).ToArray();

    private static string Find()
    {
        var env = Environment.GetEnvironmentVariable("PARE_SHARED");
        if (!string.IsNullOrEmpty(env) && File.Exists(Path.Combine(env, "MANIFEST.md"))) return env;
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "shared");
            if (File.Exists(Path.Combine(candidate, "MANIFEST.md"))) return candidate;
        }
        throw new DirectoryNotFoundException("../shared (with MANIFEST.md) not found beside the repository; set PARE_SHARED");
    }
}
