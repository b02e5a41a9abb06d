using Pare.Core.Formats;
using Pare.TestSupport;

namespace Pare.Core.Tests.Formats;

public class AtomicFileTests
{
    [Fact]
    public void FailedWriteLeavesTheOldFileAndNoTemporary()
    {
        using var dir = new TempDir();
        var path = dir.File("model.gguf");
        File.WriteAllText(path, "old");
        Assert.Throws<InvalidOperationException>(() => AtomicFile.Write(path, s =>
        {
            s.Write(new byte[1000]);
            throw new InvalidOperationException("disk full");
        }));
        Assert.Equal("old", File.ReadAllText(path));
        Assert.Equal([path], Directory.GetFiles(dir.Path));
    }

    [Fact]
    public void SuccessfulWriteReplacesTheFile()
    {
        using var dir = new TempDir();
        var path = dir.File("sub/model.bin");
        AtomicFile.Write(path, s => s.Write("new"u8));
        Assert.Equal("new", File.ReadAllText(path));
        Assert.Single(Directory.GetFiles(dir.File("sub")));
    }
}
