using System.ComponentModel;
using System.Text.Json;
using NativeNet.Persistence;
using NativeNet.Training;
using Spectre.Console;
using Spectre.Console.Cli;

namespace NativeNet.Cli.Commands;

internal sealed class EvaluateCommand : Command<EvaluateCommand.Settings>
{
    internal sealed class Settings : CommandSettings
    {
        [CommandArgument(0, "<MODEL>")]
        [Description("A .safetensors model file written by 'nativenet train'.")]
        public string Model { get; init; } = "";

        [CommandOption("--data <DIR>")] [Description("MNIST folder (default: data/mnist at the repository root).")] public string? Data { get; init; }
        [CommandOption("--threads <N>")] [Description("Worker threads (default: all cores).")] public int Threads { get; init; } = Environment.ProcessorCount;
        [CommandOption("--json")] [Description("Print one JSON object.")] public bool Json { get; init; }
    }

    public override int Execute(CommandContext context, Settings s, CancellationToken cancellation)
    {
        CliSupport.ValidateThreads(s.Threads);
        using var backend = new Core.Backends.CpuBackend(s.Threads);
        using var net = ModelFile.Load(Path.GetFullPath(s.Model), backend);
        var data = CliSupport.LoadData(CliSupport.DataDirectory(s.Data), fetch: true, s.Json ? Console.Error : Console.Out);
        using var trainer = new SgdTrainer(net, new SgdOptions { BatchSize = 100 });
        var test = trainer.Evaluate(data.Test.Pixels, data.Test.Labels);
        if (s.Json)
            Console.WriteLine(JsonSerializer.Serialize(new { model = Path.GetFullPath(s.Model), test_accuracy = test.Accuracy, test_correct = test.Correct, test_count = test.Count, test_cost = test.MeanCost }));
        else
            AnsiConsole.MarkupLineInterpolated($"test accuracy [green]{test.Accuracy * 100:F2}%[/] ({test.Correct:N0} / {test.Count:N0}), mean cost {test.MeanCost:F4}");
        return 0;
    }
}
