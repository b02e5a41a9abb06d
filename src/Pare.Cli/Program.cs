using System.CommandLine;
using Pare.Cli;
using Pare.Cli.Commands;

var root = new RootCommand("Pare: load, compress, accelerate and measure decoder-only language models");
root.Options.Add(CliContext.Json);
foreach (var command in new[]
{
    InfoCommand.Create(),
    GenerateCommand.Create(),
    PruneCommand.Create(),
    EvalCommand.Create(),
    ConvertCommand.Create(),
    SynthCommand.Create(),
    BenchCommand.Create(),
})
    root.Subcommands.Add(command);

return root.Parse(args).Invoke();
