using NativeNet.Layers;

namespace NativeNet.Onnx.Tests;

/// <summary>The ONNX project's own checker (python3-onnx, with full shape inference) accepts every exported architecture.</summary>
public class CheckerTests
{
    [PythonFact("onnx")]
    public void OnnxChecker_AcceptsEveryExportedArchitecture()
    {
        using var temp = new TempDirectory();
        var paths = new List<string>();
        int i = 0;
        foreach (var spec in ExportImportTests.SpecTexts)
        {
            using var net = NetworkSpec.Parse(spec).Build(1, WeightInit.ScaledByFanIn);
            string path = temp.File($"model{i++}.onnx");
            OnnxExporter.Export(net, path);
            paths.Add(path);
        }
        const string Script = "import sys, onnx\n"
            + "for p in sys.argv[1:]:\n"
            + "    m = onnx.load(p)\n"
            + "    onnx.checker.check_model(m, full_check=True)\n"
            + "    assert m.opset_import[0].version == 13, m.opset_import\n"
            + "print('checked', len(sys.argv) - 1)\n";
        var (code, output) = PythonOnnx.Run(["-c", Script, .. paths]);
        Assert.True(code == 0, output);
        Assert.Contains($"checked {paths.Count}", output);
    }
}
