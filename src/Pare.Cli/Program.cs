using System.CommandLine;
using Pare.Cli;
using Pare.Cli.Commands;

var root = new RootCommand("Pare: load, compress, accelerate and measure decoder-only language models");
root.Options.Add(CliContext.Json);
root.Options.Add(CliContext.Verbose);
foreach (var command in new[]
{
    InfoCommand.Create(),
    GenerateCommand.Create(),
    PruneCommand.Create(),
    TrainCommand.Create(),
    PruneBlocksCommand.Create(),
    RouteCommand.Create(),
    RecoverCommand.Create(),
    QuantizeCommand.Create(),
    PlotCommand.Create(),
    EvalCommand.Create(),
    ConvertCommand.Create(),
    SynthCommand.Create(),
    BenchCommand.Create(),
})
    root.Subcommands.Add(command);

var parsed = root.Parse(args);
// Scripts that asked for JSON get parse errors (unknown option, bad value) as one JSON object too.
if (parsed.Errors.Count > 0 && args.Contains("--json"))
    return CliContext.ReportParseErrors(parsed);
return parsed.Invoke();
