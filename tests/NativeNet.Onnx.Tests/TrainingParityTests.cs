using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text.Json;
using NativeNet.Core.Kernels;
using NativeNet.Training;
using Xunit.Abstractions;

namespace NativeNet.Onnx.Tests;

/// <summary>
/// Training parity with PyTorch: from the same initial weights (written by `nativenet init`, read by PyTorch with numpy),
/// on the same mini-batches (training images in order), 200 SGD steps of NativeNet's trainer follow PyTorch's path
/// (tools/parity/trajectory.py; Fixtures/parity/README.md): the cost of every step's batch and every final weight agree.
/// </summary>
public sealed class TrainingParityTests(ITestOutputHelper output)
{
    private sealed record Trajectory(string architecture, int seed, int steps, int batch, float eta, float lambda, int n,
        string initial_sha256, int[] parameter_sizes, double[] costs);

    private static string Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "Fixtures", "parity", name);

    [MnistTheory]
    [InlineData("ch6-relu", 2e-5, 1e-5)]   // chapter 6: conv-pool x2, FC 100 ReLU, softmax, L2 (lambda 1 over n = 50,000)
    [InlineData("ch3-init", 2e-6, 1e-5)]   // chapter 3: [784, 30, 10] sigmoid, cross-entropy, L2 (lambda 5)
    public void TwoHundredSgdSteps_FollowPyTorchsPath(string preset, double costTolerance, double weightTolerance)
    {
        var t = JsonSerializer.Deserialize<Trajectory>(File.ReadAllText(Fixture(preset + ".json")))!;
        var p = Presets.Get(preset);
        Assert.Equal(p.Spec.Text, t.architecture);
        using var net = p.Spec.Build(t.seed, p.Init);
        var initial = net.ExportParameters();
        Assert.Equal(t.initial_sha256, Convert.ToHexStringLower(SHA256.HashData(MemoryMarshal.AsBytes(initial.SelectMany(a => a).ToArray().AsSpan()))));
        Assert.Equal(t.parameter_sizes, initial.Select(a => a.Length));

        var train = Repository.Mnist_.Training;
        using var trainer = new SgdTrainer(net, new SgdOptions { BatchSize = t.batch, LearningRate = t.eta, L2 = t.lambda, TrainingSetSize = t.n });
        int m = t.batch, k = net.OutputSize;
        var scores = new float[m * k];
        var y = new float[m * k];
        double worstCost = 0;
        for (int step = 0; step < t.steps; step++)
        {
            var x = train.Pixels.AsSpan(step * m * net.InputSize, m * net.InputSize);
            var labels = train.Labels.AsSpan(step * m, m);
            net.PredictBatch(x, scores);
            Array.Clear(y);
            for (int i = 0; i < m; i++) y[i * k + labels[i]] = 1f;
            double cost = Elementwise.Cost(net.Cost, scores, y) / m;
            double relative = Math.Abs(cost - t.costs[step]) / Math.Abs(t.costs[step]);
            worstCost = Math.Max(worstCost, relative);
            Assert.True(relative <= costTolerance, $"{preset} step {step}: NativeNet's batch cost {cost}, PyTorch's {t.costs[step]}");
            trainer.Step(x, labels);
        }

        var expected = MemoryMarshal.Cast<byte, float>(File.ReadAllBytes(Fixture(preset + ".final.f32"))).ToArray();
        var actual = net.ExportParameters();
        int offset = 0;
        double worstWeight = 0;
        for (int i = 0; i < actual.Length; i++)
        {
            var reference = expected.AsSpan(offset, actual[i].Length);
            offset += actual[i].Length;
            double scale = 0, moved = 0, differs = 0;
            for (int j = 0; j < reference.Length; j++)
            {
                scale = Math.Max(scale, Math.Abs(reference[j]));
                moved = Math.Max(moved, Math.Abs(reference[j] - initial[i][j]));
                differs = Math.Max(differs, Math.Abs(actual[i][j] - reference[j]));
            }
            worstWeight = Math.Max(worstWeight, differs / scale);
            output.WriteLine($"  parameter {i}: largest |w| {scale:G3}, moved up to {moved:G3}, differs by up to {differs:G3}");
            Assert.True(differs <= weightTolerance * scale, $"{preset} parameter {i}: NativeNet and PyTorch differ by up to {differs} (tensor scale {scale})");
            // The agreement means something only if training moved the tensor much further than the two differ.
            Assert.True(differs * 50 < moved, $"{preset} parameter {i} moved only {moved} in {t.steps} steps, against a difference of {differs}");
        }
        Assert.Equal(expected.Length, offset);
        output.WriteLine($"{preset}: worst relative cost difference {worstCost:E2} over {t.steps} steps; worst weight difference {worstWeight:E2} of each tensor's largest weight");
    }
}
