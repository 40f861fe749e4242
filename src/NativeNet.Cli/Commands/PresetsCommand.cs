using System.ComponentModel;
using System.Text.Json;
using NativeNet.Training;
using Spectre.Console;
using Spectre.Console.Cli;

namespace NativeNet.Cli.Commands;

internal sealed class PresetsCommand : Command<PresetsCommand.Settings>
{
    internal sealed class Settings : CommandSettings
    {
        [CommandOption("--json")] [Description("Print a JSON array instead of a table.")] public bool Json { get; init; }
    }

    public override int Execute(CommandContext context, Settings s, CancellationToken cancellation)
    {
        if (s.Json)
        {
            Console.WriteLine(JsonSerializer.Serialize(Presets.All.Select(p => new
            {
                name = p.Name, chapter = p.Chapter, description = p.Description, architecture = p.Architecture, init = p.Init.ToString(),
                book_accuracy = p.BookAccuracy, book_metric = p.BookMetric, epochs = p.Epochs, batch = p.BatchSize, eta = p.LearningRate,
                lambda = p.L2, momentum = p.Momentum, expand = p.Expand, shuffle = p.Shuffle, training_images = p.TrainingImages,
                ensemble = p.Ensemble, layer_speed = p.LayerSpeed,
            })));
            return 0;
        }
        var table = new Table().AddColumn(new TableColumn("name").NoWrap()).AddColumns("ch", "description", "book accuracy", "epochs", "m", "eta", "lambda", "expand");
        foreach (var p in Presets.All)
            table.AddRow(Markup.Escape(p.Ensemble > 1 ? $"{p.Name} (ensemble)" : p.Name), p.Chapter.ToString(), Markup.Escape(p.Description), Markup.Escape($"{p.BookAccuracy:F2}% {p.BookMetric}"),
                p.Epochs.ToString(), p.BatchSize.ToString(), p.LearningRate.ToString("G"), p.L2.ToString("G"), p.Expand ? "yes" : "");
        AnsiConsole.Write(table);
        return 0;
    }
}
