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

/// <summary>
/// The commands that run several independent trainings (ensemble, search): --parallel N runs up to N at once, each on
/// its own CPU backend with its share of --threads (see <see cref="NativeNet.Training.Lanes"/>).
/// </summary>
internal abstract class LaneSettings : RunSettings
{
    [CommandOption("--parallel <N>")] [Description("Train up to N networks at once (at most --threads), sharing the threads (CPU only; default 1).")] public int Parallel { get; init; } = 1;

    /// <summary>How many lanes <paramref name="items"/> trainings get: --parallel, at most the items and the threads.</summary>
    public int LanesFor(int items) => Math.Max(1, Math.Min(Math.Min(Parallel, items), Threads));

    /// <summary>One backend per lane, the threads shared out (the first lanes take the remainder).</summary>
    public LaneBackends OpenLaneBackends(int lanes)
    {
        var backends = new List<IComputeBackend>(lanes);
        try
        {
            for (int l = 0; l < lanes; l++) backends.Add(CliSupport.CreateBackend(Device, Threads / lanes + (l < Threads % lanes ? 1 : 0)));
            return new LaneBackends(backends);
        }
        catch
        {
            foreach (var b in backends) b.Dispose();
            throw;
        }
    }

    public override ValidationResult Validate()
    {
        if (base.Validate() is { Successful: false } shared) return shared;
        if (Parallel < 1) return ValidationResult.Error("--parallel must be at least 1.");
        if (Parallel > 1 && Device != "cpu") return ValidationResult.Error("--parallel above 1 needs --device cpu (one device trains one network at a time).");
        return ValidationResult.Success();
    }
}

/// <summary>The backends of <see cref="LaneSettings.OpenLaneBackends"/>, one per lane, disposed together.</summary>
internal sealed class LaneBackends(List<IComputeBackend> backends) : IDisposable
{
    public int Count => backends.Count;
    public IComputeBackend this[int lane] => backends[lane];
    /// <summary>The first lane's backend name (they differ only in thread count).</summary>
    public string Name => backends[0].Name;
    public void Dispose() { foreach (var b in backends) b.Dispose(); }
}
