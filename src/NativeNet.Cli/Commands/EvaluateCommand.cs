using System.ComponentModel;
using System.Text.Json;
using NativeNet.Persistence;
using NativeNet.Training;
using Spectre.Console;
using Spectre.Console.Cli;

namespace NativeNet.Cli.Commands;

/// <summary>
/// Test accuracy of one saved model, or of several voting as an ensemble (chapter 6's plurality vote, <see cref="Ensemble"/>):
/// models trained separately, possibly with different architectures, combined after the fact.
/// </summary>
internal sealed class EvaluateCommand : Command<EvaluateCommand.Settings>
{
    internal sealed class Settings : CommandSettings
    {
        [CommandArgument(0, "<MODEL>")]
        [Description("One or more model files (.safetensors written by 'nativenet train', or .onnx); with several, they vote and the ensemble's accuracy is reported too.")]
        public string[] Models { get; init; } = [];

        [CommandOption("--data <DIR>")] [Description("MNIST folder (default: data/mnist at the repository root).")] public string? Data { get; init; }
        [CommandOption("--threads <N>")] [Description("Worker threads (default: all cores).")] public int Threads { get; init; } = Environment.ProcessorCount;
        [CommandOption("--json")] [Description("Print one JSON object.")] public bool Json { get; init; }
    }

    public override int Execute(CommandContext context, Settings s, CancellationToken cancellation)
    {
        CliSupport.ValidateThreads(s.Threads);
        using var backend = new Core.Backends.CpuBackend(s.Threads);
        var paths = s.Models.Select(Path.GetFullPath).ToArray();
        var members = new List<Network>();
        try
        {
            foreach (var path in paths) members.Add(ModelFiles.Load(path, backend));
            for (int i = 1; i < members.Count; i++)
                if (members[i].InputSize != members[0].InputSize || members[i].OutputSize != members[0].OutputSize)
                    throw new ArgumentException($"{paths[i]} maps {members[i].InputSize} inputs to {members[i].OutputSize} outputs, but {paths[0]} maps {members[0].InputSize} to {members[0].OutputSize}: models that vote together must agree.");
            var data = CliSupport.LoadData(CliSupport.DataDirectory(s.Data), fetch: true, s.Json ? Console.Error : Console.Out);
            var results = new List<(string Model, Evaluation Test)>();
            for (int i = 0; i < members.Count; i++)
            {
                using var trainer = new SgdTrainer(members[i], new SgdOptions { BatchSize = 100 });
                results.Add((paths[i], trainer.Evaluate(data.Test.Pixels, data.Test.Labels)));
            }
            double? vote = null;
            if (members.Count > 1)
            {
                using var ensemble = new Ensemble(members);
                vote = ensemble.Evaluate(data.Test);
            }
            Report(s.Json, results, vote);
            return 0;
        }
        finally
        {
            foreach (var m in members) m.Dispose();
        }
    }

    private static void Report(bool json, List<(string Model, Evaluation Test)> results, double? vote)
    {
        var (model, test) = results[0];
        if (json && vote is null)
            Console.WriteLine(JsonSerializer.Serialize(new { model, test_accuracy = test.Accuracy, test_correct = test.Correct, test_count = test.Count, test_cost = test.MeanCost }));
        else if (json)
            Console.WriteLine(JsonSerializer.Serialize(new
            {
                members = results.Select(r => new { model = r.Model, test_accuracy = r.Test.Accuracy, test_correct = r.Test.Correct, test_cost = r.Test.MeanCost }),
                test_count = test.Count,
                ensemble_test_accuracy = vote,
            }));
        else
        {
            foreach (var r in results)
                AnsiConsole.MarkupLineInterpolated($"{(vote is null ? "" : Path.GetFileName(Path.GetDirectoryName(r.Model)) + "/" + Path.GetFileName(r.Model) + ": ")}test accuracy [green]{r.Test.Accuracy * 100:F2}%[/] ({r.Test.Correct:N0} / {r.Test.Count:N0}), mean cost {r.Test.MeanCost:F4}");
            if (vote is double v)
                AnsiConsole.MarkupLineInterpolated($"plurality vote of {results.Count} models: test accuracy [green]{v * 100:F2}%[/] ({Math.Round(v * test.Count):N0} / {test.Count:N0})");
        }
    }
}
