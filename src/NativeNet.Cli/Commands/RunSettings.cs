using System.ComponentModel;
using NativeNet.Core.Backends;
using NativeNet.Data;
using Spectre.Console;
using Spectre.Console.Cli;

namespace NativeNet.Cli.Commands;

/// <summary>The options every command that trains shares (train, ensemble, search): which network, which data, where it runs.</summary>
internal abstract class RunSettings : CommandSettings
{
    [CommandOption("--preset <NAME>")]
    [Description("A book experiment (see 'nativenet presets'); default 'default'. Its settings are the defaults of the other options.")]
    public string? Preset { get; init; }

    [CommandOption("--layers <SPEC>")]
    [Description("Architecture as text, e.g. \"input 784 | dense 30 sigmoid | output 10 softmax\" (replaces the preset's).")]
    public string? Layers { get; init; }

    [CommandOption("--train-size <N>")] [Description("Use only the first N training images.")] public int? TrainSize { get; init; }
    [CommandOption("--threads <N>")] [Description("Worker threads (default: all cores).")] public int Threads { get; init; } = Environment.ProcessorCount;
    [CommandOption("--device <DEV>")] [Description("cpu (default), opencl or opencl:N.")] public string Device { get; init; } = "cpu";
    [CommandOption("--data <DIR>")] [Description("MNIST folder (default: data/mnist at the repository root); fetched when empty.")] public string? Data { get; init; }

    /// <summary>MNIST from --data (fetched when missing) and the plan's training images (subset, expanded).</summary>
    public (MnistDataset Data, LabeledImages Training) LoadTraining(TrainingPlan plan, TextWriter log)
    {
        var data = CliSupport.LoadData(CliSupport.DataDirectory(Data), fetch: true, log);
        return (data, plan.TrainingImages(data, log));
    }

    /// <summary>The backend --device and --threads ask for.</summary>
    public IComputeBackend OpenBackend() => CliSupport.CreateBackend(Device, Threads);

    /// <summary>Checks the shared options; a command's own Validate calls this first.</summary>
    public override ValidationResult Validate()
    {
        if (Threads < 1 || Threads > Environment.ProcessorCount * 4)
            return ValidationResult.Error($"--threads must be between 1 and {Environment.ProcessorCount * 4}.");
        if (TrainSize is < 1) return ValidationResult.Error("--train-size must be at least 1.");
        return ValidationResult.Success();
    }
}
