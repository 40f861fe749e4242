using System.ComponentModel;
using NativeNet.Data;
using Spectre.Console.Cli;

namespace NativeNet.Cli.Commands;

internal sealed class DataFetchCommand : Command<DataFetchCommand.Settings>
{
    internal sealed class Settings : CommandSettings
    {
        [CommandOption("--data <DIR>")] [Description("Target folder (default: data/mnist at the repository root).")] public string? Data { get; init; }
    }

    public override int Execute(CommandContext context, Settings s, CancellationToken cancellation)
    {
        string dir = CliSupport.DataDirectory(s.Data);
        var outcome = MnistFetcher.EnsureMnist(dir, new Progress(), null);
        Console.WriteLine(outcome == MnistFetchOutcome.AlreadyPresent ? $"MNIST already present in {dir} (hashes checked)." : $"MNIST fetched into {dir}.");
        return 0;
    }

    private sealed class Progress : IProgress<string>
    {
        public void Report(string value) => Console.WriteLine(value);
    }
}
