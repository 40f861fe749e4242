using System.ComponentModel;
using System.Diagnostics;
using System.Text.Json;
using NativeNet.Training;
using Spectre.Console;
using Spectre.Console.Cli;

namespace NativeNet.Cli.Commands;

/// <summary>
/// Chapter 6's ensemble: trains --count networks of one preset with seeds seed..seed+count-1 (each exactly as `train`
/// would with that seed, keeping its best-validation parameters), then classifies the test set by plurality vote.
/// </summary>
internal sealed class EnsembleCommand : Command<EnsembleCommand.Settings>
{
    internal sealed class Settings : RunSettings
    {
        [CommandOption("--count <N>")] [Description("Number of networks (default 5).")] public int Count { get; init; } = 5;
        [CommandOption("--epochs <N>")] [Description("Epochs per network (default: the preset's).")] public int? Epochs { get; init; }
        [CommandOption("--seed <N>")] [Description("Seed of the first network; network i uses seed + i (default 1).")] public int Seed { get; init; } = 1;
        [CommandOption("--out <DIR>")] [Description("Save each member's best model and checkpoint in DIR/seed-S and the result in DIR/ensemble.json.")] public string? Out { get; init; }
        [CommandOption("--json")] [Description("Print one JSON object with the members and ensemble_test_accuracy (progress goes to stderr).")] public bool Json { get; init; }

        public override ValidationResult Validate()
        {
            if (base.Validate() is { Successful: false } shared) return shared;
            if (Count is < 1 or > 100) return ValidationResult.Error("--count must be between 1 and 100.");
            if (Epochs is < 1) return ValidationResult.Error("--epochs must be at least 1.");
            return ValidationResult.Success();
        }
    }

    private static double TestAccuracy(Network net, NativeNet.Data.LabeledImages test)
    {
        using var single = new Ensemble([net]);
        return single.Evaluate(test);
    }

    private sealed record Member(int Seed, int BestEpoch, double BestValidationAccuracy, double TestAccuracy, double Seconds, string StopReason);

    public override int Execute(CommandContext context, Settings s, CancellationToken cancellation)
    {
        var plan = TrainingPlan.Resolve(s.Preset, s.Layers, epochs: s.Epochs, trainSize: s.TrainSize);
        TextWriter log = s.Json ? Console.Error : Console.Out;
        string? outDir = s.Out is null ? null : TrainingPlan.PrepareOutputDirectory(s.Out);

        var (data, training) = s.LoadTraining(plan, log);
        using var backend = s.OpenBackend();
        log.WriteLine($"{plan.Name}: {plan.Spec.Text}");
        log.WriteLine($"Ensemble of {s.Count} networks (seeds {s.Seed}..{s.Seed + s.Count - 1}) on {backend.Name}; {training.Count:N0} training images; {plan.Describe()}");

        var clock = Stopwatch.StartNew();
        var nets = new List<Network>();
        var members = new List<Member>();
        try
        {
            for (int i = 0; i < s.Count; i++)
            {
                int seed = s.Seed + i;
                var net = plan.Build(seed, backend);
                nets.Add(net);
                string? memberDir = outDir is null ? null : Path.Combine(outDir, $"seed-{seed}");
                if (memberDir is not null) Directory.CreateDirectory(memberDir);
                var session = new TrainingSession(net, plan.Spec, plan.Options(seed, training.Count, memberDir), training, data.Validation, data.Test);
                // Keep the best-validation parameters in memory (the session reports, but does not restore, them).
                float[][]? best = null;
                double bestValidation = -1;
                session.OnEpoch = r =>
                {
                    if (r.ValidationAccuracy > bestValidation) { bestValidation = r.ValidationAccuracy; best = net.ExportParameters(); }
                    log.WriteLine($"network {i + 1}/{s.Count} (seed {seed}) {TrainingPlan.EpochLine(r)}");
                };
                var result = session.Run(cancellation);
                if (result.StopReason == StopReason.Cancelled) return NativeNetApp.CancelledExitCode;
                if (best is not null) net.ImportParameters(best);
                double test = result.TestAccuracyAtBest ?? TestAccuracy(net, data.Test);
                members.Add(new Member(seed, result.BestEpoch, result.BestValidationAccuracy, test, result.Seconds, result.StopReason.ToString()));
                log.WriteLine($"network {i + 1}/{s.Count} (seed {seed}): best validation {result.BestValidationAccuracy * 100:F2}% at epoch {result.BestEpoch}, test {test * 100:F2}%");
            }

            using var ensemble = new Ensemble(nets);
            double vote = ensemble.Evaluate(data.Test);
            var summary = new
            {
                preset = plan.Name, architecture = plan.Spec.Text, count = s.Count, epochs = plan.Epochs, training_images = training.Count,
                members = members.Select(m => new
                {
                    seed = m.Seed, best_epoch = m.BestEpoch, best_validation_accuracy = m.BestValidationAccuracy, test_accuracy = m.TestAccuracy,
                    seconds = Math.Round(m.Seconds, 3), stop_reason = m.StopReason,
                }).ToArray(),
                mean_member_test_accuracy = members.Average(m => m.TestAccuracy),
                best_member_test_accuracy = members.Max(m => m.TestAccuracy),
                ensemble_test_accuracy = vote,
                seconds = Math.Round(clock.Elapsed.TotalSeconds, 3),
                @out = outDir,
            };
            if (outDir is not null)
                File.WriteAllText(Path.Combine(outDir, "ensemble.json"), JsonSerializer.Serialize(summary, new JsonSerializerOptions { WriteIndented = true }));
            if (s.Json)
            {
                Console.WriteLine(JsonSerializer.Serialize(summary));
                return 0;
            }
            var table = new Table().AddColumns("network", "seed", "best epoch", "validation", "test");
            for (int i = 0; i < members.Count; i++)
            {
                var m = members[i];
                table.AddRow((i + 1).ToString(), m.Seed.ToString(), m.BestEpoch.ToString(), $"{m.BestValidationAccuracy * 100:F2}%", $"{m.TestAccuracy * 100:F2}%");
            }
            table.AddEmptyRow();
            table.AddRow("[bold]vote[/]", "", "", "", $"[bold]{vote * 100:F2}%[/]");
            AnsiConsole.Write(table);
            Console.WriteLine($"Ensemble of {s.Count}: test {vote * 100:F2}% by plurality vote (members: mean {summary.mean_member_test_accuracy * 100:F2}%, best {summary.best_member_test_accuracy * 100:F2}%), {clock.Elapsed.TotalSeconds:F1} s." +
                              (outDir is null ? "" : $" Saved in {outDir}"));
            return 0;
        }
        finally
        {
            foreach (var n in nets) n.Dispose();
        }
    }
}
