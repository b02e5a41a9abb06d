using System.Buffers.Binary;
using System.Text;

namespace Pare.Core.Tokenizers;

/// <summary>
/// Reads a SentencePiece <c>tokenizer.model</c> (a protobuf ModelProto, sentencepiece_model.proto) into a
/// <see cref="VocabularyData"/>: the pieces with their scores and types, the special ids from the trainer spec and the
/// dummy-prefix setting from the normalizer spec. Only what BPE encoding needs is read; other fields are skipped.
/// Microsoft.ML.Tokenizers reads these files too but does not expose the scores, and its 2.0.1 encoder breaks ties
/// between equal-score merges differently from SentencePiece (see the tokenizer tests), hence this reader.
/// </summary>
public static class SentencePieceModelReader
{
    // Field numbers from sentencepiece_model.proto.
    private const int ModelPieces = 1, ModelTrainerSpec = 2, ModelNormalizerSpec = 3;
    private const int PieceText = 1, PieceScore = 2, PieceType = 3;
    private const int TrainerModelType = 3, TrainerUnkId = 40, TrainerBosId = 41, TrainerEosId = 42;
    private const int NormalizerName = 1, NormalizerAddDummyPrefix = 3, NormalizerRemoveExtraWhitespaces = 4, NormalizerEscapeWhitespaces = 5;
    private const int ModelTypeBpe = 2;

    public static VocabularyData Read(string path)
    {
        if (!File.Exists(path)) throw new PareFormatException(path, "tokenizer file not found");
        var data = File.ReadAllBytes(path);
        var pieces = new List<string>();
        var scores = new List<float>();
        var types = new List<int>();
        int modelType = 1, unk = 0, bos = 1, eos = 2; // proto defaults: UNIGRAM, unk 0, bos 1, eos 2
        bool addDummyPrefix = true, removeExtraWhitespaces = true, escapeWhitespaces = true;
        string normalizer = "";

        var model = new ProtoReader(data, path);
        while (model.Next(out int field, out int wire))
        {
            if (field == ModelPieces && wire == ProtoReader.WireLengthDelimited)
            {
                var piece = model.Message();
                string text = "";
                float score = 0;
                int type = 1; // NORMAL
                while (piece.Next(out int f, out int w))
                {
                    if (f == PieceText && w == ProtoReader.WireLengthDelimited) text = Encoding.UTF8.GetString(piece.Bytes());
                    else if (f == PieceScore && w == ProtoReader.WireFixed32) score = piece.Float();
                    else if (f == PieceType && w == ProtoReader.WireVarint) type = (int)piece.Varint();
                    else piece.Skip(w);
                }
                pieces.Add(text);
                scores.Add(score);
                types.Add(type);
            }
            else if (field == ModelTrainerSpec && wire == ProtoReader.WireLengthDelimited)
            {
                var spec = model.Message();
                while (spec.Next(out int f, out int w))
                {
                    if (w != ProtoReader.WireVarint) { spec.Skip(w); continue; }
                    int value = (int)spec.Varint(); // int32 fields: negative values are sign-extended varints
                    switch (f)
                    {
                        case TrainerModelType: modelType = value; break;
                        case TrainerUnkId: unk = value; break;
                        case TrainerBosId: bos = value; break;
                        case TrainerEosId: eos = value; break;
                    }
                }
            }
            else if (field == ModelNormalizerSpec && wire == ProtoReader.WireLengthDelimited)
            {
                var spec = model.Message();
                while (spec.Next(out int f, out int w))
                {
                    if (f == NormalizerName && w == ProtoReader.WireLengthDelimited) normalizer = Encoding.UTF8.GetString(spec.Bytes());
                    else if (w != ProtoReader.WireVarint) spec.Skip(w);
                    else
                    {
                        bool value = spec.Varint() != 0;
                        if (f == NormalizerAddDummyPrefix) addDummyPrefix = value;
                        else if (f == NormalizerRemoveExtraWhitespaces) removeExtraWhitespaces = value;
                        else if (f == NormalizerEscapeWhitespaces) escapeWhitespaces = value;
                    }
                }
            }
            else model.Skip(wire);
        }

        if (pieces.Count == 0) throw new PareFormatException(path, "not a SentencePiece model: no pieces");
        if (modelType != ModelTypeBpe)
            throw new PareFormatException(path, $"SentencePiece model type {modelType} is not BPE (2); Pare encodes BPE models only");
        // Pare implements the identity normalizer with whitespace escaping (Llama's settings); refuse others rather than mis-encode.
        if (removeExtraWhitespaces || !escapeWhitespaces || normalizer is not ("" or "identity"))
            throw new PareFormatException(path, $"SentencePiece normalizer '{normalizer}' (remove_extra_whitespaces={removeExtraWhitespaces}, escape_whitespaces={escapeWhitespaces}) is not supported; Pare handles 'identity' with escaped, kept whitespace");
        foreach (var (name, id) in new[] { ("unk_id", unk), ("bos_id", bos), ("eos_id", eos) })
            if (id >= pieces.Count)
                throw new PareFormatException(path, $"{name} {id} is outside the vocabulary of {pieces.Count} pieces");

        return new VocabularyData
        {
            Kind = VocabularyKind.SentencePieceBpe,
            Tokens = pieces.ToArray(),
            Scores = scores.ToArray(),
            TokenTypes = types.ToArray(),
            BosId = bos,
            EosId = eos,
            UnknownId = unk,
            AddBos = true,
            AddSpacePrefix = addDummyPrefix,
            Source = path,
        };
    }

