using NativeNet.Core.Backends;
using NativeNet.Core.Kernels;
using NativeNet.Layers;
using NativeNet.Training;

namespace NativeNet.Tests;

/// <summary>Every layer's backward pass against central finite differences of the summed batch cost.</summary>
public class GradientCheckTests
{
    public static IEnumerable<object[]> DenseCases()
    {
        foreach (var act in new[] { Activation.Sigmoid, Activation.Tanh, Activation.ReLU, Activation.Identity })
            foreach (var cost in Enum.GetValues<OutputCost>())
                yield return [act, cost];
    }

    [Theory]
    [MemberData(nameof(DenseCases))]
    public void Dense_EveryActivationAndCost(Activation act, OutputCost cost)
    {
        using var net = NetworkBuilder.ForInput(7).Dense(6, act).Dense(5, act).Output(4, cost).Build(seed: 3);
        Check(net, batch: 3, seed: 11);
    }

    [Fact]
    public void Dense_WithDropout_FixedMask()
    {
        using var net = NetworkBuilder.ForInput(9).Dense(8, Activation.Sigmoid, dropout: 0.3f).Output(3, OutputCost.SoftmaxLogLikelihood, dropout: 0.5f).Build(seed: 4);
        Check(net, batch: 4, seed: 12);
    }

    [Theory]
    [InlineData(PoolKind.Max)]
    [InlineData(PoolKind.Average)]
    [InlineData(PoolKind.L2)]
    public void Conv_Pool_Dense_SeveralChannels(PoolKind pool)
    {
        using var net = NetworkBuilder.ForImages(1, 9, 9)
            .Conv(3, 3, Activation.Tanh).Pool(pool, 2)         // 3 x 7 x 7 -> 3 x 3 x 3
            .Conv(4, 2, Activation.Sigmoid)                    // 4 x 2 x 2
            .Dense(5, Activation.Sigmoid)
            .Output(3, OutputCost.SoftmaxLogLikelihood).Build(seed: 5);
        Check(net, batch: 2, seed: 13);
    }

    [Fact]
    public void Conv_OddSizes_Stride2_Padding_MultiChannelInput()
    {
        using var net = NetworkBuilder.ForImages(2, 7, 6)
            .Conv(3, 3, Activation.Tanh, stride: 2, padding: 1)  // 3 x 4 x 3
            .Pool(PoolKind.Max, 2, stride: 1)                    // 3 x 3 x 2
            .Output(2, OutputCost.SigmoidCrossEntropy).Build(seed: 6);
        Check(net, batch: 3, seed: 14);
    }

    [Fact]
    public void Conv_ReLU_AwareOfTheKink()
    {
        using var net = NetworkBuilder.ForImages(1, 8, 8).Conv(4, 3, Activation.ReLU).MaxPool(2)
            .Dense(6, Activation.ReLU).Output(3, OutputCost.SoftmaxLogLikelihood).Build(seed: 7, init: WeightInit.Chapter6);
        Check(net, batch: 2, seed: 15);
    }

    /// <summary>
    /// A batch large enough to convolve directly: the second convolution's weight gradient unfolds its 4 x 28 x 28 input
    /// a chunk at a time (three chunks of 4 images at 12) and its input gradient folds back chunk by chunk into the
    /// 1 x 1 convolution before it. Average pooling: a 4 x 4 max over thousands of windows puts some kink within any
    /// usable step.
    /// </summary>
    [Fact]
    public void Conv_DirectTraining_ChunkedGradients()
    {
        using var backend = new CpuBackend(1);   // one worker: the batch runs whole, not split into slices, so its chunks are those asserted
        using var net = NetworkBuilder.ForImages(4, 28, 28).Conv(4, 1, Activation.Tanh).Conv(3, 5, Activation.Tanh).Pool(PoolKind.Average, 4)
            .Conv(2, 3, Activation.Sigmoid).Output(3, OutputCost.SoftmaxLogLikelihood).Build(seed: 8, backend: backend);
        var g = new ConvGeometry(Channels: 4, Batch: 12, Height: 28, Width: 28, KernelHeight: 5, KernelWidth: 5);
        Assert.Equal(3, ConvKernels.GradientChunks(g));
        Check(net, batch: 12, seed: 16);
    }

