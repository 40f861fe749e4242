using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using NativeNet.Data;
using NativeNet.Cli.Reports;
using NativeNet.Core.Backends;
using NativeNet.Layers;
using NativeNet.Persistence;
using NativeNet.Training;
using Spectre.Console;
using Spectre.Console.Cli;

namespace NativeNet.Cli.Commands;

internal sealed class TrainCommand : Command<TrainCommand.Settings>
{
    public const string MetricsFile = "metrics.json";

    internal sealed class Settings : RunSettings
    {
        [CommandOption("--init <RULE>")]
        [Description("Weight initialization: normal, fan-in or ch6 (default: the preset's; fan-in with --layers).")]
        public string? Init { get; init; }

        [CommandOption("--epochs <N>")] [Description("Epochs (the total, also when resuming).")] public int? Epochs { get; init; }
        [CommandOption("--batch <N>")] [Description("Mini-batch size.")] public int? Batch { get; init; }
        [CommandOption("--eta <ETA>")] [Description("Learning rate.")] public float? Eta { get; init; }
        [CommandOption("--lambda <L>")] [Description("L2 strength (lambda, divided by the training-set size n).")] public float? Lambda { get; init; }
        [CommandOption("--momentum <MU>")] [Description("Momentum coefficient in [[0, 1).")] public float? Momentum { get; init; }
        [CommandOption("--dropout <P>")] [Description("Dropout probability on the input of every fully connected layer after the first hidden layer (chapter 6); 0 removes it.")] public float? Dropout { get; init; }
        [CommandOption("--shuffle")] [Description("Reshuffle the training images every epoch even where the preset keeps one order (chapter 6's network3 does not shuffle).")] public bool Shuffle { get; init; }
        [CommandOption("--monitor")] [Description("Also report cost and accuracy on the training data each epoch (an extra pass).")] public bool Monitor { get; init; }
        [CommandOption("--expand")] [Description("Train on the 5x shift-expanded set (chapter 6).")] public bool? Expand { get; init; }
        [CommandOption("--distort <KIND>")] [Description("Distort every training image afresh each epoch: 'elastic' (Simard et al.: alpha 34, sigma 4) or 'affine' (rotation 10 degrees, scale 10%, shear 0.2).")] public string? Distort { get; init; }
        [CommandOption("--seed <N>")] [Description("Seed for initialization, shuffling and dropout (default 1).")] public int Seed { get; init; } = 1;
        [CommandOption("--out <DIR>")] [Description("Output folder for best model, checkpoint and metrics.json (default runs/<preset>-<time>).")] public string? Out { get; init; }
        [CommandOption("--resume <DIR>")] [Description("Continue from DIR/checkpoint.safetensors (the same options as the first run; a different one is an error naming both values).")] public string? Resume { get; init; }
        [CommandOption("--overwrite")] [Description("Replace the training run already in --out (its models, checkpoint, metrics and plots are deleted when training starts).")] public bool Overwrite { get; init; }
        [CommandOption("--early-stop <N>")] [Description("Stop when validation accuracy has not improved for N epochs.")] public int? EarlyStop { get; init; }
        [CommandOption("--schedule <KIND>")] [Description("'plateau': halve eta after 10 epochs without improvement, stop at eta/128.")] public string? Schedule { get; init; }
        [CommandOption("--no-plots")] [Description("Skip the PNG report (accuracy, cost, misclassified digits, confusion matrix) in the output folder.")] public bool NoPlots { get; init; }
        [CommandOption("--json")] [Description("Print one JSON object with the result at the end (progress goes to stderr).")] public bool Json { get; init; }
        [CommandOption("--layer-speed")] [Description("Record each hidden layer's speed of learning, ||delta|| on the first 1,000 training images, before training and after every epoch (chapter 5; the ch5-* presets do it anyway): metrics.json's layer_speed and layer-speed.png.")] public bool LayerSpeed { get; init; }

