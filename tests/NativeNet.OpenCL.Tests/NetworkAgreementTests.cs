using NativeNet.Core.Backends;
using NativeNet.Layers;
using NativeNet.Training;

namespace NativeNet.OpenCL.Tests;

/// <summary>
/// The networks are written once against IComputeBackend: the same code must train the same way on OpenCL.
/// After several SGD steps from identical initial weights, every parameter agrees with the CPU within tolerance.
/// </summary>
public class NetworkAgreementTests
{
    public static IEnumerable<object[]> Architectures() =>
    [
        ["input 64 | dense 30 sigmoid | dense 20 relu dropout=0.2 | output 10 sigmoid-quadratic", 0.5f, 0f],
        ["input 64 | dense 30 tanh | output 10 softmax", 0.1f, 0.9f],
        ["input 1x12x12 | conv 6 3 relu | maxpool 2 | conv 8 3 sigmoid | dense 16 relu dropout=0.5 | output 10 softmax", 0.05f, 0f],
        ["input 2x9x9 | conv 4 3 tanh stride=2 pad=1 | l2pool 2 stride=1 | output 3 sigmoid-ce", 0.1f, 0.5f],
    ];

    [OpenClTheory]
    [MemberData(nameof(Architectures))]
    public void TrainingSteps_AgreeWithTheCpu(string architecture, float eta, float momentum) => Agree(architecture, eta, momentum, microBatch: 0);

    /// <summary>
    /// Batches of 8 in passes of at most 3 (2, 3 and 3 examples, each pass adding its gradients and drawing its own
    /// dropout masks) train alike on both backends.
    /// </summary>
    [OpenClTheory]
    [InlineData("input 1x12x12 | conv 6 3 relu | maxpool 2 | conv 8 3 sigmoid | dense 16 relu dropout=0.5 | output 10 softmax", 0.05f, 0.5f)]
    [InlineData("input 64 | dense 30 sigmoid | dense 20 relu dropout=0.2 | output 10 sigmoid-quadratic", 0.5f, 0f)]
    public void TrainingInPasses_AgreesWithTheCpu(string architecture, float eta, float momentum) => Agree(architecture, eta, momentum, microBatch: 3);

    private static void Agree(string architecture, float eta, float momentum, int microBatch)
    {
        var spec = NetworkSpec.Parse(architecture);
        using var cpuNet = spec.Build(7, WeightInit.ScaledByFanIn, new CpuBackend(1), withMomentum: true);
        using var clNet = spec.Build(7, WeightInit.ScaledByFanIn, OpenClTestEnvironment.Backend, withMomentum: true);
        Assert.Equal(cpuNet.ExportParameters(), clNet.ExportParameters());   // same seed, same host-side initialization

        var options = new SgdOptions { BatchSize = 8, LearningRate = eta, L2 = 0.5f, Momentum = momentum, Nesterov = momentum > 0, TrainingSetSize = 64, Seed = 3,
            MicroBatch = microBatch };
        using var cpu = new SgdTrainer(cpuNet, options);
        using var cl = new SgdTrainer(clNet, options);
        Assert.Equal(microBatch == 0 ? 8 : microBatch, cl.MicroBatch);
        var rng = new Random(11);
        int inputs = cpuNet.InputSize, classes = cpuNet.OutputSize;
        var x = Enumerable.Range(0, 8 * inputs).Select(_ => (float)rng.NextDouble()).ToArray();
        for (int step = 0; step < 10; step++)
        {
            var labels = Enumerable.Range(0, 8).Select(_ => (byte)rng.Next(classes)).ToArray();
            cpu.Step(x, labels);
            cl.Step(x, labels);
        }
        var a = cpuNet.ExportParameters();
        var b = clNet.ExportParameters();
        for (int t = 0; t < a.Length; t++)
            for (int i = 0; i < a[t].Length; i++)
                Assert.True(Math.Abs(a[t][i] - b[t][i]) <= 1e-3f * (1 + Math.Abs(a[t][i])),
                    $"{cpuNet.Parameters[t].Value.Name}[{i}]: cpu {a[t][i]} vs opencl {b[t][i]} after 10 steps");

        // Predictions agree too, and the evaluation path (downloads of the output layer) works on the device.
        var p1 = new float[classes]; var p2 = new float[classes];
        cpuNet.Predict(x.AsSpan(0, inputs), p1);
        clNet.Predict(x.AsSpan(0, inputs), p2);
        for (int i = 0; i < classes; i++) Assert.Equal(p1[i], p2[i], 1e-3f);
    }
}