    /// <summary>
    /// The last mini-batch of an epoch is smaller than the batch the workspace was sized for: 4 or 27 images convolve
    /// directly in a workspace sized for 64, and 27's gradient chunks hold more images than a full batch's (the first
    /// convolution: one chunk of 27 against four of 16). Either way the gradients equal a trainer's sized for it. (Both
    /// trainers take the batch in one pass, so that the same sums run in the same order.)
    /// </summary>
    [Theory]
    [InlineData(4)]
    [InlineData(27)]
    public void Conv_RemainderBatch_MatchesATrainerSizedForIt(int count)
    {
        var rng = new Random(21);
        var x = new float[count * 784];
        for (int i = 0; i < x.Length; i++) x[i] = (float)rng.NextDouble();
        var y = new float[count * 10];
        for (int i = 0; i < count; i++) y[i * 10 + rng.Next(10)] = 1f;
        float[][] Gradients(int batchSize)
        {
            using var backend = new CpuBackend(1);
            using var net = NetworkSpec.Parse("input 1x28x28 | conv 6 5 relu | maxpool 2 | conv 4 5 relu | maxpool 2 | output 10 softmax")
                .Build(5, WeightInit.ScaledByFanIn, backend);
            using var trainer = new SgdTrainer(net, new SgdOptions { BatchSize = batchSize, LearningRate = 0.1f, Seed = 3, MicroBatch = batchSize });
            trainer.ForwardBackward(x, y, count);
            return net.Parameters.Select(p => CpuBackend.Span(p.Gradient).ToArray()).ToArray();
        }
        var sized = Gradients(count);
        var larger = Gradients(64);
        Assert.Equal(sized.Length, larger.Length);
        Assert.Contains(sized[0], v => v != 0f);   // the first convolution's weights get a gradient at all
        for (int t = 0; t < sized.Length; t++) Assert.Equal(sized[t], larger[t]);
    }

    /// <summary>
    /// Compares each parameter's analytic gradient with (C(w + e) - C(w - e)) / 2e. Where a ReLU or max-pool kink lies
    /// within e, the estimates at e and e/2 disagree; such points are skipped, but most points must be checked.
    /// </summary>
    internal static void Check(Network net, int batch, int seed)
    {
        var rng = new Random(seed);
        var x = new float[batch * net.InputSize];
        for (int i = 0; i < x.Length; i++) x[i] = (float)rng.NextDouble();
        var y = new float[batch * net.OutputSize];
        for (int i = 0; i < batch; i++) y[i * net.OutputSize + rng.Next(net.OutputSize)] = 1f;
        if (net.Cost == OutputCost.LinearQuadratic || net.Cost == OutputCost.SigmoidQuadratic)
            for (int i = 0; i < y.Length; i++) y[i] = (float)rng.NextDouble();

        using var trainer = new SgdTrainer(net, new SgdOptions { BatchSize = batch, LearningRate = 0.1f, Seed = 99 });
        trainer.ForwardBackward(x, y, batch);
        var ws = net.CreateWorkspace(batch, training: true);
        double CostAt()
        {
            ws.LoadInputs(x, batch);
            net.Backend.Upload(y, ws.Target!);
            ws.Forward(batch, training: true, seed: 99, step: 0);   // same seed and step: the same dropout mask
            var a = new float[batch * net.OutputSize];
            net.Backend.Download(ws.Output, a);
            return Elementwise.Cost(net.Cost, a, y);
        }

        int checkedCount = 0, skipped = 0;
        foreach (var p in net.Parameters)
        {
            var w = CpuBackend.Span(p.Value);
            var grad = CpuBackend.Span(p.Gradient).ToArray();
            int stride = Math.Max(1, w.Length / 40);
            double scale = grad.Max(g => Math.Abs((double)g));   // tolerances relative to this tensor's gradient size
            for (int i = 0; i < w.Length; i += stride)
            {
                float orig = w[i];
                double Numeric(float e)
                {
                    CpuBackend.Span(p.Value)[i] = orig + e; double up = CostAt();
                    CpuBackend.Span(p.Value)[i] = orig - e; double down = CostAt();
                    CpuBackend.Span(p.Value)[i] = orig;
                    return (up - down) / (2 * e);
                }
                double n1 = Numeric(1e-2f), n2 = Numeric(5e-3f);
                if (Math.Abs(n1 - n2) > 1e-4 + 1e-2 * Math.Abs(n1)) { skipped++; continue; }
                double analytic = grad[i];
                Assert.True(Math.Abs(n2 - analytic) <= 3e-5 + 3e-3 * scale + 1e-2 * Math.Abs(n2),
                    $"{p.Value.Name}[{i}]: analytic {analytic} vs numeric {n2} ({net.Describe()})");
                checkedCount++;
            }
        }
        Assert.True(checkedCount >= 10 && skipped <= checkedCount / 4, $"Only {checkedCount} points checked, {skipped} skipped at kinks.");
        ws.Dispose();
    }
}