        public override ValidationResult Validate()
        {
            if (base.Validate() is { Successful: false } shared) return shared;
            if (Epochs is < 1) return ValidationResult.Error("--epochs must be at least 1.");
            if (Batch is < 1) return ValidationResult.Error("--batch must be at least 1.");
            if (Eta is float e && (!(e > 0) || float.IsInfinity(e))) return ValidationResult.Error("--eta must be a positive number.");
            if (Lambda is < 0) return ValidationResult.Error("--lambda must not be negative.");
            if (Momentum is float m && (m < 0 || m >= 1)) return ValidationResult.Error("--momentum must be in [0, 1).");
            if (EarlyStop is < 1) return ValidationResult.Error("--early-stop must be at least 1.");
            if (Schedule is not null && Schedule != "plateau") return ValidationResult.Error($"--schedule knows only 'plateau', not '{Schedule}'.");
            if (Dropout is float d && (d < 0 || d >= 1)) return ValidationResult.Error("--dropout must be in [0, 1).");
            if (Distort is not null && Distort is not ("elastic" or "affine")) return ValidationResult.Error($"--distort must be elastic or affine, not '{Distort}'.");
            if (Init is not null && Init is not ("normal" or "fan-in" or "ch6")) return ValidationResult.Error($"--init must be normal, fan-in or ch6, not '{Init}'.");
            if (Overwrite && Resume is not null && (Out is null || Path.GetFullPath(Out) == Path.GetFullPath(Resume)))
                return ValidationResult.Error("--overwrite and --resume on the same folder contradict each other: --resume continues the run there, --overwrite replaces it.");
            return ValidationResult.Success();
        }
    }

