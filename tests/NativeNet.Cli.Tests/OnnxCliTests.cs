using System.Text.Json;
using NativeNet.Layers;
using NativeNet.Persistence;

namespace NativeNet.Cli.Tests;

/// <summary>`export`, `import`, and `evaluate` / `predict` / `bench infer` on .onnx paths, through the real CLI.</summary>
public sealed class OnnxCliTests
{
    private const string Spec = "input 1x28x28 | conv 3 5 relu | maxpool 2 | dense 12 sigmoid dropout=0.5 | output 10 softmax";

    private static string SavedModel(string dir)
    {
        var spec = NetworkSpec.Parse(Spec);
        using var net = spec.Build(5, WeightInit.ScaledByFanIn);
        string path = Path.Combine(dir, "model.safetensors");
        ModelFile.Save(path, net, spec);
        return path;
    }

    [Fact]
    public void ExportThenImport_GivesBackTheSameModel_AndEvaluateAgreesOnBoth()
    {
        string dir = CliRunner.TempDir(), data = CliRunner.WriteTinyMnist();
        string model = SavedModel(dir), onnx = Path.Combine(dir, "model.onnx"), back = Path.Combine(dir, "back.safetensors");
        var export = CliRunner.Run("export", model, "--onnx", onnx);
        Assert.True(export.ExitCode == 0, export.All);
        Assert.Contains("opset 13", export.Stdout);
        var import = CliRunner.Run("import", onnx, "--out", back);
        Assert.True(import.ExitCode == 0, import.All);
        Assert.Contains(Spec, import.Stdout);
        var original = ModelFile.Read(model);
        var imported = ModelFile.Read(back);
        Assert.Equal(original.Spec.Text, imported.Spec.Text);
        foreach (var (name, values) in original.Tensors) Assert.Equal(values, imported.Tensors[name]);

        var fromSafetensors = CliRunner.Run("evaluate", model, "--data", data, "--json");
        var fromOnnx = CliRunner.Run("evaluate", onnx, "--data", data, "--json");
        Assert.True(fromOnnx.ExitCode == 0, fromOnnx.All);
        using var a = JsonDocument.Parse(fromSafetensors.Stdout);
        using var b = JsonDocument.Parse(fromOnnx.Stdout);
        Assert.Equal(a.RootElement.GetProperty("test_correct").GetInt32(), b.RootElement.GetProperty("test_correct").GetInt32());
        Assert.Equal(a.RootElement.GetProperty("test_cost").GetDouble(), b.RootElement.GetProperty("test_cost").GetDouble());

        var predict = CliRunner.Run("predict", onnx, "--index", "3", "--data", data, "--json");
        Assert.True(predict.ExitCode == 0, predict.All);
        using var p = JsonDocument.Parse(predict.Stdout);
        Assert.Equal(10, p.RootElement.GetProperty("probabilities").GetArrayLength());
    }

    [Fact]
    public void BadOnnxFiles_FailWithOneLineNamingTheProblem()
    {
        string dir = CliRunner.TempDir();
        string garbage = Path.Combine(dir, "garbage.onnx");
        File.WriteAllBytes(garbage, [0x0A, 0xFF, 0xFF, 0xFF, 0x0F, 0x01]);
        AssertCleanFailure(CliRunner.Run("evaluate", garbage, "--data", CliRunner.WriteTinyMnist()), "garbage.onnx', byte offset");
        AssertCleanFailure(CliRunner.Run("import", garbage, "--out", Path.Combine(dir, "x.safetensors")), "garbage.onnx");
        Assert.False(File.Exists(Path.Combine(dir, "x.safetensors")));

        // A graph with an op NativeNet has no layer for: the node and the op are named.
        var spec = NetworkSpec.Parse("input 4 | dense 3 relu | output 2 softmax");
        using var net = spec.Build(1, WeightInit.ScaledByFanIn);
        var bytes = Onnx.OnnxExporter.ToBytes(net);
        string text = System.Text.Encoding.Latin1.GetString(bytes).Replace("Relu", "Selu");
        string selu = Path.Combine(dir, "selu.onnx");
        File.WriteAllBytes(selu, System.Text.Encoding.Latin1.GetBytes(text));
        AssertCleanFailure(CliRunner.Run("import", selu, "--out", Path.Combine(dir, "y.safetensors")), "node 'layers.0.act' (Selu): op type Selu is not one NativeNet imports");
    }

    [Fact]
    public void BenchInfer_ComparesWithOnnxRuntime()
    {
        string dir = CliRunner.TempDir();
        string onnx = Path.Combine(dir, "model.onnx");
        Assert.Equal(0, CliRunner.Run("export", SavedModel(dir), "--onnx", onnx).ExitCode);
        var r = CliRunner.Run("bench", "infer", "--model", onnx, "--compare", "onnxruntime", "--threads", "1", "--calls", "200", "--images", "300", "--json");
        Assert.True(r.ExitCode == 0, r.All);
        using var doc = JsonDocument.Parse(r.Stdout);
        var root = doc.RootElement;
        Assert.Equal("model.onnx", root.GetProperty("network").GetString());
        Assert.True(root.GetProperty("latency_us").GetDouble() > 0);
        var ort = root.GetProperty("compare");
        Assert.StartsWith("ONNX Runtime 1.32", ort.GetProperty("name").GetString());
        Assert.True(ort.GetProperty("latency_us").GetDouble() > 0);
        Assert.True(ort.GetProperty("batch_images_per_second").GetDouble() > 0);
    }

    [Fact]
    public void Init_SavesTheWeightsTrainStartsFrom()
    {
        string path = Path.Combine(CliRunner.TempDir(), "init.safetensors");
        var r = CliRunner.Run("init", "--preset", "ch3-init", "--seed", "4", "--out", path);
        Assert.True(r.ExitCode == 0, r.All);
        var preset = NativeNet.Training.Presets.Get("ch3-init");
        using var expected = preset.Spec.Build(4, preset.Init);
        using var saved = ModelFile.Load(path);
        Assert.Equal(expected.ExportParameters(), saved.ExportParameters());
    }

    private static void AssertCleanFailure(CliRunner.Result r, string expectedFragment)
    {
        Assert.Equal(2, r.ExitCode);
        Assert.DoesNotContain("   at ", r.All);
        var errorLines = r.Stderr.Split('\n').Where(l => l.StartsWith("error:", StringComparison.Ordinal)).ToList();
        Assert.Single(errorLines);
        Assert.Contains(expectedFragment, errorLines[0]);
    }
}
