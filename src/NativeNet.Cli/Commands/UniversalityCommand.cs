using System.ComponentModel;
using System.Globalization;
using System.Text.Json;
using NativeNet.Cli.Reports;
using NativeNet.Core.Backends;
using Spectre.Console;
using Spectre.Console.Cli;

namespace NativeNet.Cli.Commands;

/// <summary>
/// `universality`: chapter 4's visual proof. For each hidden-layer size N, the bump construction of
/// <see cref="Universality.Construct"/> and a [1, N, 1] network trained by SGD, both against the chapter's example
/// function; prints each one's maximum error and draws universality.png.
/// </summary>
internal sealed class UniversalityCommand : Command<UniversalityCommand.Settings>
{
    internal sealed class Settings : CommandSettings
    {
        [CommandOption("--neurons <LIST>")] [Description("Hidden-layer sizes, comma-separated (default 5,10,50).")] public string Neurons { get; init; } = "5,10,50";
        [CommandOption("--epochs <N>")] [Description("Training epochs over the samples (default 3000).")] public int Epochs { get; init; } = 3000;
        [CommandOption("--samples <N>")] [Description("Evenly spaced training samples of [[0, 1]] (default 200).")] public int Samples { get; init; } = 200;
        [CommandOption("--eta <ETA>")] [Description("Learning rate at the start, decaying linearly to 0 (default 0.1).")] public float Eta { get; init; } = 0.1f;
        [CommandOption("--batch <N>")] [Description("Mini-batch size (default 10).")] public int Batch { get; init; } = 10;
        [CommandOption("--momentum <MU>")] [Description("Momentum coefficient in [[0, 1) (default 0.9).")] public float Momentum { get; init; } = 0.9f;
        [CommandOption("--seed <N>")] [Description("Seed for the initial weights and the shuffles (default 1).")] public int Seed { get; init; } = 1;
        [CommandOption("--out <DIR>")] [Description("Folder for universality.png (default runs/universality).")] public string Out { get; init; } = Path.Combine("runs", "universality");
        [CommandOption("--no-plots")] [Description("Skip universality.png.")] public bool NoPlots { get; init; }
        [CommandOption("--json")] [Description("Print one JSON object with the errors.")] public bool Json { get; init; }

        /// <summary>The sizes in --neurons; throws <see cref="ArgumentException"/> on anything but positive integers.</summary>
        public int[] NeuronCounts()
        {
            var parts = Neurons.Split(',', StringSplitOptions.TrimEntries);
            var counts = new int[parts.Length];
            for (int i = 0; i < parts.Length; i++)
                if (!int.TryParse(parts[i], NumberStyles.None, CultureInfo.InvariantCulture, out counts[i]) || counts[i] < 1 || counts[i] > 10_000)
                    throw new ArgumentException($"--neurons takes hidden-layer sizes from 1 to 10000 separated by commas; '{parts[i]}' is not one.");
            return counts;
        }

        public override ValidationResult Validate()
        {
            try { NeuronCounts(); }
            catch (ArgumentException e) { return ValidationResult.Error(e.Message); }
            if (Epochs < 1) return ValidationResult.Error("--epochs must be at least 1.");
            if (Samples < 2) return ValidationResult.Error("--samples must be at least 2.");
            if (!(Eta > 0) || float.IsInfinity(Eta)) return ValidationResult.Error("--eta must be a positive number.");
            if (Batch < 1) return ValidationResult.Error("--batch must be at least 1.");
            if (!(Momentum >= 0 && Momentum < 1)) return ValidationResult.Error("--momentum must be in [0, 1).");
            return ValidationResult.Success();
        }
    }

    public override int Execute(CommandContext context, Settings s, CancellationToken cancellation)
    {
        TextWriter log = s.Json ? Console.Error : Console.Out;
        string outDir = s.NoPlots ? "" : TrainingPlan.PrepareOutputDirectory(s.Out);
        var training = new UniversalityTraining { Samples = s.Samples, Epochs = s.Epochs, BatchSize = s.Batch, LearningRate = s.Eta, Momentum = s.Momentum, Seed = s.Seed };
        Func<double, double> f = Universality.ExampleFunction;
        using var backend = new CpuBackend(1);
        var panels = new List<UniversalityPanel>();
        foreach (int n in s.NeuronCounts())
        {
            using var construction = Universality.Construct(f, n, backend);
            using var trained = Universality.Train(f, n, training, backend, cancellation);
            const int points = 2001;
            var (xs, built) = Universality.Sample(construction, points);
            var (_, learned) = Universality.Sample(trained, points);
            var target = xs.Select(f).ToArray();
            var panel = new UniversalityPanel(n, xs, target, built, learned, Universality.MaxError(built, target), Universality.MaxError(learned, target));
            panels.Add(panel);
            log.WriteLine($"N = {n,5}: construction ({(n + 1) / 2} bumps) max error {panel.ConstructionError:F4}; trained [1, {n}, 1] max error {panel.TrainedError:F4}");
        }
        if (!s.NoPlots)
        {
            UniversalityReport.Write(Path.Combine(outDir, UniversalityReport.File), panels);
            log.WriteLine($"Plot: {UniversalityReport.File} in {outDir}");
        }
        if (s.Json)
            Console.WriteLine(JsonSerializer.Serialize(new
            {
                function = "0.2 + 0.4 x^2 + 0.3 x sin(15 x) + 0.05 cos(50 x) on [0, 1]", epochs = s.Epochs, samples = s.Samples, eta = s.Eta, seed = s.Seed,
                results = panels.Select(p => new { neurons = p.Neurons, construction_max_error = p.ConstructionError, trained_max_error = p.TrainedError }),
                @out = s.NoPlots ? null : outDir,
            }));
        return 0;
    }
}
