using System.ComponentModel;
using System.Text.Json;
using NativeNet.Cli.Bench;
using Spectre.Console;
using Spectre.Console.Cli;

namespace NativeNet.Cli.Commands;

internal sealed class BenchPeakCommand : Command<BenchPeakCommand.Settings>
{
    internal sealed class Settings : CommandSettings
    {
        [CommandOption("--threads <N>")] [Description("Measure 1..N threads (default: all cores).")] public int Threads { get; init; } = Environment.ProcessorCount;
        [CommandOption("--seconds <S>")] [Description("Minimum timed seconds per thread count (default 1).")] public double Seconds { get; init; } = 1;
        [CommandOption("--json")] [Description("Print a JSON array instead of a table.")] public bool Json { get; init; }

        public override ValidationResult Validate()
        {
            if (Threads < 1 || Threads > Environment.ProcessorCount * 4) return ValidationResult.Error($"--threads must be between 1 and {Environment.ProcessorCount * 4}.");
            if (!(Seconds > 0 && Seconds <= 60)) return ValidationResult.Error("--seconds must be in (0, 60].");
            return ValidationResult.Success();
        }
    }

    public override int Execute(CommandContext context, Settings s, CancellationToken cancellation)
    {
        var rows = new List<(int Threads, double Gflops)>();
        for (int t = 1; t <= s.Threads && !cancellation.IsCancellationRequested; t++)
            rows.Add((t, PeakBenchmark.Measure(t, s.Seconds)));
        if (s.Json)
        {
            Console.WriteLine(JsonSerializer.Serialize(rows.Select(r => new
            {
                threads = r.Threads, vector = PeakBenchmark.VectorWidth, chains = PeakBenchmark.Chains, gflops = Math.Round(r.Gflops, 1),
                implied_ghz_per_core = Math.Round(PeakBenchmark.ImpliedGhz(r.Gflops / r.Threads), 2),
            })));
            return 0;
        }
        var table = new Table().AddColumns("threads", "vectors", "chains", "FMA peak GFLOP/s", "implied clock (2 FMA pipes)");
        foreach (var (threads, gflops) in rows)
            table.AddRow(threads.ToString(), PeakBenchmark.VectorWidth, PeakBenchmark.Chains.ToString(), gflops.ToString("F1"),
                $"{PeakBenchmark.ImpliedGhz(gflops / threads):F2} GHz a core");
        AnsiConsole.Write(table);
        return 0;
    }
}
