using System.ComponentModel;
using NativeNet.Onnx;
using NativeNet.Persistence;
using Spectre.Console;
using Spectre.Console.Cli;

namespace NativeNet.Cli.Commands;

/// <summary>`nativenet import MODEL.onnx --out MODEL.safetensors`: an ONNX model (e.g. from torch.onnx.export) as a NativeNet model file.</summary>
internal sealed class ImportCommand : Command<ImportCommand.Settings>
{
    internal sealed class Settings : CommandSettings
    {
        [CommandArgument(0, "<MODEL>")] [Description("An .onnx model whose graph NativeNet's layers express.")] public string Model { get; init; } = "";
        [CommandOption("--out <FILE>")] [Description("The .safetensors model file to write.")] public string? Out { get; init; }

        public override ValidationResult Validate() => Out is null ? ValidationResult.Error("Give the model file to write with --out MODEL.safetensors.") : ValidationResult.Success();
    }

    public override int Execute(CommandContext context, Settings s, CancellationToken cancellation)
    {
        string source = Path.GetFullPath(s.Model);
        var model = OnnxImporter.Read(source);
        using var backend = new Core.Backends.CpuBackend(1);
        using var net = model.Build(backend);
        string path = Path.GetFullPath(s.Out!);
        var metadata = new Dictionary<string, string>
        {
            ["imported_from"] = Path.GetFileName(source),
            ["onnx_producer"] = model.Metadata["onnx.producer"],
            ["onnx_opset"] = model.Metadata["onnx.opset"],
        };
        ModelFile.Save(path, net, model.Spec, metadata);
        AnsiConsole.MarkupLineInterpolated($"wrote [green]{path}[/] ({net.ParameterCount:N0} parameters)");
        Console.WriteLine("  " + model.Spec.Text);   // plain: Spectre would wrap a long architecture
        if (model.OutputIsLogSoftmax)
            AnsiConsole.MarkupLine("  the graph ends in LogSoftmax: NativeNet's softmax output gives the probabilities (exp of the graph's output)");
        return 0;
    }
}
