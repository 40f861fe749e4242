using System.Diagnostics;
using System.Runtime.InteropServices;
using NativeNet.Data;
using NativeNet.Layers;
using NativeNet.Persistence;
using NativeNet.Training;
using Xunit.Abstractions;

namespace NativeNet.Tests;

/// <summary>
/// Safetensors that another program reads without knowing NativeNet: a numpy script (tests/python/numpy_forward.py)
/// checks the checksum, builds the forward pass from the file's metadata alone and reproduces NativeNet's outputs on
/// the 10,000 MNIST test images, for networks covering every layer kind, activation, pooling and dropout.
/// </summary>
public sealed class NumpyReaderTests(ITestOutputHelper output)
{
    /// <summary>Networks covering every layer kind, activation, pooling and dropout, each with a learning rate it trains at.</summary>
    public static readonly (string Architecture, float Eta)[] Networks =
    [
        ("input 1x28x28 | conv 6 5 relu | maxpool 2 | conv 8 3 tanh pad=1 | avgpool 2 | dense 30 sigmoid dropout=0.3 | output 10 softmax dropout=0.2", 0.2f),
        ("input 1x28x28 | conv 4 3 relu stride=2 | l2pool 3 stride=2 | dense 20 sigmoid | output 10 sigmoid-ce", 0.5f),
        ("input 784 | dense 30 tanh dropout=0.1 | dense 20 linear | output 10 linear", 0.05f),
    ];

    /// <summary>The numpy-only reader (tests/python/numpy_forward.py).</summary>
    private static string Script => Path.Combine(Requirements.RepositoryRoot ?? ".", "tests", "python", "numpy_forward.py");

    [PythonFact("numpy", NeedsMnist = true)]
    public void ANumpyScript_ReadsTrainedModels_AndMatchesNativeNetOnTheTestSet()
    {
        string mnist = Requirements.MnistDirectory;
        var data = Mnist.Load(mnist);
        var training = data.Training.Take(5000);
        using var temp = new TempDirectory();
        foreach (var ((architecture, eta), i) in Networks.Select((n, i) => (n, i)))
        {
            var spec = NetworkSpec.Parse(architecture);
            using var net = spec.Build(i + 1, WeightInit.ScaledByFanIn);
            using (var trainer = new SgdTrainer(net, new SgdOptions { BatchSize = 10, LearningRate = eta, TrainingSetSize = training.Count, Seed = (ulong)i + 1 }))
            {
                for (int start = 0; start + 10 <= training.Count; start += 10)
                    trainer.Step(training.Pixels.AsSpan(start * 784, 10 * 784), training.Labels.AsSpan(start, 10));
                double accuracy = trainer.Evaluate(data.Test.Pixels, data.Test.Labels).Accuracy;
                output.WriteLine($"{architecture}: test accuracy {accuracy:P2} after one pass over 5,000 images");
                Assert.True(accuracy > 0.6, $"{architecture} learned too little ({accuracy:P2}) to count as trained");
            }
            string model = temp.File($"model{i}.safetensors"), predictions = temp.File($"predictions{i}.f32");
            ModelFile.Save(model, net);
            var scores = new float[data.Test.Count * net.OutputSize];
            net.PredictBatch(data.Test.Pixels, scores);
            File.WriteAllBytes(predictions, MemoryMarshal.AsBytes(scores.AsSpan()).ToArray());

            var (exit, text) = Requirements.Run(Requirements.Python,
                [Script, model, Mnist.FindFile(mnist, Mnist.TestImagesFile), predictions, "--tolerance", "1e-5"], TimeSpan.FromMinutes(5));
            output.WriteLine(text.Trim());
            Assert.True(exit == 0, $"{architecture}: {text}");
            Assert.StartsWith("OK:", text);
        }
    }

    [PythonFact("numpy")]
    public void TheNumpyScript_RefusesAnEditedModel()
    {
        using var temp = new TempDirectory();
        var bytes = ModelFileTests.SmallModelBytes();
        bytes[^1] ^= 1;
        string model = temp.File("edited.safetensors");
        File.WriteAllBytes(model, bytes);
        var (exit, text) = Requirements.Run(Requirements.Python, [Script, model, "unused", "unused"], TimeSpan.FromMinutes(1));
        Assert.Equal(2, exit);
        Assert.Contains("checksum", text);
    }
}
