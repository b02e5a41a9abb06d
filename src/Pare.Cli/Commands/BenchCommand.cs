using System.CommandLine;

namespace Pare.Cli.Commands;

/// <summary>pare bench: speed measurements.</summary>
public static class BenchCommand
{
    public static Command Create()
    {
        var bench = new Command("bench", "Measure speed");
        bench.Subcommands.Add(BenchSpeculativeCommand.Create());
        bench.Subcommands.Add(BenchSpeculativeCostCommand.Create());
        return bench;
    }
}
