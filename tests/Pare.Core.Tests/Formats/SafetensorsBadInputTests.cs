using System.Text;
using System.Text.Json.Nodes;
using Pare.Core.Formats;
using Pare.Core.Formats.Safetensors;
using Pare.TestSupport;

namespace Pare.Core.Tests.Formats;

/// <summary>Corrupt safetensors files and HF folders fail with a message naming the file and the problem.</summary>
public class SafetensorsBadInputTests
{
    /// <summary>A safetensors file with the given header text and data bytes.</summary>
    private static string Make(TempDir dir, string header, int dataBytes = 24, ulong? claimedLength = null)
    {
        var h = Encoding.UTF8.GetBytes(header);
        var bytes = BitConverter.GetBytes(claimedLength ?? (ulong)h.Length).Concat(h).Concat(new byte[dataBytes]).ToArray();
        var path = dir.File("x.safetensors");
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private static void Fails(string path, string expected)
    {
        var e = Assert.Throws<PareFormatException>(() => SafetensorsFile.Open(path));
        Assert.Contains(path, e.Message);
        Assert.Contains(expected, e.Message);
    }

    private const string Good = """{"a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]}}""";

    [Fact]
    public void WellFormedFileOpens()
    {
        using var dir = new TempDir();
        Assert.Equal(new long[] { 2, 3 }, SafetensorsFile.Open(Make(dir, Good))["a"].Shape);
    }

    [Fact]
    public void MissingFile() => Fails("/nonexistent/x.safetensors", "not found");

    [Fact]
    public void TooShortForTheLength()
    {
        using var dir = new TempDir();
        File.WriteAllBytes(dir.File("x.safetensors"), [1, 2, 3]);
        Fails(dir.File("x.safetensors"), "truncated");
    }

    [Fact]
    public void AbsurdHeaderLength()
    {
        using var dir = new TempDir();
        Fails(Make(dir, Good, claimedLength: 1UL << 60), "header claims");
    }

    [Theory]
    [InlineData("""{"a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]}""", "malformed")]
    [InlineData("""[1,2,3]""", "not an object")]
    [InlineData("""{"a":{"dtype":"F32","shape":[2,3]}}""", "data_offsets")]
    [InlineData("""{"a":{"dtype":"F8_E4M3","shape":[2,3],"data_offsets":[0,6]}}""", "dtype F8_E4M3")]
    [InlineData("""{"a":{"dtype":"F32","shape":[-2,3],"data_offsets":[0,24]}}""", "non-negative")]
    [InlineData("""{"a":{"dtype":"F32","shape":[2,3],"data_offsets":[24,0]}}""", "end before they begin")]
    [InlineData("""{"a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,48]}}""", "outside the data section")]
    [InlineData("""{"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,24]}}""", "need 16")]
    [InlineData("""{"a":{"dtype":"F32","shape":[4000000000,4000000000,4000000000],"data_offsets":[0,24]}}""", "absurd shape")]
    [InlineData("""{"a":{"dtype":"F32","shape":[2,1],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[4],"data_offsets":[4,20]}}""", "overlap")]
    public void MalformedHeaders(string header, string expected)
    {
        using var dir = new TempDir();
        Fails(Make(dir, header), expected);
    }

    [Fact]
    public void HeaderLengthOneByteShortIsRefused()
    {
        // The header is padded with a space, so one byte less still parses; the data then starts a byte early.
        using var dir = new TempDir();
        var path = Make(dir, Good + " ", claimedLength: (ulong)Good.Length);
        Fails(path, "the tensors cover 24 bytes of data, the data section after the JSON header has 25");
    }

    [Fact]
    public void BytesBetweenTensorsAreRefused()
    {
        using var dir = new TempDir();
        const string gap = """{"a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},"b":{"dtype":"F32","shape":[1],"data_offsets":[28,32]}}""";
        Fails(Make(dir, gap, dataBytes: 32), "4 bytes between tensors 'a' and 'b'");
    }

    [Fact]
    public void DataThatDoesNotStartAtZeroIsRefused()
    {
        using var dir = new TempDir();
        const string late = """{"a":{"dtype":"F32","shape":[2,3],"data_offsets":[8,32]}}""";
        Fails(Make(dir, late, dataBytes: 32), "expected 0");
    }

    [Fact]
    public void WrittenModelsTileTheirDataExactly()
    {
        // Pare's own writer (and the reference implementation) leave no gap: what it writes must pass the check.
        using var dir = new TempDir();
        HfWriter.Write(Llama2cReader.Read(Shared.Stories260K), dir.Path);
        var bytes = File.ReadAllBytes(dir.File("model.safetensors"));
        Assert.Equal(5 * 9 + 2, SafetensorsFile.Open(dir.File("model.safetensors")).Names.Count);
        // The same file one header byte short (its header ends in padding) no longer opens.
        ulong length = BitConverter.ToUInt64(bytes, 0);
        if (bytes[8 + (int)length - 1] == (byte)' ')
        {
            BitConverter.GetBytes(length - 1).CopyTo(bytes, 0);
            File.WriteAllBytes(dir.File("model.safetensors"), bytes);
            Fails(dir.File("model.safetensors"), "data section");
        }
    }

    [Theory]
    [InlineData("hidden_size", "4611686018427387904", "out of range")]
    [InlineData("hidden_size", "18446744073709551616", "out of range")]
    [InlineData("hidden_size", "64.5", "not an integer")]
    [InlineData("hidden_size", "\"64\"", "not an integer")]
    [InlineData("eos_token_id", "true", "not an integer")]
    [InlineData("eos_token_id", "1.5", "not an integer")]
    [InlineData("eos_token_id", "18446744073709551616", "out of range")]
    [InlineData("eos_token_id", "512", "out of range: the vocabulary has 512 tokens")]
    [InlineData("bos_token_id", "-1", "out of range")]
    [InlineData("eos_token_id", "[2, 1.5]", "not an integer")]
    public void ConfigValuesOutOfRangeAreNamed(string key, string value, string expected)
    {
        using var dir = new TempDir();
        HfWriter.Write(Llama2cReader.Read(Shared.Stories260K), dir.Path);
        var config = JsonNode.Parse(File.ReadAllText(dir.File("config.json")))!;
        config[key] = JsonNode.Parse(value);
        File.WriteAllText(dir.File("config.json"), config.ToJsonString());
        var e = Assert.Throws<PareFormatException>(() => ModelLoader.Load(dir.Path));
        Assert.Contains("config.json", e.Message);
        Assert.Contains($"\"{key}\"", e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Theory]
    [InlineData("eos_token_id", "null")]
    [InlineData("eos_token_id", "[2, 1]")]
    [InlineData("bos_token_id", "1")]
    public void ConfigTokenIdsInRangeLoad(string key, string value)
    {
        using var dir = new TempDir();
        HfWriter.Write(Llama2cReader.Read(Shared.Stories260K), dir.Path);
        var config = JsonNode.Parse(File.ReadAllText(dir.File("config.json")))!;
        config[key] = JsonNode.Parse(value);
        File.WriteAllText(dir.File("config.json"), config.ToJsonString());
        Assert.Equal(512, ModelLoader.Load(dir.Path).Config.VocabSize);
    }

    [Fact]
    public void TruncatedModelInAFolderNamesTheFile()
    {
        using var dir = new TempDir();
        HfWriter.Write(Llama2cReader.Read(Shared.Stories260K), dir.Path);
        var weights = dir.File("model.safetensors");
        var bytes = File.ReadAllBytes(weights);
        File.WriteAllBytes(weights, bytes[..(bytes.Length - 100)]);
        var e = Assert.Throws<PareFormatException>(() => ModelLoader.Load(dir.Path));
        Assert.Contains(weights, e.Message);
        Assert.Contains("outside the data section", e.Message);
    }

    [Fact]
    public void FolderWithoutConfigOrWeights()
    {
        using var dir = new TempDir();
        var e = Assert.Throws<PareFormatException>(() => ModelLoader.Load(dir.Path));
        Assert.Contains("config.json", e.Message);
        HfWriter.Write(Llama2cReader.Read(Shared.Stories260K), dir.Path);
        File.Delete(dir.File("model.safetensors"));
        e = Assert.Throws<PareFormatException>(() => ModelLoader.Load(dir.Path));
        Assert.Contains("model.safetensors", e.Message);
    }

    [Fact]
    public void ConfigThatDisagreesWithTheTensors()
    {
        using var dir = new TempDir();
        HfWriter.Write(Llama2cReader.Read(Shared.Stories260K), dir.Path);
        var config = JsonNode.Parse(File.ReadAllText(dir.File("config.json")))!;
        config["intermediate_size"] = 100;
        File.WriteAllText(dir.File("config.json"), config.ToJsonString());
        var e = Assert.Throws<PareFormatException>(() => ModelLoader.Load(dir.Path));
        Assert.Contains("mlp.gate_proj", e.Message);
        File.WriteAllText(dir.File("config.json"), "{ not json");
        e = Assert.Throws<PareFormatException>(() => ModelLoader.Load(dir.Path));
        Assert.Contains("malformed JSON", e.Message);
        Assert.Contains("config.json", e.Message);
    }

    [Fact]
    public void RandomHeaderCorruptionNeverEscapesAsAnotherException()
    {
        // Overwrite characters of the JSON header and of config.json (seeded): each folder must load or fail with
        // PareFormatException, never crash or throw another exception type.
        using var dir = new TempDir();
        HfWriter.Write(Llama2cReader.Read(Shared.Stories260K), dir.Path);
        var weights = File.ReadAllBytes(dir.File("model.safetensors"));
        var config = File.ReadAllBytes(dir.File("config.json"));
        int headerEnd = 8 + (int)BitConverter.ToUInt64(weights, 0);
        var rng = new Random(5);
        const string alphabet = "0123456789{}[]:,\" -.eEFBI";
        for (int trial = 0; trial < 100; trial++)
        {
            var w = (byte[])weights.Clone();
            var c = (byte[])config.Clone();
            for (int k = 0; k < 2; k++) w[rng.Next(8, headerEnd)] = (byte)alphabet[rng.Next(alphabet.Length)];
            if (trial % 4 == 0) c[rng.Next(c.Length)] = (byte)alphabet[rng.Next(alphabet.Length)];
            File.WriteAllBytes(dir.File("model.safetensors"), w);
            File.WriteAllBytes(dir.File("config.json"), c);
            try { ModelLoader.Load(dir.Path); }
            catch (PareFormatException e) { Assert.Contains(dir.Path, e.Message); }
        }
    }
}
