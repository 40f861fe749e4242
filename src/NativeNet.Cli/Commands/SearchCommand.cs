using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using NativeNet.Training;
using Spectre.Console;
using Spectre.Console.Cli;

namespace NativeNet.Cli.Commands;

/// <summary>
/// Chapter 3's hyper-parameter search over eta, lambda and the mini-batch size for a preset's network: a grid of the
/// listed values, or --random N trials drawn log-uniformly from ranges. Every trial starts from the same seeded
/// network and is ranked by its best validation accuracy. --parallel N trains N trials at once, each on its own backend
/// (<see cref="Lanes"/>); the results do not depend on it.
/// </summary>
internal sealed class SearchCommand : Command<SearchCommand.Settings>
{
    internal sealed class Settings : LaneSettings
    {
        [CommandOption("--eta <LIST>")] [Description("Learning rates for the grid, comma-separated (default: the preset's).")] public string? Eta { get; init; }
        [CommandOption("--lambda <LIST>")] [Description("L2 strengths for the grid, comma-separated (default: the preset's).")] public string? Lambda { get; init; }
        [CommandOption("--batch <LIST>")] [Description("Mini-batch sizes, comma-separated (default: the preset's); random search picks from them.")] public string? Batch { get; init; }
        [CommandOption("--random <N>")] [Description("Random search: N trials with eta and lambda log-uniform in --eta-range and --lambda-range.")] public int? Random { get; init; }
        [CommandOption("--eta-range <A:B>")] [Description("Random search's eta range (default: the preset's eta / 10 : * 10).")] public string? EtaRange { get; init; }
        [CommandOption("--lambda-range <A:B>")] [Description("Random search's lambda range (default: the preset's lambda / 10 : * 10, or 0:0 when it is 0).")] public string? LambdaRange { get; init; }
        [CommandOption("--epochs <N>")] [Description("Epochs per trial (default 1).")] public int Epochs { get; init; } = 1;
        [CommandOption("--seed <N>")] [Description("Seed of every trial's network and of the random search (default 1).")] public int Seed { get; init; } = 1;
        [CommandOption("--out <DIR>")] [Description("Write the results to DIR/search.json.")] public string? Out { get; init; }
        [CommandOption("--json")] [Description("Print one JSON object with the trials, best first (progress goes to stderr).")] public bool Json { get; init; }

        public override ValidationResult Validate()
        {
            if (base.Validate() is { Successful: false } shared) return shared;
            if (Epochs < 1) return ValidationResult.Error("--epochs must be at least 1.");
            if (Random is < 1) return ValidationResult.Error("--random must be at least 1.");
            if (Random is null && (EtaRange is not null || LambdaRange is not null)) return ValidationResult.Error("--eta-range and --lambda-range need --random N.");
            if (Random is not null && (Eta is not null || Lambda is not null)) return ValidationResult.Error("--random samples --eta-range and --lambda-range; do not also give --eta or --lambda lists.");
            return ValidationResult.Success();
        }
    }