    public override int Execute(CommandContext context, Settings s, CancellationToken cancellation)
    {
        var plan = TrainingPlan.Resolve(s.Preset, s.Layers, s.Init, s.Epochs, s.Batch, s.Eta, s.Lambda, s.Momentum, s.Expand, s.TrainSize, s.Shuffle ? true : null).Single();
        if (s.Dropout is float dropout) plan = plan with { Spec = plan.Spec.WithDropout(dropout) };
        string name = plan.Name;
        var spec = plan.Spec;
        int epochs = plan.Epochs, batch = plan.Batch;
        float eta = plan.Eta, lambda = plan.Lambda, momentum = plan.Momentum;
        bool expand = plan.Expand;

        TextWriter log = s.Json ? Console.Error : Console.Out;
        string outDir = Path.GetFullPath(s.Out ?? s.Resume ?? Path.Combine("runs", $"{name}-{DateTime.Now:yyyyMMdd-HHmmss}"));
        // A folder that already holds a run is continued (--resume) or replaced (--overwrite), never overwritten silently.
        bool continuing = s.Resume is not null && Path.GetFullPath(s.Resume) == outDir;
        var previousRun = continuing ? [] : TrainingPlan.RunFiles(outDir);
        if (previousRun.Length > 0 && !s.Overwrite)
            throw new ArgumentException($"--out '{outDir}' already holds a training run ({string.Join(", ", previousRun.Select(Path.GetFileName))}): " +
                                        $"pass --resume {outDir} to continue it, or --overwrite to replace it.");
        TrainingPlan.PrepareOutputDirectory(outDir);

        var (data, training) = s.LoadTraining(plan, log);
        if (batch > training.Count)
            throw new ArgumentException($"--batch {batch} is larger than the {training.Count:N0} training images: no mini-batch would be complete. Use --batch {training.Count} or less.");
        using var backend = s.OpenBackend();
        using var net = plan.Build(s.Seed, backend);
        var options = plan.Options(s.Seed, training.Count, outDir) with
        {
            EarlyStoppingPatience = s.EarlyStop, MonitorTraining = s.Monitor, Schedule = s.Schedule == "plateau" ? new PlateauSchedule() : null,
            Distortion = s.Distort switch
            {
                "elastic" => DistortionOptions.SimardElastic,
                "affine" => new DistortionOptions { MaxRotationDegrees = 10, MaxScaleChange = 0.1f, MaxShear = 0.2f, ElasticAlpha = 0 },
                _ => null,
            },
        };
        var session = new TrainingSession(net, spec, options, training, data.Validation, data.Test);
        if (s.Resume is not null) session.Resume(Path.GetFullPath(s.Resume));
        // Everything is checked: only now is the run being replaced removed.
        foreach (var file in previousRun) File.Delete(file);

        log.WriteLine($"{name}: {spec.Text}");
        log.WriteLine($"{net.ParameterCount:N0} parameters on {backend.Name}; {training.Count:N0} training, {data.Validation.Count:N0} validation, {data.Test.Count:N0} test images; " +
                      $"{epochs} epochs, m = {batch}, eta = {eta.ToString(CultureInfo.InvariantCulture)}, lambda = {lambda.ToString(CultureInfo.InvariantCulture)}" +
                      (momentum > 0 ? $", momentum = {momentum.ToString(CultureInfo.InvariantCulture)}" : "") + $"; output in {outDir}");

        var epochLines = new List<string>();
        void OnEpoch(EpochReport r)
        {
            string line = TrainingPlan.EpochLine(r);
            if (s.Json || Console.IsOutputRedirected) log.WriteLine(line);
            else AnsiConsole.MarkupLine(Markup.Escape(line));
        }
        using var layerSpeed = s.LayerSpeed || Presets.All.Any(p => p.Name == name && p.LayerSpeed) ? new LayerSpeedProbe(net, training) : null;
        layerSpeed?.Start();
        session.OnEpoch = r => { layerSpeed?.Record(r.Epoch); OnEpoch(r); };

        TrainingResult result;
        var clock = Stopwatch.StartNew();
        if (s.Json || Console.IsOutputRedirected)
        {
            result = session.Run(cancellation);
        }
        else
        {
            TrainingResult? r = null;
            AnsiConsole.Progress().AutoClear(true).HideCompleted(true)
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
                .Start(ctx =>
                {
                    ProgressTask? task = null;
                    int current = -1;
                    var epochClock = Stopwatch.StartNew();
                    session.OnBatch = (epoch, b, count) =>
                    {
                        if (epoch != current)
                        {
                            task?.StopTask();
                            task = ctx.AddTask($"epoch {epoch}/{epochs}", maxValue: count);
                            current = epoch;
                            epochClock.Restart();
                        }
                        task!.Value = b;
                        if (b % 50 == 0 || b == count)
                            task.Description = $"epoch {epoch}/{epochs}  batch {b}/{count}  {b * batch / Math.Max(1e-9, epochClock.Elapsed.TotalSeconds):N0} images/s";
                    };
                    r = session.Run(cancellation);
                    task?.StopTask();
                });
            result = r!;
        }

        double? testAccuracy = result.TestAccuracyAtBest;
        string bestPath = Path.Combine(outDir, TrainingSession.BestModelFile);
        if (testAccuracy is null && File.Exists(bestPath))
        {
            using var best = ModelFile.Load(bestPath, backend);
            using var evaluator = new SgdTrainer(best, new SgdOptions { BatchSize = 100 });
            testAccuracy = evaluator.Evaluate(data.Test.Pixels, data.Test.Labels).Accuracy;
        }

        var metrics = new
        {
            preset = name, architecture = spec.Text, device = backend.Name, epochs_planned = epochs, batch, eta, lambda, momentum, expand,
            training_images = training.Count, seed = s.Seed,
            best_epoch = result.BestEpoch, best_validation_accuracy = result.BestValidationAccuracy, test_accuracy = testAccuracy,
            stop_reason = result.StopReason.ToString(), message = result.Message, seconds = result.Seconds,
            epochs = result.Epochs.Select(r => new
            {
                epoch = r.Epoch, validation_accuracy = r.ValidationAccuracy, validation_cost = r.ValidationCost, test_accuracy = r.TestAccuracy,
                learning_rate = r.LearningRate, seconds = r.Seconds, images_per_second = r.ImagesPerSecond,
            }).ToArray(),
            layer_speed = layerSpeed is null ? null : new { images = layerSpeed.Images, hidden_layers = layerSpeed.HiddenLayers, epochs = layerSpeed.History.Select(h => new { epoch = h.Epoch, delta_norms = h.Norms }) },
        };
        AtomicFile.WriteAllBytes(Path.Combine(outDir, MetricsFile), JsonSerializer.SerializeToUtf8Bytes(metrics, new JsonSerializerOptions { WriteIndented = true }));
        if (!s.NoPlots) TrainingReport.TryWrite(outDir, result.Epochs, bestPath, net, data.Test, log);
        if (!s.NoPlots && layerSpeed is not null) LayerSpeedReport.TryWrite(outDir, layerSpeed.History, layerSpeed.Images, log);

        if (s.Json)
        {
            Console.WriteLine(JsonSerializer.Serialize(new
            {
                preset = name, architecture = spec.Text, epochs = result.Epochs.Count > 0 ? result.Epochs[^1].Epoch : 0, best_epoch = result.BestEpoch,
                best_validation_accuracy = result.BestValidationAccuracy, test_accuracy = testAccuracy, seconds = Math.Round(clock.Elapsed.TotalSeconds, 3),
                stop_reason = result.StopReason.ToString(), @out = outDir,
            }));
        }
        log.WriteLine($"{result.StopReason}{(result.Message is null ? "" : $" ({result.Message})")}: best validation {result.BestValidationAccuracy * 100:F2}% at epoch {result.BestEpoch}" +
                      (testAccuracy is double ta ? $", test {ta * 100:F2}%" : "") + $", {result.Seconds:F1} s. Saved in {outDir}");
        return result.StopReason == StopReason.Cancelled ? NativeNetApp.CancelledExitCode : 0;
    }
}

