using System.ComponentModel;
using System.Text.Json;
using NativeNet.Core.Kernels;
using NativeNet.Persistence;
using Spectre.Console;
using Spectre.Console.Cli;

namespace NativeNet.Cli.Commands;

internal sealed class PredictCommand : Command<PredictCommand.Settings>
{
    internal sealed class Settings : CommandSettings
    {
        [CommandArgument(0, "<MODEL>")] [Description("A .safetensors or .onnx model file.")] public string Model { get; init; } = "";
        [CommandOption("--index <N>")] [Description("Classify test image N of the data folder.")] public int? Index { get; init; }
        [CommandOption("--image <FILE>")] [Description("Classify a PNG (any size; light backgrounds are inverted to MNIST's white-on-black).")] public string? Image { get; init; }
        [CommandOption("--data <DIR>")] [Description("MNIST folder for --index (default: data/mnist at the repository root).")] public string? Data { get; init; }
        [CommandOption("--json")] [Description("Print one JSON object.")] public bool Json { get; init; }

        public override ValidationResult Validate()
        {
            if ((Index is null) == (Image is null)) return ValidationResult.Error("Give exactly one of --index N or --image FILE.png.");
            if (Index is < 0) return ValidationResult.Error("--index must not be negative.");
            return ValidationResult.Success();
        }
    }

    public override int Execute(CommandContext context, Settings s, CancellationToken cancellation)
    {
        using var backend = new Core.Backends.CpuBackend(1);
        using var net = ModelFiles.Load(Path.GetFullPath(s.Model), backend);
        float[] pixels;
        int? truth = null;
        if (s.Index is int index)
        {
            var data = CliSupport.LoadData(CliSupport.DataDirectory(s.Data), fetch: true, s.Json ? Console.Error : Console.Out);
            if (index >= data.Test.Count) throw new ArgumentException($"--index {index} is out of range: the test set has {data.Test.Count} images.");
            pixels = data.Test.Image(index).ToArray();
            truth = data.Test.Labels[index];
        }
        else pixels = ImageInput.LoadPng(Path.GetFullPath(s.Image!), 28, 28);
        if (pixels.Length != net.InputSize)
            throw new ArgumentException($"The image has {pixels.Length} pixels; the model expects {net.InputSize}.");

        var scores = new float[net.OutputSize];
        net.Predict(pixels, scores);
        var probabilities = Probabilities(scores, net.Cost);
        int digit = 0;
        for (int i = 1; i < probabilities.Length; i++) if (probabilities[i] > probabilities[digit]) digit = i;

        if (s.Json)
        {
            Console.WriteLine(JsonSerializer.Serialize(new { digit, label = truth, probabilities, outputs = scores }));
            return 0;
        }
        AnsiConsole.MarkupLineInterpolated($"digit [green]{digit}[/]{(truth is int t ? $" (label {t})" : "")}");
        var table = new Table().AddColumns("class", "probability", "");
        for (int i = 0; i < probabilities.Length; i++)
            table.AddRow(i.ToString(), probabilities[i].ToString("F4"), new string('#', (int)Math.Round(probabilities[i] * 30)));
        AnsiConsole.Write(table);
        return 0;
    }

    /// <summary>Softmax outputs are probabilities already; sigmoid outputs are normalized to sum to one.</summary>
    internal static float[] Probabilities(float[] scores, OutputCost cost)
    {
        if (cost == OutputCost.SoftmaxLogLikelihood) return scores;
        var p = new float[scores.Length];
        double sum = 0;
        foreach (var v in scores) sum += Math.Max(0, v);
        for (int i = 0; i < p.Length; i++) p[i] = sum > 0 ? (float)(Math.Max(0, scores[i]) / sum) : 1f / p.Length;
        return p;
    }
}
