using System.Buffers.Binary;
using System.Text;

namespace Pare.Core.Tests.Fuzzing;

/// <summary>A header field a mutation can target: its byte offset, width (1, 4 or 8) and whether it holds an offset into the file.</summary>
public readonly record struct Field(int Offset, int Width, string Name, bool IsOffset = false);

/// <summary>
/// Seeded mutations of one file (SplitMix64, so a case is reproduced from its seed alone on any runtime):
/// truncations, byte flips and inserted/deleted bytes (mostly in the header, where the reader's decisions are made),
/// header fields set to 0 / −1 / int.MinValue / 2^31−1 / 2^62 and the like, offsets past the end, and for JSON text
/// token-level edits (numbers replaced by out-of-range, fractional, boolean or string values; brackets broken).
/// </summary>
public sealed class Mutator(ulong seed)
{
    private ulong _state = seed;

    private static readonly long[] Interesting =
        [0, 1, -1, 2, int.MinValue, int.MaxValue, (long)int.MaxValue + 1, uint.MaxValue, 1L << 32, 1L << 40, 1L << 62, long.MaxValue, long.MinValue, 255, 256, 65535, 65536];

    private static readonly string[] JsonReplacements =
        ["0", "-1", "-2147483648", "2147483647", "2147483648", "4611686018427387904", "18446744073709551616", "1.5", "1e400", "-0", "true", "false", "null", "\"x\"", "\"\"", "[]", "{}", "[0]", "[1, 2, 3]"];

    public ulong Next()
    {
        ulong z = _state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    public int Below(int n) => n <= 0 ? 0 : (int)(Next() % (ulong)n);

    private bool Chance(int percent) => Below(100) < percent;

    /// <summary>A mutated copy of <paramref name="original"/> and a description of what was done, for failure messages.</summary>
    public (byte[] Bytes, string What) Mutate(byte[] original, int headerBytes, IReadOnlyList<Field> fields, bool isJson)
    {
        var bytes = original;
        var what = new List<string>();
        int rounds = Chance(75) ? 1 : 1 + Below(3);
        for (int r = 0; r < rounds; r++)
        {
            if (isJson && Chance(70))
            {
                bytes = MutateJson(bytes, what);
                continue;
            }
            int header = Math.Max(1, Math.Min(headerBytes, bytes.Length));
            switch (Below(fields.Count > 0 ? 7 : 5))
            {
                case 0: // truncation, mostly inside the header
                    {
                        int at = Chance(60) ? Below(header + 1) : Below(bytes.Length + 1);
                        bytes = bytes[..Math.Min(at, bytes.Length)];
                        what.Add($"truncate to {bytes.Length}");
                        break;
                    }
                case 1: // byte flips
                    {
                        bytes = (byte[])bytes.Clone();
                        int flips = 1 + Below(4);
                        for (int i = 0; i < flips && bytes.Length > 0; i++)
                        {
                            int at = Chance(70) ? Below(Math.Min(header, bytes.Length)) : Below(bytes.Length);
                            byte mask = (byte)(1 << Below(8));
                            if (Chance(30)) mask = (byte)(1 + Below(255));
                            bytes[at] ^= mask;
                            what.Add($"flip 0x{mask:x2} at {at}");
                        }
                        break;
                    }
                case 2: // an aligned int32/int64 in the header set to an interesting value
                    {
                        int width = Chance(50) ? 4 : 8;
                        int at = Below(Math.Max(1, Math.Min(header, bytes.Length) / width)) * width;
                        bytes = SetInteger(bytes, at, width, Interesting[Below(Interesting.Length)], what);
                        break;
                    }
                case 3: // bytes inserted into or deleted from the header
                    {
                        int at = Below(Math.Min(header, bytes.Length) + 1);
                        int n = 1 + Below(16);
                        if (Chance(50))
                        {
                            var insert = new byte[n];
                            for (int i = 0; i < n; i++) insert[i] = (byte)Next();
                            bytes = [.. bytes.AsSpan(0, at), .. insert, .. bytes.AsSpan(at)];
                            what.Add($"insert {n} bytes at {at}");
                        }
                        else
                        {
                            n = Math.Min(n, bytes.Length - at);
                            bytes = [.. bytes.AsSpan(0, at), .. bytes.AsSpan(at + n)];
                            what.Add($"delete {n} bytes at {at}");
                        }
                        break;
                    }
                case 4: // appended bytes
                    {
                        int n = 1 + Below(64);
                        bytes = [.. bytes, .. new byte[n]];
                        what.Add($"append {n} bytes");
                        break;
                    }
                default: // a known header field
                    {
                        var f = fields[Below(fields.Count)];
                        long value = f.IsOffset && Chance(50)
                            ? original.Length + (Chance(50) ? Below(64) : (long)Next() % (1L << 40))
                            : Interesting[Below(Interesting.Length)];
                        if (Chance(20)) value = (long)(Next() >> Below(64));
                        if (f.Offset + f.Width <= bytes.Length)
                        {
                            bytes = SetInteger(bytes, f.Offset, f.Width, value, what);
                            what[^1] += $" ({f.Name})";
                        }
                        break;
                    }
            }
        }
        return (bytes, string.Join("; ", what));
    }

    private static byte[] SetInteger(byte[] bytes, int at, int width, long value, List<string> what)
    {
        if (at + width > bytes.Length) return bytes;
        bytes = (byte[])bytes.Clone();
        switch (width)
        {
            case 1: bytes[at] = (byte)value; break;
            case 4: BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(at), (int)value); break;
            default: BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(at), value); break;
        }
        what.Add($"set {width} bytes at {at} to {value}");
        return bytes;
    }

    private byte[] MutateJson(byte[] bytes, List<string> what)
    {
        var text = Encoding.UTF8.GetString(bytes);
        if (text.Length == 0) return bytes;
        switch (Below(5))
        {
            case 0:
            case 1: // replace a number, literal or string value
                {
                    var values = new List<(int Start, int Length)>();
                    for (int i = 0; i < text.Length; i++)
                    {
                        if (char.IsAsciiDigit(text[i]) || text[i] == '-' || text[i] is 't' or 'f' or 'n' && i > 0 && text[i - 1] is ':' or ' ' or '[' or ',')
                        {
                            int j = i;
                            while (j < text.Length && (char.IsAsciiLetterOrDigit(text[j]) || text[j] is '-' or '+' or '.')) j++;
                            if (j > i) values.Add((i, j - i));
                            i = j;
                        }
                    }
                    if (values.Count == 0) goto default;
                    var (start, length) = values[Below(values.Count)];
                    var replacement = JsonReplacements[Below(JsonReplacements.Length)];
                    what.Add($"json value at {start} '{text.Substring(start, length)}' -> {replacement}");
                    text = string.Concat(text.AsSpan(0, start), replacement, text.AsSpan(start + length));
                    break;
                }
            case 2: // delete a character
                {
                    int at = Below(text.Length);
                    what.Add($"json delete '{text[at]}' at {at}");
                    text = text.Remove(at, 1);
                    break;
                }
            case 3: // insert structure
                {
                    int at = Below(text.Length + 1);
                    var insert = "{}[]:,\"0-e."[Below(11)].ToString();
                    what.Add($"json insert '{insert}' at {at}");
                    text = text.Insert(at, insert);
                    break;
                }
            default: // truncate the text
                {
                    int at = Below(text.Length);
                    what.Add($"json truncate to {at} chars");
                    text = text[..at];
                    break;
                }
        }
        return Encoding.UTF8.GetBytes(text);
    }
}
