// Loads a NativeNet model file, classifies the MNIST test set with it and prints the accuracy in a fixed form that
// tools/pack-and-consume.sh parses ("test accuracy: CORRECT / COUNT"), beside the CPU level the kernels run at, which
// must be the same under the JIT and in the Native AOT binary.
using System.Numerics.Tensors;
using System.Runtime.Intrinsics;
using NativeNet;
using NativeNet.Core;

if (args.Length != 2)
{
    Console.Error.WriteLine("usage: NativeNet.Consumer MODEL.safetensors MNIST_FOLDER");
    return 2;
}

try
{
    // Under Native AOT nothing is JIT-compiled. (RuntimeFeature.IsDynamicCodeSupported cannot tell: PublishAot turns it
    // off for the JIT run too.)
    Console.WriteLine($"runtime: {(System.Runtime.JitInfo.GetCompiledMethodCount() > 0 ? "jit" : "native aot")}");
    Console.WriteLine($"cpu: {CpuContext.Default} (Vector256 accelerated: {Vector256.IsHardwareAccelerated}, Vector512 accelerated: {Vector512.IsHardwareAccelerated})");

    using var network = ModelFile.Load(args[0]);
    var test = Mnist.Load(args[1]).Test;

    // Scores of all test images [count x classes], in PredictBatch's chunks of 100 as `nativenet evaluate` runs them.
    int classes = network.OutputSize;
    var scores = new float[test.Count * classes];
    network.PredictBatch(test.Pixels, scores);
    int correct = 0;
    for (int i = 0; i < test.Count; i++)
        if (TensorPrimitives.IndexOfMax(scores.AsSpan(i * classes, classes)) == test.Labels[i]) correct++;

    Console.WriteLine($"test accuracy: {correct} / {test.Count}");
    return 0;
}
catch (Exception e) when (e is IOException or ArgumentException or InvalidOperationException or PlatformNotSupportedException)
{
    Console.Error.WriteLine($"error: {e.Message}");
    return 1;
}
