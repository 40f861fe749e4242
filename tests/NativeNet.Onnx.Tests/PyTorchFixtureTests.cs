using System.Runtime.InteropServices;
using Xunit.Abstractions;

namespace NativeNet.Onnx.Tests;

/// <summary>
/// Models trained and exported by PyTorch 1.13 (tools/onnx/make_fixtures.py; see Fixtures/pytorch/README.md) import
/// into NativeNet's layers and classify the 10,000 MNIST test images as PyTorch did.
/// </summary>
public sealed class PyTorchFixtureTests(ITestOutputHelper output)
{
    private static string Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "Fixtures", "pytorch", name);

    [Fact]
    public void Fixtures_ImportToTheExpectedArchitectures()
    {
        var ch6 = OnnxImporter.Read(Fixture("ch6.onnx"));
        Assert.Equal("input 1x28x28 | conv 20 5 relu | maxpool 2 | conv 40 5 relu | maxpool 2 | dense 100 relu | output 10 softmax", ch6.Spec.Text);
        Assert.False(ch6.OutputIsLogSoftmax);
        var fc = OnnxImporter.Read(Fixture("fc.onnx"));
        Assert.Equal("input 784 | dense 100 sigmoid | output 10 softmax", fc.Spec.Text);   // MatMul + Add, Dropout, Gemm, LogSoftmax
        Assert.True(fc.OutputIsLogSoftmax);
        Assert.StartsWith("pytorch", fc.Metadata["onnx.producer"]);
    }

    [MnistTheory]
    [InlineData("ch6")]
    [InlineData("fc")]
    public void ImportedModel_ReproducesPyTorchsPredictions(string name)
    {
        var test = Repository.Mnist_.Test;
        var expected = File.ReadAllBytes(Fixture(name + ".expected.bin"));
        Assert.Equal(10_000 + 4 * 10_000 + 4 * 10_000, expected.Length);
        var classes = expected.AsSpan(0, 10_000);
        var top = MemoryMarshal.Cast<byte, float>(expected.AsSpan(10_000, 40_000));
        var rows = MemoryMarshal.Cast<byte, float>(expected.AsSpan(50_000, 40_000));

        using var net = OnnxImporter.Import(Fixture(name + ".onnx"));
        var probabilities = new float[test.Count * 10];
        net.PredictBatch(test.Pixels, probabilities);
        double worst = 0;
        int correct = 0;
        for (int i = 0; i < test.Count; i++)
        {
            var p = probabilities.AsSpan(i * 10, 10);
            int c = System.Numerics.Tensors.TensorPrimitives.IndexOfMax(p);
            Assert.True(c == classes[i], $"{name}: test image {i}: NativeNet says {c}, PyTorch said {classes[i]}");
            worst = Math.Max(worst, Math.Abs(p[c] - top[i]));
            if (i < 1000) for (int k = 0; k < 10; k++) worst = Math.Max(worst, Math.Abs(p[k] - rows[i * 10 + k]));
            if (c == test.Labels[i]) correct++;
        }
        output.WriteLine($"{name}: {correct / 100.0:F2}% test accuracy; largest probability difference from PyTorch {worst:E2}");
        Assert.True(worst <= 1e-5, $"{name}: probabilities differ from PyTorch's by up to {worst}");
    }
}
