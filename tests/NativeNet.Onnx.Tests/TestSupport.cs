using System.Diagnostics;
using Microsoft.ML.OnnxRuntime;
using NativeNet.Data;
using NativeNet.Onnx;

namespace NativeNet.Onnx.Tests;

/// <summary>Runs exported models through ONNX Runtime's C# API (CPU provider, one thread, so results do not vary by run).</summary>
internal static class Ort
{
    /// <summary>Outputs [count x classes] of the ONNX model for examples [count x InputSize], laid out as <see cref="OnnxExporter.InputShape"/> says.</summary>
    public static float[] Run(byte[] model, long[] inputShape, float[] examples, int classes)
    {
        using var options = new SessionOptions { IntraOpNumThreads = 1, InterOpNumThreads = 1 };
        using var session = new InferenceSession(model, options);
        using var input = OrtValue.CreateTensorValueFromMemory(examples, inputShape);
        var outputs = new float[inputShape[0] * classes];
        using var output = OrtValue.CreateTensorValueFromMemory(outputs, [inputShape[0], classes]);
        using var run = new RunOptions();
        session.Run(run, [OnnxExporter.InputName], [input], [OnnxExporter.OutputName], [output]);
        return outputs;
    }
}

/// <summary>The repository's MNIST (data/mnist), loaded once for the tests that use it.</summary>
internal static class Repository
{
    private static readonly Lazy<MnistDataset> s_mnist = new(() => Mnist.Load(Requirements.MnistDirectory));

    /// <summary>MNIST's splits; the tests that read it are [MnistFact]/[MnistTheory] (CI fetches the data first).</summary>
    public static MnistDataset Mnist_ => s_mnist.Value;
}

/// <summary>Debian's /usr/bin/python3 with python3-onnx, for the ONNX checker.</summary>
internal static class PythonOnnx
{
    public static (int ExitCode, string Output) Run(params string[] args) => Requirements.Run(Requirements.Python, args, TimeSpan.FromMinutes(2));
}
