using NativeNet.Layers;

namespace NativeNet.Onnx.Tests;

/// <summary>Every kind of layer NativeNet builds goes out to ONNX and back; ONNX Runtime computes what NativeNet does.</summary>
public class ExportImportTests
{
    /// <summary>Architectures covering every layer, activation, pool, output, stride, padding, dropout and the flatten.</summary>
    public static readonly string[] SpecTexts =
    [
        "input 784 | dense 30 sigmoid | output 10 sigmoid-quadratic",
        "input 784 | dense 30 tanh | dense 20 relu | output 10 sigmoid-ce",
        "input 20 | dense 16 linear | output 5 linear",
        "input 20 | dense 16 relu dropout=0.5 | output 4 softmax dropout=0.3",
        "input 1x28x28 | conv 20 5 relu | maxpool 2 | conv 40 5 relu | maxpool 2 | dense 100 relu | output 10 softmax",
        "input 1x12x12 | conv 4 3 sigmoid stride=2 pad=1 | avgpool 2 | dense 8 tanh | output 3 softmax",
        "input 3x10x10 | conv 5 3 tanh pad=2 | l2pool 3 stride=2 | conv 2 2 linear | maxpool 2 stride=1 | output 4 sigmoid-ce dropout=0.7",
        "input 2x9x9 | maxpool 3 | conv 3 3 relu | output 6 linear",
        "input 1x8x8 | dense 12 relu dropout=0.25 | output 10 softmax dropout=0.5",
    ];

    public static TheoryData<string> Specs => new(SpecTexts);

    private static float[] RandomInputs(Network net, int count, int seed)
    {
        var rng = new Random(seed);
        var x = new float[count * net.InputSize];
        for (int i = 0; i < x.Length; i++) x[i] = rng.NextSingle();
        return x;
    }

    [Theory]
    [MemberData(nameof(Specs))]
    public void ExportThenImport_GivesTheSameArchitectureWeightsAndBitIdenticalPredictions(string text)
    {
        var spec = NetworkSpec.Parse(text);
        using var net = spec.Build(11, WeightInit.ScaledByFanIn);
        var bytes = OnnxExporter.ToBytes(net);
        var imported = OnnxImporter.Read(new MemoryStream(bytes), "memory");
        Assert.Equal(spec.Text, imported.Spec.Text);
        Assert.Equal(OnnxExporter.SpecText(net), spec.Text);
        Assert.Equal(net.ExportParameters(), imported.Parameters);
        using var back = imported.Build();
        var x = RandomInputs(net, 37, 5);
        float[] a = new float[37 * net.OutputSize], b = new float[a.Length];
        net.PredictBatch(x, a);
        back.PredictBatch(x, b);
        Assert.Equal(a, b);
    }

    [Theory]
    [MemberData(nameof(Specs))]
    public void OnnxRuntime_ComputesWhatNativeNetComputes(string text)
    {
        using var net = NetworkSpec.Parse(text).Build(3, WeightInit.StandardNormal);
        const int Count = 64;
        var x = RandomInputs(net, Count, 9);
        var expected = new float[Count * net.OutputSize];
        net.PredictBatch(x, expected);
        var actual = Ort.Run(OnnxExporter.ToBytes(net), OnnxExporter.InputShape(net, Count), x, net.OutputSize);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-5 + 1e-5 * Math.Abs(expected[i]), $"output {i}: NativeNet {expected[i]}, ONNX Runtime {actual[i]}");
    }

    [Fact]
    public void Dropout_IsGemmAlpha_AndEveryProbabilityComesBackExactly()
    {
        // 1 - p must come back as the same float for any p NativeNet accepts, including those above 0.5 where 1 - (1 - p) rounds.
        foreach (float p in new[] { 0.5f, 0.3f, 0.7f, 0.9f, 0.1f, 0.999f, 0.123456f, 0.8765432f, 1e-6f })
        {
            var spec = NetworkSpec.Parse($"input 4 | dense 3 relu dropout={p.ToString("R", System.Globalization.CultureInfo.InvariantCulture)} | output 2 softmax");
            using var net = spec.Build(1, WeightInit.ScaledByFanIn);
            var imported = OnnxImporter.Read(new MemoryStream(OnnxExporter.ToBytes(net)), "memory");
            var layer = (DenseLayer)NetworkSpec.Parse(imported.Spec.Text).Build(1, WeightInit.ScaledByFanIn).Layers[0];
            Assert.Equal(1f - p, 1f - layer.Dropout);
        }
    }

    [Fact]
    public void Export_WritesAtomically_AndTheFileImports()
    {
        using var temp = new TempDirectory();
        using var net = NetworkSpec.Parse("input 1x6x6 | conv 2 3 relu | maxpool 2 | output 3 softmax").Build(2, WeightInit.ScaledByFanIn);
        string path = temp.File("sub/model.onnx");
        OnnxExporter.Export(net, path);
        Assert.Single(Directory.GetFiles(Path.GetDirectoryName(path)!));
        using var back = OnnxImporter.Import(path);
        Assert.Equal(net.ExportParameters(), back.ExportParameters());
    }

    /// <summary>ModelFile's ONNX doors lead to the exporter and importer: a network goes out and comes back predicting the same bits.</summary>
    [Fact]
    public void ModelFile_ExportOnnx_ThenImportOnnx_PredictsTheSameBits()
    {
        using var temp = new TempDirectory();
        using var net = NetworkBuilder.ForImages(1, 12, 12).ConvPool(4, 5, Activation.ReLU).Dense(8, Activation.Tanh)
            .Output(10, OutputCost.SoftmaxLogLikelihood).Build(seed: 5, init: WeightInit.Chapter6);
        string path = temp.File("net.onnx");
        ModelFile.ExportOnnx(path, net);
        using var back = ModelFile.ImportOnnx(path);
        var x = RandomInputs(net, 7, 3);
        float[] expected = new float[70], actual = new float[70];
        net.PredictBatch(x, expected);
        back.PredictBatch(x, actual);
        Assert.Equal(expected, actual);
    }
}
