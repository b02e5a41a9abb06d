using System.CommandLine;
using Pare.Core;
using Pare.Core.Formats;
using Pare.Core.Tokenizers;

namespace Pare.Cli;

/// <summary>The --model / --tokenizer / --threads options several commands take, and how they resolve.</summary>
public sealed class ModelOptions
{
    public Option<string> Model { get; } = new("--model") { Description = "Model file or folder (llama2.c .bin, GGUF, safetensors/HF folder)", Required = true };
    public Option<string?> Tokenizer { get; } = new("--tokenizer") { Description = "Tokenizer file (default: the one embedded in or beside the model)" };
    public Option<int> Threads { get; } = new("--threads") { Description = "Worker threads", DefaultValueFactory = _ => 1 };

    public void AddTo(Command command, bool tokenizer = true, bool threads = true)
    {
        command.Options.Add(Model);
        if (tokenizer) command.Options.Add(Tokenizer);
        if (threads) command.Options.Add(Threads);
    }

    public Checkpoint LoadModel(ParseResult parse) => ModelLoader.Load(parse.GetValue(Model)!);

    public ITokenizer LoadTokenizer(ParseResult parse, Checkpoint model)
    {
        var path = parse.GetValue(Tokenizer);
        var tokenizer = path != null
            ? TokenizerLoader.Load(path, model.Config.VocabSize)
            : TokenizerLoader.FindFor(model) ?? throw new ArgumentException($"{model.Source}: no tokenizer embedded in or beside the model; pass --tokenizer");
        if (tokenizer.VocabSize != model.Config.VocabSize)
            throw new ArgumentException($"{path ?? model.Source}: tokenizer has {tokenizer.VocabSize} tokens, the model's vocabulary has {model.Config.VocabSize}");
        return tokenizer;
    }
}
