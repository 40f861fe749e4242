using System.ComponentModel;
using NativeNet.Persistence;
using Spectre.Console;
using Spectre.Console.Cli;

namespace NativeNet.Cli.Commands;

/// <summary>
/// `nativenet init`: a freshly initialized network saved without training, so another program (PyTorch, in
/// tools/parity) can start from exactly the weights `train` with the same preset, --init and --seed starts from.
/// </summary>
internal sealed class InitCommand : Command<InitCommand.Settings>
{
    internal sealed class Settings : CommandSettings
    {
        [CommandOption("--preset <NAME>")] [Description("A book experiment (default 'default'): its architecture and initialization.")] public string? Preset { get; init; }
        [CommandOption("--layers <SPEC>")] [Description("Architecture as text (replaces the preset's).")] public string? Layers { get; init; }
        [CommandOption("--init <RULE>")] [Description("Weight initialization: normal, fan-in or ch6 (default: the preset's; fan-in with --layers).")] public string? Init { get; init; }
        [CommandOption("--seed <N>")] [Description("Seed for initialization (default 1), as in 'train --seed'.")] public int Seed { get; init; } = 1;
        [CommandOption("--out <FILE>")] [Description("The .safetensors model file to write.")] public string? Out { get; init; }

        public override ValidationResult Validate() => Out is null ? ValidationResult.Error("Give the model file to write with --out FILE.safetensors.") : ValidationResult.Success();
    }

    public override int Execute(CommandContext context, Settings s, CancellationToken cancellation)
    {
        var plan = TrainingPlan.Resolve(s.Preset, s.Layers, s.Init);
        using var backend = new Core.Backends.CpuBackend(1);
        using var net = plan.Build(s.Seed, backend);
        string path = Path.GetFullPath(s.Out!);
        ModelFile.Save(path, net, plan.Spec, new Dictionary<string, string> { ["seed"] = s.Seed.ToString(), ["init"] = plan.Init.ToString() });
        AnsiConsole.MarkupLineInterpolated($"wrote [green]{path}[/]: {plan.Init} initialization, seed {s.Seed}");
        Console.WriteLine("  " + plan.Spec.Text);
        return 0;
    }
}
