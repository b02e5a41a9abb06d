namespace Pare.Core.Formats;

/// <summary>
/// Writes a folder (a model made of several files) under a temporary sibling name and renames it into place, so an
/// interrupted run leaves either the old folder or the complete new one, never a weights file without its config.
/// </summary>
public static class AtomicFolder
{
    /// <summary>
    /// Runs <paramref name="write"/> on an empty temporary folder, then puts it at <paramref name="path"/>. Files of an
    /// existing folder there that the new one does not have (a tokenizer beside the model) are carried over; the ones
    /// it has are replaced.
    /// </summary>
    public static void Write(string path, Action<string> write)
    {
        var full = Path.GetFullPath(path).TrimEnd(Path.DirectorySeparatorChar);
        if (File.Exists(full))
            throw new IOException($"{full}: is a file; a Hugging Face model is written as a folder");
        var parent = Path.GetDirectoryName(full)!;
        Directory.CreateDirectory(parent);
        var temp = Path.Combine(parent, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        Directory.CreateDirectory(temp);
        try
        {
            write(temp);
            if (!Directory.Exists(full))
            {
                Directory.Move(temp, full);
                return;
            }
            foreach (var old in Directory.EnumerateFiles(full))
            {
                var target = Path.Combine(temp, Path.GetFileName(old));
                if (!File.Exists(target)) File.Copy(old, target);
            }
            // Two renames: between them the path is briefly absent, but it never holds a half-written model.
            var previous = Path.Combine(parent, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.old");
            Directory.Move(full, previous);
            Directory.Move(temp, full);
            Directory.Delete(previous, recursive: true);
        }
        finally
        {
            if (Directory.Exists(temp))
                try { Directory.Delete(temp, recursive: true); } catch (IOException) { }
        }
    }
}