/// <summary>
/// A preset with the command line's overrides resolved into one concrete training setup: architecture, initialization,
/// hyper-parameters and data preparation. `train`, `ensemble` and `search` all train through it, so a network they
/// build for the same options and seed is the same network.
/// </summary>
internal sealed record TrainingPlan(string Name, NetworkSpec Spec, WeightInit Init, int Epochs, int Batch, float Eta, float Lambda, float Momentum,
    bool Expand, bool Shuffle, int? TrainSize, int Ensemble)
{
    public static TrainingPlan Resolve(string? presetName, string? layers = null, string? init = null, int? epochs = null, int? batch = null,
        float? eta = null, float? lambda = null, float? momentum = null, bool? expand = null, int? trainSize = null, bool? shuffle = null)
    {
        var preset = Presets.Get(presetName ?? "default");
        bool custom = layers is not null;
        // With --layers and no --preset the defaults are the book's chapter-3 network's: 30 epochs, m = 10, eta 0.5, no L2, shuffling.
        bool generic = custom && presetName is null;
        var spec = NetworkSpec.Parse(custom ? layers! : preset.Architecture);
        var rule = init switch
        {
            "normal" => WeightInit.StandardNormal,
            "fan-in" => WeightInit.ScaledByFanIn,
            "ch6" => WeightInit.Chapter6,
            null => generic ? WeightInit.ScaledByFanIn : preset.Init,
            _ => throw new ArgumentException($"--init must be normal, fan-in or ch6, not '{init}'."),
        };
        return new TrainingPlan(
            generic ? "custom" : preset.Name, spec, rule,
            epochs ?? (generic ? 30 : preset.Epochs),
            batch ?? (generic ? 10 : preset.BatchSize),
            eta ?? (generic ? 0.5f : preset.LearningRate),
            lambda ?? (generic ? 0f : preset.L2),
            momentum ?? (generic ? 0f : preset.Momentum),
            expand ?? (!generic && preset.Expand),
            shuffle ?? (generic || preset.Shuffle),
            trainSize ?? (!generic && preset.TrainingImages < 50_000 ? preset.TrainingImages : null),
            generic ? 1 : preset.Ensemble);
    }

    /// <summary>For the commands that train one network per run: an ensemble preset points the user to `ensemble`.</summary>
    public TrainingPlan Single()
    {
        if (Ensemble > 1)
            throw new ArgumentException($"preset '{Name}' is an ensemble of {Ensemble} networks: run 'nativenet ensemble --preset {Name}' (each network alone is 'train --preset' of its single-network preset).");
        return this;
    }

    /// <summary>The training images: the first <see cref="TrainSize"/> of the data set's, shift-expanded when <see cref="Expand"/>.</summary>
    public LabeledImages TrainingImages(MnistDataset data, TextWriter log)
    {
        var training = data.Training;
        if (TrainSize is int n && n < training.Count) training = training.Take(n);
        if (Expand)
        {
            log.WriteLine($"Expanding {training.Count:N0} training images by one-pixel shifts...");
            training = Expansion.ShiftExpand(training);
        }
        return training;
    }

    public Network Build(int seed, IComputeBackend backend) => Spec.Build(seed, Init, backend, withMomentum: Momentum > 0);

    public TrainingOptions Options(int seed, int trainingCount, string? outDir) => new()
    {
        Epochs = Epochs, Shuffle = Shuffle, ShuffleSeed = seed, OutputDirectory = outDir,
        Sgd = new SgdOptions { BatchSize = Batch, LearningRate = Eta, L2 = Lambda, Momentum = Momentum, TrainingSetSize = trainingCount, Seed = (ulong)seed },
    };

    public string Describe() =>
        $"{Epochs} epochs, m = {Batch}, eta = {Eta.ToString(CultureInfo.InvariantCulture)}, lambda = {Lambda.ToString(CultureInfo.InvariantCulture)}" +
        (Momentum > 0 ? $", momentum = {Momentum.ToString(CultureInfo.InvariantCulture)}" : "");

    public static string EpochLine(EpochReport r) =>
        $"epoch {r.Epoch,3}: " + (r.TrainingAccuracy is double ta ? $"training {ta * 100:F2}% (cost {r.TrainingCost:F4}), " : "") +
        $"validation {r.ValidationAccuracy * 100:F2}% (cost {r.ValidationCost:F4})" +
        (r.TestAccuracy is double t ? $", test {t * 100:F2}% (best so far)" : "") +
        $", {r.Seconds:F1} s, {r.ImagesPerSecond:N0} images/s, eta {r.LearningRate.ToString(CultureInfo.InvariantCulture)}";

    /// <summary>The files of a training run that are in <paramref name="folder"/>: its models, checkpoint, metrics and plots (none when it is not a run folder).</summary>
    public static string[] RunFiles(string folder) =>
        Directory.Exists(folder)
            ? new[] { TrainingSession.BestModelFile, TrainingSession.CheckpointFile, TrainCommand.MetricsFile, LayerSpeedReport.File }.Concat(TrainingReport.Files)
                .Select(f => Path.Combine(folder, f)).Where(File.Exists).ToArray()
            : [];

    /// <summary>Creates the folder and fails early (before any training) when it cannot be written; returns its full path.</summary>
    public static string PrepareOutputDirectory(string folder)
    {
        string dir = Path.GetFullPath(folder);
        try
        {
            Directory.CreateDirectory(dir);
            string probe = Path.Combine(dir, $".write-test-{Environment.ProcessId}");
            File.WriteAllText(probe, "");
            File.Delete(probe);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IOException($"cannot write the output folder '{dir}': {e.Message}", e);
        }
        return dir;
    }
}