    /// <summary>A bounds-checked cursor over protobuf wire format.</summary>
    private sealed class ProtoReader(ReadOnlyMemory<byte> data, string path)
    {
        public const int WireVarint = 0, WireFixed64 = 1, WireLengthDelimited = 2, WireFixed32 = 5;
        private int _pos;

        public bool Next(out int field, out int wire)
        {
            field = wire = 0;
            if (_pos >= data.Length) return false;
            ulong key = ReadVarint();
            field = (int)(key >> 3);
            wire = (int)(key & 7);
            if (field == 0) throw Corrupt("field number 0");
            return true;
        }

        public ulong Varint() => ReadVarint();

        public float Float() => BinaryPrimitives.ReadSingleLittleEndian(Take(4).Span);

        public ReadOnlySpan<byte> Bytes() => Take(Length()).Span;

        public ProtoReader Message() => new(Take(Length()), path);

        public void Skip(int wire)
        {
            switch (wire)
            {
                case WireVarint: ReadVarint(); break;
                case WireFixed64: Take(8); break;
                case WireLengthDelimited: Take(Length()); break;
                case WireFixed32: Take(4); break;
                default: throw Corrupt($"unsupported wire type {wire}");
            }
        }

        private int Length()
        {
            ulong n = ReadVarint();
            if (n > (ulong)(data.Length - _pos)) throw Corrupt($"a field claims {n} bytes, {data.Length - _pos} remain");
            return (int)n;
        }

        private ReadOnlyMemory<byte> Take(int n)
        {
            if (n > data.Length - _pos) throw Corrupt($"truncated: {n} bytes needed, {data.Length - _pos} remain");
            var slice = data.Slice(_pos, n);
            _pos += n;
            return slice;
        }

        private ulong ReadVarint()
        {
            ulong value = 0;
            for (int shift = 0; shift < 64; shift += 7)
            {
                if (_pos >= data.Length) throw Corrupt("truncated varint");
                byte b = data.Span[_pos++];
                value |= (ulong)(b & 0x7F) << shift;
                if ((b & 0x80) == 0) return value;
            }
            throw Corrupt("varint longer than 10 bytes");
        }

        private PareFormatException Corrupt(string problem) => new(path, $"not a SentencePiece model (protobuf): {problem}");
    }
}
