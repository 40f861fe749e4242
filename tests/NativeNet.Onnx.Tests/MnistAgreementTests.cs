using NativeNet.Data;
using NativeNet.Layers;
using NativeNet.Training;
using Xunit.Abstractions;

namespace NativeNet.Onnx.Tests;

/// <summary>
/// Networks trained briefly on MNIST (so their classes are decided, not near-ties), exported: ONNX Runtime gives the
/// same class on all 10,000 test images and every probability within 1e-5; importing the export back gives
/// bit-identical outputs.
/// </summary>
public sealed class MnistAgreementTests(ITestOutputHelper output)
{
    public static readonly TheoryData<string, string, float> Networks = new()
    {
        { "dense", "input 784 | dense 30 sigmoid | output 10 sigmoid-ce", 0.5f },
        { "convolutional", "input 1x28x28 | conv 8 5 relu | maxpool 2 | conv 12 5 relu | maxpool 2 | dense 30 relu | output 10 softmax", 0.05f },
        { "dropout", "input 784 | dense 100 relu | dense 50 relu dropout=0.5 | output 10 softmax dropout=0.5", 0.3f },
    };

    private static Network Train(string spec, float eta)
    {
        var data = Repository.Mnist_;
        var net = NetworkSpec.Parse(spec).Build(7, WeightInit.ScaledByFanIn);
        using var trainer = new SgdTrainer(net, new SgdOptions { BatchSize = 10, LearningRate = eta, TrainingSetSize = 50_000 });
        var train = data.Training.Take(6000);
        for (int start = 0; start < train.Count; start += 10)
            trainer.Step(train.Pixels.AsSpan(start * 784, 10 * 784), train.Labels.AsSpan(start, 10));
        return net;
    }

    [MnistTheory]
    [MemberData(nameof(Networks))]
    public void OnnxRuntime_AgreesOnAllTestImages_AndImportIsBitIdentical(string kind, string spec, float eta)
    {
        var test = Repository.Mnist_.Test;
        using var net = Train(spec, eta);
        var ours = new float[test.Count * 10];
        net.PredictBatch(test.Pixels, ours);
        var bytes = OnnxExporter.ToBytes(net);
        var theirs = Ort.Run(bytes, OnnxExporter.InputShape(net, test.Count), test.Pixels, 10);
        double worst = 0;
        int correct = 0;
        for (int i = 0; i < test.Count; i++)
        {
            var a = ours.AsSpan(i * 10, 10);
            var b = theirs.AsSpan(i * 10, 10);
            int ca = System.Numerics.Tensors.TensorPrimitives.IndexOfMax(a), cb = System.Numerics.Tensors.TensorPrimitives.IndexOfMax(b);
            Assert.True(ca == cb, $"{kind}: test image {i}: NativeNet says {ca}, ONNX Runtime {cb}");
            if (ca == test.Labels[i]) correct++;
            for (int k = 0; k < 10; k++) worst = Math.Max(worst, Math.Abs(a[k] - b[k]));
        }
        output.WriteLine($"{kind}: {correct / 100.0:F2}% test accuracy; largest probability difference from ONNX Runtime {worst:E2}");
        Assert.True(worst <= 1e-5, $"{kind}: probabilities differ from ONNX Runtime's by up to {worst}");
        Assert.True(correct > 8000, $"{kind}: only {correct} of 10,000 correct; the brief training did not take");

        using var back = OnnxImporter.Read(new MemoryStream(bytes), "memory").Build();
        var again = new float[ours.Length];
        back.PredictBatch(test.Pixels, again);
        Assert.Equal(ours, again);
    }
}
