using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using NativeNet.Baselines;
using NativeNet.Core.Threading;
using NativeNet.Data;
using Spectre.Console;
using Spectre.Console.Cli;

namespace NativeNet.Cli.Commands;

/// <summary>
/// The options both baselines share: the data, how much of the training set to use, and JSON output. They train on the
/// trainer's split (the first 50,000 of MNIST's 60,000 training images) and test on the 10,000 test images.
/// </summary>
internal abstract class BaselineSettings : CommandSettings
{
    [CommandOption("--data <DIR>")] [Description("MNIST folder (default: data/mnist at the repository root, fetched when empty); a folder given here must exist.")] public string? Data { get; init; }
    [CommandOption("--train-size <N>")] [Description("Train on the first N training images only (default: all 50,000).")] public int? TrainSize { get; init; }
    [CommandOption("--json")] [Description("Print one JSON object with the result (progress goes to stderr).")] public bool Json { get; init; }

    public override ValidationResult Validate()
    {
        if (TrainSize is < 1) return ValidationResult.Error("--train-size must be at least 1.");
        return ValidationResult.Success();
    }

    /// <summary>Where progress goes: stderr with --json (stdout holds only the JSON), else stdout.</summary>
    public TextWriter Log => Json ? Console.Error : Console.Out;

    /// <summary>The trainer's split of MNIST; a missing --data folder is an error (the default folder is fetched instead).</summary>
    public (LabeledImages Training, LabeledImages Test) LoadData()
    {
        string dir = CliSupport.DataDirectory(Data);
        if (Data is not null && !Directory.Exists(dir))
            throw new DirectoryNotFoundException($"the data folder '{dir}' does not exist (leave out --data to fetch MNIST into data/mnist).");
        var data = CliSupport.LoadData(dir, fetch: Data is null, Log);
        var training = TrainSize is int n && n < data.Training.Count ? data.Training.Take(n) : data.Training;
        return (training, data.Test);
    }

    /// <summary>The result line, or with --json the JSON object, of a baseline.</summary>
    public static void Report(bool json, string baseline, int trainingImages, int correct, int testCount, double bookAccuracy, double seconds, object? details = null)
    {
        double accuracy = testCount == 0 ? 0 : (double)correct / testCount;
        if (json)
        {
            Console.WriteLine(JsonSerializer.Serialize(new
            {
                baseline, training_images = trainingImages, test_count = testCount, test_correct = correct, test_accuracy = accuracy,
                book_accuracy = Math.Round(bookAccuracy / 100, 4), seconds = Math.Round(seconds, 3), details,
            }));
            return;
        }
        AnsiConsole.MarkupLineInterpolated(
            $"{baseline}: test accuracy [green]{accuracy * 100:F2}%[/] ({correct:N0} / {testCount:N0}) after training on {trainingImages:N0} images; the book: {bookAccuracy.ToString(CultureInfo.InvariantCulture)}%. {seconds:F1} s.");
    }
}

/// <summary>`baseline darkness`: chapter 1's average-darkness guesser (<see cref="AverageDarkness"/>).</summary>
internal sealed class BaselineDarknessCommand : Command<BaselineDarknessCommand.Settings>
{
    /// <summary>The book's figure: 2,225 of 10,000 test images.</summary>
    public const double BookAccuracy = 22.25;

    internal sealed class Settings : BaselineSettings;

    public override int Execute(CommandContext context, Settings s, CancellationToken cancellation)
    {
        var (training, test) = s.LoadData();
        var clock = Stopwatch.StartNew();
        var model = AverageDarkness.Fit(training);
        int correct = model.CountCorrect(test);
        BaselineSettings.Report(s.Json, "darkness", training.Count, correct, test.Count, BookAccuracy, clock.Elapsed.TotalSeconds,
            new { mean_darkness = model.MeanDarkness.Select(d => Math.Round(d, 3)).ToArray() });
        return 0;
    }
}

/// <summary>
/// `baseline svm`: chapter 1's support vector machine, scikit-learn's SVC with its defaults of the book's time (RBF
/// kernel, gamma = 1/784, C = 1), trained by NativeNet's SMO solver (<see cref="OneVsOneSvm"/>).
/// </summary>
internal sealed class BaselineSvmCommand : Command<BaselineSvmCommand.Settings>
{
    /// <summary>The book's figure: 9,435 of 10,000 test images.</summary>
    public const double BookAccuracy = 94.35;

