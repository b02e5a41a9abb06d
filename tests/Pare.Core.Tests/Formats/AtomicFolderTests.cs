using Pare.Core.Formats;
using Pare.Core.Formats.Safetensors;
using Pare.TestSupport;

namespace Pare.Core.Tests.Formats;

public class AtomicFolderTests
{
    [Fact]
    public void InterruptedWriteLeavesNoFolderBehind()
    {
        using var dir = new TempDir();
        var path = dir.File("model");
        Assert.Throws<InvalidOperationException>(() => AtomicFolder.Write(path, temp =>
        {
            File.WriteAllText(Path.Combine(temp, "model.safetensors"), "half");
            throw new InvalidOperationException("killed");
        }));
        Assert.Empty(Directory.GetFileSystemEntries(dir.Path));
    }

    [Fact]
    public void InterruptedRewriteKeepsTheOldModelWhole()
    {
        using var dir = new TempDir();
        var path = dir.File("model");
        AtomicFolder.Write(path, temp =>
        {
            File.WriteAllText(Path.Combine(temp, "config.json"), "old config");
            File.WriteAllText(Path.Combine(temp, "model.safetensors"), "old weights");
        });
        Assert.Throws<IOException>(() => AtomicFolder.Write(path, temp =>
        {
            File.WriteAllText(Path.Combine(temp, "model.safetensors"), "new weights");
            throw new IOException("disk full");
        }));
        Assert.Equal("old config", File.ReadAllText(Path.Combine(path, "config.json")));
        Assert.Equal("old weights", File.ReadAllText(Path.Combine(path, "model.safetensors")));
        Assert.Equal([path], Directory.GetFileSystemEntries(dir.Path));
    }

    [Fact]
    public void RewriteReplacesItsFilesAndKeepsOthers()
    {
        using var dir = new TempDir();
        var path = dir.File("model");
        Directory.CreateDirectory(path);
        File.WriteAllText(Path.Combine(path, "tokenizer.model"), "tokenizer");
        File.WriteAllText(Path.Combine(path, "config.json"), "stale");
        HfWriter.Write(Llama2cReader.Read(Shared.Stories260K), path);
        Assert.Equal("tokenizer", File.ReadAllText(Path.Combine(path, "tokenizer.model")));
        Assert.Contains("\"llama\"", File.ReadAllText(Path.Combine(path, "config.json")));
        Assert.Equal(512, ModelLoader.Load(path).Config.VocabSize);
        Assert.Equal([path], Directory.GetFileSystemEntries(dir.Path));
    }
}