    public override int Execute(CommandContext context, Settings s, CancellationToken cancellation)
    {
        var plan = TrainingPlan.Resolve(s.Preset, s.Layers, epochs: s.Epochs, trainSize: s.TrainSize).Single();
        List<int> batches = s.Batch is null ? [plan.Batch] : ParseList<int>(s.Batch, "--batch", t => int.TryParse(t, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) ? v : (int?)null);
        IReadOnlyList<Trial> trials = s.Random is int n
            ? HyperparameterSearch.Random(n,
                s.EtaRange is null ? (plan.Eta / 10, plan.Eta * 10) : ParseRange(s.EtaRange, "--eta-range"),
                s.LambdaRange is null ? (plan.Lambda / 10, plan.Lambda * 10) : ParseRange(s.LambdaRange, "--lambda-range"),
                batches, s.Seed)
            : HyperparameterSearch.Grid(
                s.Eta is null ? [plan.Eta] : ParseList(s.Eta, "--eta", ParseFloat),
                s.Lambda is null ? [plan.Lambda] : ParseList(s.Lambda, "--lambda", ParseFloat),
                batches);

        TextWriter log = s.Json ? Console.Error : Console.Out;
        string? outDir = s.Out is null ? null : TrainingPlan.PrepareOutputDirectory(s.Out);
        var (data, training) = s.LoadTraining(plan, log);
        using var backends = s.OpenLaneBackends(s.LanesFor(trials.Count));
        log.WriteLine($"{plan.Name}: {plan.Spec.Text}");
        log.WriteLine($"{(s.Random is null ? "Grid" : "Random")} search: {trials.Count} trials of {s.Epochs} epoch{(s.Epochs == 1 ? "" : "s")} on {training.Count:N0} training images, " +
                      $"ranked by accuracy on {data.Validation.Count:N0} validation images; {backends.Name}" + (backends.Count > 1 ? $", {backends.Count} at a time" : ""));

        var clock = Stopwatch.StartNew();
        var search = new HyperparameterSearch((_, lane) => (plan.Build(s.Seed, backends[lane]), plan.Spec), plan.Options(s.Seed, training.Count, outDir: null),
            training, data.Validation, s.Epochs) { Parallel = backends.Count };
        int done = 0;
        search.OnTrial = r => log.WriteLine($"trial {++done}/{trials.Count}: eta {F(r.LearningRate)}, lambda {F(r.L2)}, m {r.BatchSize}: " +
                                            $"validation {r.BestValidationAccuracy * 100:F2}% at epoch {r.BestEpoch}, {r.Seconds:F1} s" + (r.Error is null ? "" : " (diverged)"));
        var results = search.Run(trials, cancellation);

        var summary = new
        {
            preset = plan.Name, architecture = plan.Spec.Text, kind = s.Random is null ? "grid" : "random", seed = s.Seed, epochs = s.Epochs,
            training_images = training.Count, validation_images = data.Validation.Count, seconds = Math.Round(clock.Elapsed.TotalSeconds, 3),
            trials = results.Select((r, i) => new
            {
                rank = i + 1, trial = r.Index, eta = r.LearningRate, lambda = r.L2, batch = r.BatchSize,
                best_validation_accuracy = r.BestValidationAccuracy, best_epoch = r.BestEpoch, seconds = Math.Round(r.Seconds, 3),
                stop_reason = r.StopReason.ToString(), error = r.Error,
            }).ToArray(),
        };
        if (outDir is not null)
            File.WriteAllText(Path.Combine(outDir, "search.json"), JsonSerializer.Serialize(summary, new JsonSerializerOptions { WriteIndented = true }));
        if (s.Json) Console.WriteLine(JsonSerializer.Serialize(summary));
        else
        {
            var table = new Table().AddColumns("rank", "eta", "lambda", "m", "best validation", "epoch", "seconds", "note");
            for (int i = 0; i < results.Count; i++)
            {
                var r = results[i];
                table.AddRow((i + 1).ToString(), F(r.LearningRate), F(r.L2), r.BatchSize.ToString(), $"{r.BestValidationAccuracy * 100:F2}%",
                    r.BestEpoch.ToString(), r.Seconds.ToString("F1", CultureInfo.InvariantCulture), r.Error is null ? "" : "diverged");
            }
            AnsiConsole.Write(table);
            if (results.Count > 0)
                Console.WriteLine($"Best: eta {F(results[0].LearningRate)}, lambda {F(results[0].L2)}, m {results[0].BatchSize}: validation {results[0].BestValidationAccuracy * 100:F2}%" +
                                  $" ({clock.Elapsed.TotalSeconds:F1} s{(outDir is null ? "" : $"; results in {Path.Combine(outDir, "search.json")}")})");
        }
        return results.Count < trials.Count ? NativeNetApp.CancelledExitCode : 0;
    }

    private static string F(float v) => v.ToString("G4", CultureInfo.InvariantCulture);

    private static float? ParseFloat(string t) =>
        float.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out float v) && float.IsFinite(v) ? v : null;

    private static List<T> ParseList<T>(string text, string option, Func<string, T?> parse) where T : struct
    {
        var values = new List<T>();
        foreach (var part in text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            values.Add(parse(part) ?? throw new ArgumentException($"{option}: '{part}' is not a number (expected a comma-separated list like 0.01,0.1,1)."));
        if (values.Count == 0) throw new ArgumentException($"{option} needs at least one value.");
        return values;
    }

    private static (float, float) ParseRange(string text, string option)
    {
        var parts = text.Split(':', StringSplitOptions.TrimEntries);
        if (parts.Length != 2 || ParseFloat(parts[0]) is not float lo || ParseFloat(parts[1]) is not float hi)
            throw new ArgumentException($"{option}: '{text}' is not a range low:high such as 0.01:1.");
        return (lo, hi);
    }
}