    internal sealed class Settings : BaselineSettings
    {
        [CommandOption("--threads <N>")] [Description("Worker threads; the 45 binary problems run this many at a time (default: all cores).")] public int Threads { get; init; } = Environment.ProcessorCount;
        [CommandOption("--cost <C>")] [Description("The box constraint C, libsvm's cost (default 1).")] public double C { get; init; } = 1;
        [CommandOption("--gamma <G>")] [Description("The RBF kernel's gamma (default 1 / 784).")] public double? Gamma { get; init; }
        [CommandOption("--tolerance <EPS>")] [Description("SMO stopping tolerance on the KKT violation (default 0.001).")] public double Tolerance { get; init; } = 1e-3;
        [CommandOption("--cache-mb <MB>")] [Description("Kernel-row cache per worker, in MiB (default 768).")] public int CacheMegabytes { get; init; } = 768;
        [CommandOption("--test-size <N>")] [Description("Test on the first N test images only (default: all 10,000).")] public int? TestSize { get; init; }

        public override ValidationResult Validate()
        {
            if (base.Validate() is { Successful: false } shared) return shared;
            if (Threads < 1 || Threads > Environment.ProcessorCount * 4) return ValidationResult.Error($"--threads must be between 1 and {Environment.ProcessorCount * 4}.");
            if (!(C > 0) || double.IsInfinity(C)) return ValidationResult.Error("--cost must be a positive number.");
            if (Gamma is double g && (!(g > 0) || double.IsInfinity(g))) return ValidationResult.Error("--gamma must be a positive number.");
            if (!(Tolerance > 0) || double.IsInfinity(Tolerance)) return ValidationResult.Error("--tolerance must be a positive number.");
            if (CacheMegabytes < 1) return ValidationResult.Error("--cache-mb must be at least 1.");
            if (TestSize is < 1) return ValidationResult.Error("--test-size must be at least 1.");
            return ValidationResult.Success();
        }
    }

    public override int Execute(CommandContext context, Settings s, CancellationToken cancellation)
    {
        var (training, test) = s.LoadData();
        if (s.TestSize is int t && t < test.Count) test = test.Take(t);
        var options = new SvmOptions { C = s.C, Gamma = s.Gamma is double g ? (float)g : null, Tolerance = s.Tolerance, CacheBytes = (long)s.CacheMegabytes << 20 };
        var log = s.Log;
        log.WriteLine($"SVM: RBF kernel, gamma = {options.GammaFor(training.Features).ToString("G6", CultureInfo.InvariantCulture)}, C = {s.C.ToString(CultureInfo.InvariantCulture)}, " +
                      $"one-vs-one over the classes, {training.Count:N0} training images, {s.Threads} thread(s).");
        using var pool = new WorkerPool(s.Threads);
        var clock = Stopwatch.StartNew();
        int done = 0;
        var svm = OneVsOneSvm.Train(training.Pixels, training.Labels, training.Features, options, pool, r =>
        {
            int k = Interlocked.Increment(ref done);
            lock (log)
                log.WriteLine($"  [{k,2}] {r.ClassA} vs {r.ClassB}: {r.Points:N0} points, {r.SupportVectors:N0} support vectors ({r.BoundedSupportVectors:N0} at C), " +
                              $"{r.Iterations:N0} iterations{(r.Converged ? "" : " (iteration limit: not converged)")}, {r.Seconds:F1} s");
        }, cancellation);
        double trainSeconds = clock.Elapsed.TotalSeconds;
        clock.Restart();
        var predicted = svm.Predict(test.Pixels, test.Count, pool);
        double predictSeconds = clock.Elapsed.TotalSeconds;
        int correct = 0;
        for (int i = 0; i < test.Count; i++) if (predicted[i] == test.Labels[i]) correct++;
        log.WriteLine($"Trained in {trainSeconds:F1} s ({svm.SupportVectorCount:N0} support vectors); predicted {test.Count:N0} test images in {predictSeconds:F1} s.");
        bool allConverged = svm.Reports.All(r => r.Converged);
        if (!allConverged) Console.Error.WriteLine("warning: some binary problems hit the iteration limit before converging.");
        BaselineSettings.Report(s.Json, "svm", training.Count, correct, test.Count, BookAccuracy, trainSeconds + predictSeconds, new
        {
            gamma = options.GammaFor(training.Features), c = s.C, tolerance = s.Tolerance, threads = s.Threads,
            support_vectors = svm.SupportVectorCount, train_seconds = Math.Round(trainSeconds, 3), predict_seconds = Math.Round(predictSeconds, 3),
            converged = allConverged, iterations = svm.Reports.Sum(r => r.Iterations), kernel_rows_computed = svm.Reports.Sum(r => r.KernelRowsComputed),
        });
        return 0;
    }
}
