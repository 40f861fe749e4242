using System.ComponentModel;
using NativeNet.Onnx;
using Spectre.Console;
using Spectre.Console.Cli;

namespace NativeNet.Cli.Commands;

/// <summary>`nativenet export MODEL --onnx OUT.onnx`: a saved model as an ONNX file for ONNX Runtime and other frameworks.</summary>
internal sealed class ExportCommand : Command<ExportCommand.Settings>
{
    internal sealed class Settings : CommandSettings
    {
        [CommandArgument(0, "<MODEL>")] [Description("A .safetensors model file (or an .onnx file, re-exported).")] public string Model { get; init; } = "";
        [CommandOption("--onnx <FILE>")] [Description("The ONNX file to write (opset 13; overwritten atomically).")] public string? Onnx { get; init; }

        public override ValidationResult Validate() => Onnx is null ? ValidationResult.Error("Give the file to write with --onnx OUT.onnx.") : ValidationResult.Success();
    }

    public override int Execute(CommandContext context, Settings s, CancellationToken cancellation)
    {
        using var backend = new Core.Backends.CpuBackend(1);
        using var net = ModelFiles.Load(Path.GetFullPath(s.Model), backend);
        string path = Path.GetFullPath(s.Onnx!);
        OnnxExporter.Export(net, path);
        AnsiConsole.MarkupLineInterpolated($"wrote [green]{path}[/] ({new FileInfo(path).Length:N0} bytes, ONNX opset {OnnxExporter.Opset})");
        Console.WriteLine("  " + OnnxExporter.SpecText(net));   // plain: Spectre would wrap a long architecture
        string inputDims = string.Join(", ", OnnxExporter.InputShape(net, 1).Skip(1));   // after the batch dimension N
        AnsiConsole.MarkupLineInterpolated($"  input '{OnnxExporter.InputName}' [[N, {inputDims}]], output '{OnnxExporter.OutputName}' [[N, {net.OutputSize}]]");
        return 0;
    }
}
