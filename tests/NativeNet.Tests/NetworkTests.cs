using NativeNet.Core;
using NativeNet.Core.Backends;
using NativeNet.Core.Kernels;
using NativeNet.Layers;
using NativeNet.Training;

namespace NativeNet.Tests;

public class NetworkTests
{
    /// <summary>
    /// A network that only predicts (a model loaded into an app) holds its weights alone; the parameters' gradients get
    /// storage when a training workspace is first made, and training then works as before.
    /// </summary>
    [Fact]
    public void GradientsGetStorage_OnlyOnceTheNetworkIsTrained()
    {
        const long floats = 784 * 1000 + 1000 + 1000 * 10 + 10, slack = 4 * 16 * sizeof(float);   // each tensor starts on 64 bytes
        using var built = NetworkSpec.Parse("input 784 | dense 1000 relu | output 10 softmax").Build(1, WeightInit.ScaledByFanIn);
        Assert.InRange(built.ParameterBytes, floats * sizeof(float), floats * sizeof(float) + slack);
        var file = new MemoryStream();
        ModelFile.Save(file, built);
        file.Position = 0;
        using var net = ModelFile.Load(file);
        var images = new float[20 * 784];
        for (int i = 0; i < images.Length; i++) images[i] = (i % 7) / 7f;
        var outputs = new float[20 * 10];
        net.PredictBatch(images, outputs);
        net.Predict(images.AsSpan(0, 784), outputs.AsSpan(0, 10));
        Assert.InRange(net.ParameterBytes, floats * sizeof(float), floats * sizeof(float) + slack);
        Assert.All(net.Parameters, p => Assert.False(p.Gradient.IsBound));

        using var trainer = new SgdTrainer(net, new SgdOptions { BatchSize = 10, LearningRate = 0.1f });
        Assert.InRange(net.ParameterBytes, 2 * floats * sizeof(float), 2 * (floats * sizeof(float) + slack));
        var before = CpuBackend.Span(net.Parameters[0].Value).ToArray();
        trainer.Step(images.AsSpan(0, 10 * 784), new byte[] { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9 });
        Assert.NotEqual(before, CpuBackend.Span(net.Parameters[0].Value).ToArray());
    }

    /// <summary>
    /// A convolution trained directly keeps no unfolded copy of its batch: its gradients unfold a chunk of images at a
    /// time into a scratch of fixed size, so the training workspace grows with the batch by the activations alone. At a
    /// CPU level without a direct kernel, forward unfolds the batch, and only that one copy grows with it.
    /// </summary>
    [Fact]
    public void ConvTrainingWorkspace_DoesNotGrowWithTheUnfoldedBatch()
    {
        using var backend = new CpuBackend(1);
        using var net = NetworkSpec.Parse("input 1x28x28 | conv 20 5 relu | maxpool 2 | conv 40 5 relu | maxpool 2 | dense 100 relu | output 10 softmax")
            .Build(1, WeightInit.Chapter6, backend);
        long Bytes(int batch) { using var ws = net.CreateWorkspace(batch, training: true); return ws.Bytes; }
        double perImage = (Bytes(256) - Bytes(128)) / 128.0;
        // Floats an image takes unfolded: 1*5*5 rows x 24*24 columns for the first convolution, 20*5*5 x 8*8 for the second.
        double unfolded = (25 * 576 + 500 * 64) * sizeof(float);
        // Each image's activations and their errors: input, conv (a and grad), pool (a and grad) of both layers, dense.
        double activations = (784 + 2 * 20 * 576 + 2 * 20 * 144 + 2 * 40 * 64 + 2 * 40 * 16 + 2 * 100 + 3 * 10) * sizeof(float);
        bool direct = backend.SupportsDirectConvolution(new ConvGeometry(1, 256, 28, 28, 5, 5))
            && backend.SupportsDirectConvolution(new ConvGeometry(20, 256, 12, 12, 5, 5));
        Assert.True(perImage < activations + (direct ? unfolded / 4 : unfolded * 5 / 4),
            $"{perImage:N0} bytes an image (direct convolution: {direct}); activations take {activations:N0} and one unfolded copy {unfolded:N0}");
    }

    [Fact]
    public void Perceptron_ComputesNand()
    {
        var nand = Perceptron.Nand();
        Assert.Equal(1, nand.Fire([0, 0]));
        Assert.Equal(1, nand.Fire([0, 1]));
        Assert.Equal(1, nand.Fire([1, 0]));
        Assert.Equal(0, nand.Fire([1, 1]));
    }

    [Theory]
    [InlineData("input 2x9x9 | maxpool 3 | conv 3 3 relu | output 6 linear")]
    [InlineData("input 3x6x6 | avgpool 2 | dense 5 sigmoid | output 4 softmax")]
    public void PoolOnMultiChannelInput_BatchGivesWhatSingleImagesGive(string text)
    {
        // A pool keeps its input's layout: on the network's own batch-major [N, C, H, W] input its output stays batch-major.
        using var net = NetworkSpec.Parse(text).Build(3, WeightInit.StandardNormal);
        var rng = new Random(4);
        var x = new float[7 * net.InputSize];
        for (int i = 0; i < x.Length; i++) x[i] = rng.NextSingle();
        var batch = new float[7 * net.OutputSize];
        net.PredictBatch(x, batch);
        var one = new float[net.OutputSize];
        for (int n = 0; n < 7; n++)
        {
            net.Predict(x.AsSpan(n * net.InputSize, net.InputSize), one);
            for (int k = 0; k < one.Length; k++) Assert.Equal(one[k], batch[n * one.Length + k], 1e-5f);
        }
    }

    [Fact]
    public void SigmoidNetwork_LearnsXor()
    {
        using var net = NetworkBuilder.ForInput(2).Dense(4, Activation.Sigmoid).Output(2, OutputCost.SigmoidCrossEntropy).Build(seed: 1, init: WeightInit.StandardNormal);
        using var trainer = new SgdTrainer(net, new SgdOptions { BatchSize = 4, LearningRate = 2f, TrainingSetSize = 4 });
        float[] x = [0, 0, 0, 1, 1, 0, 1, 1];
        byte[] labels = [0, 1, 1, 0];
        for (int i = 0; i < 3000; i++) trainer.Step(x, labels);
        for (int i = 0; i < 4; i++) Assert.Equal(labels[i], net.Classify(x.AsSpan(i * 2, 2)));
        Assert.Equal(4, trainer.Evaluate(x, labels).Correct);
    }

    [Fact]
    public void Universality_OneHiddenLayer_FitsChapter4Function_ByConstruction()
    {
        // Chapter 4's proof: pairs of steep sigmoid neurons make steps; the linear output weights are the jumps of f.
        static double F(double x) => 0.2 + 0.4 * x * x + 0.3 * x * Math.Sin(15 * x) + 0.05 * Math.Cos(50 * x);
        const int steps = 200;
        const float steepness = 20000f;
        using var net = NetworkBuilder.ForInput(1).Dense(steps, Activation.Sigmoid).Output(1, OutputCost.LinearQuadratic).Build();
        var w1 = new float[steps]; var b1 = new float[steps]; var w2 = new float[steps];
        for (int i = 0; i < steps; i++)
        {
            double s = (i + 0.5) / steps;                       // step position, between sample points
            w1[i] = steepness; b1[i] = (float)(-steepness * s);
            w2[i] = (float)(F((i + 1.0) / steps) - F((double)i / steps));
        }
        net.ImportParameters([w1, b1, w2, [(float)F(0)]]);
        double maxError = 0;
        var output = new float[1];
        for (int i = 0; i <= 2000; i++)
        {
            double x = i / 2000.0;
            net.Predict([(float)x], output);
            maxError = Math.Max(maxError, Math.Abs(output[0] - F(x)));
        }
        Assert.True(maxError < 0.05, $"max error {maxError}");
    }

    [Fact]
    public void Chapter5_VanishingGradient_FirstHiddenLayerLearnsMuchSlower()
    {
        using var net = NetworkBuilder.ForInput(784).Dense(30, Activation.Sigmoid).Dense(30, Activation.Sigmoid).Dense(30, Activation.Sigmoid)
            .Dense(30, Activation.Sigmoid).Output(10, OutputCost.SigmoidCrossEntropy).Build(seed: 2, init: WeightInit.ScaledByFanIn);
        const int batch = 1000;
        var rng = new Random(5);
        var x = new float[batch * 784];
        for (int i = 0; i < x.Length; i++) x[i] = rng.NextDouble() < 0.2 ? (float)rng.NextDouble() : 0f;
        var y = new float[batch * 10];
        for (int i = 0; i < batch; i++) y[i * 10 + rng.Next(10)] = 1f;
        using var trainer = new SgdTrainer(net, new SgdOptions { BatchSize = batch, LearningRate = 0.1f });
        trainer.ForwardBackward(x, y, batch);
        var norms = trainer.DeltaNorms(batch);
        Assert.Equal(5, norms.Length);
        Assert.True(norms[3] >= 10 * norms[0], $"||delta|| per hidden layer: {string.Join(", ", norms[..4])}");
    }

    /// <param name="plainSgd">No momentum and no L1 (L2 stays), so fully connected layers fuse their update unless <paramref name="fuse"/> is false.</param>
    private static (Network Net, SgdTrainer Trainer, float[] X, byte[] Labels) SmallProblem(int seed, int threads = 1, float dropout = 0.2f, float momentum = 0.5f, int split = 0,
        bool plainSgd = false, bool fuse = true, int microBatch = 0)
    {
        float l1 = 0.1f;
        if (plainSgd) (momentum, l1) = (0f, 0f);
        var net = NetworkBuilder.ForImages(1, 12, 12).Conv(4, 3, Activation.ReLU).MaxPool(2).Dense(16, Activation.Sigmoid, dropout)
            .Output(10, OutputCost.SoftmaxLogLikelihood).Build(seed, WeightInit.Chapter6, new CpuBackend(threads), withMomentum: true);
        var trainer = new SgdTrainer(net, new SgdOptions { BatchSize = 10, LearningRate = 0.05f, L2 = 1f, L1 = l1, Momentum = momentum, Nesterov = true, TrainingSetSize = 100, MiniBatchSplit = split, FuseWeightUpdate = fuse, MicroBatch = microBatch });
        var rng = new Random(seed);
        var x = new float[100 * 144];
        for (int i = 0; i < x.Length; i++) x[i] = (float)rng.NextDouble();
        var labels = new byte[100];
        for (int i = 0; i < labels.Length; i++) labels[i] = (byte)rng.Next(10);
        return (net, trainer, x, labels);
    }

    [Theory]
    [InlineData(1, 1, false, 0)]
    [InlineData(2, 1, false, 0)]
    [InlineData(2, 2, false, 0)]
    [InlineData(1, 1, true, 0)]
    [InlineData(2, 1, true, 0)]
    [InlineData(1, 1, true, 3)]    // the batch of 10 in passes of 3 and 4 (2, 3, 2, 3)
    [InlineData(2, 2, false, 2)]   // each slice of 5 in passes of 1 and 2
    public void TrainingStep_AndPredict_AllocateNothing_AfterWarmUp(int threads, int split, bool plainSgd, int microBatch)
    {
        var (net, trainer, x, labels) = SmallProblem(1, threads, split: split, plainSgd: plainSgd, microBatch: microBatch);
        using (net) using (trainer)
        {
            Assert.Equal(plainSgd, trainer.FusesWeightUpdate);
            var output = new float[10];
            for (int i = 0; i < 3; i++) { trainer.Step(x.AsSpan(0, 1440), labels.AsSpan(0, 10)); net.Predict(x.AsSpan(0, 144), output); net.PredictBatch(x, new float[1000]); }
            var outputs = new float[1000];
            SteadyState.AssertAllocatesNothing(() =>
            {
                for (int i = 0; i < 10; i++)
                {
                    trainer.Step(x.AsSpan(i * 1440, 1440), labels.AsSpan(i * 10, 10));
                    net.Predict(x.AsSpan(i * 144, 144), output);
                    net.Classify(x.AsSpan(i * 144, 144));
                    net.PredictBatch(x, outputs);
                }
            });
        }
    }

    private static float[][] TrainSmall(int threads, int split, bool plainSgd = false)
    {
        var (net, trainer, x, labels) = SmallProblem(3, threads, split: split, plainSgd: plainSgd);
        using (net) using (trainer)
        {
            Assert.Equal(Math.Max(1, split), trainer.Split);
            for (int epoch = 0; epoch < 3; epoch++)
                for (int i = 0; i < 10; i++) trainer.Step(x.AsSpan(i * 1440, 1440), labels.AsSpan(i * 10, 10));
            return net.ExportParameters();
        }
    }

    /// <summary>
    /// A share of the batch larger than <see cref="SgdOptions.MicroBatch"/> runs in passes on one smaller workspace, each
    /// adding its gradients to the earlier ones': without dropout, the gradients and 30 training steps must follow one
    /// pass up to rounding, whole and split over two threads, and with plain SGD, where the one pass fuses the dense
    /// layers' update and the passes cannot. (The gradients are taken after ten steps: chapter 6's initialization starts
    /// the output layer at zero, which passes no error back.)
    /// </summary>
    [Theory]
    [InlineData(1, 1, 3, false)]
    [InlineData(2, 2, 2, false)]
    [InlineData(2, 2, 4, false)]
    [InlineData(1, 1, 4, true)]
    public void Passes_FollowOnePass(int threads, int split, int microBatch, bool plainSgd)
    {
        (float[][] Gradients, float[][] Trained) Run(int micro)
        {
            var (net, trainer, x, labels) = SmallProblem(6, threads, dropout: 0f, split: split, plainSgd: plainSgd, microBatch: micro);
            using (net) using (trainer)
            {
                Assert.Equal(micro == 0 ? 10 : micro, trainer.MicroBatch);
                Assert.Equal(plainSgd && micro == 0, trainer.FusesWeightUpdateOn(10));
                for (int i = 0; i < 10; i++) trainer.Step(x.AsSpan(i * 1440, 1440), labels.AsSpan(i * 10, 10));
                var y = new float[100];
                SgdTrainer.OneHot(labels.AsSpan(0, 10), y, 10);
                trainer.ForwardBackward(x.AsSpan(0, 1440), y, 10);
                var gradients = net.Parameters.Select(p => CpuBackend.Span(p.Gradient).ToArray()).ToArray();
                for (int epoch = 0; epoch < 2; epoch++)
                    for (int i = 0; i < 10; i++) trainer.Step(x.AsSpan(i * 1440, 1440), labels.AsSpan(i * 10, 10));
                return (gradients, net.ExportParameters());
            }
        }
        var (onePassGradients, onePass) = Run(0);
        var (passGradients, passes) = Run(microBatch);
        AssertClose(onePassGradients, passGradients, 1e-5f, "gradient");
        AssertClose(onePass, passes, 1e-4f, "trained");
        Assert.All(onePassGradients, g => Assert.Contains(g, v => v != 0f));

        static void AssertClose(float[][] expected, float[][] actual, float tolerance, string what)
        {
            for (int t = 0; t < expected.Length; t++)
                for (int i = 0; i < expected[t].Length; i++)
                    Assert.True(Math.Abs(expected[t][i] - actual[t][i]) <= tolerance * (1 + Math.Abs(expected[t][i])),
                        $"{what} tensor {t}[{i}]: {actual[t][i]} in passes, {expected[t][i]} in one");
        }
    }

    /// <summary>
    /// Each pass of a step draws its own dropout masks: a batch of the same five examples twice, in two passes of five,
    /// would give exactly twice one pass's gradient if the passes shared their masks (after the same ten steps in passes
    /// of five on both trainers, so that the output layer passes an error back).
    /// </summary>
    [Fact]
    public void Passes_DrawTheirOwnDropoutMasks()
    {
        float[] Gradient(int count, int microBatch)
        {
            var (net, trainer, x, labels) = SmallProblem(7, dropout: 0.5f, split: 1, microBatch: microBatch);
            using (net) using (trainer)
            {
                for (int i = 0; i < 10; i++) trainer.Step(x.AsSpan(i * 1440, 1440), labels.AsSpan(i * 10, 10));
                var twice = new float[10 * 144];
                x.AsSpan(0, 5 * 144).CopyTo(twice);
                x.AsSpan(0, 5 * 144).CopyTo(twice.AsSpan(5 * 144));
                var y = new float[100];
                SgdTrainer.OneHot([.. labels.AsSpan(0, 5), .. labels.AsSpan(0, 5)], y, 10);
                trainer.ForwardBackward(twice.AsSpan(0, count * 144), y.AsSpan(0, count * 10), count);
                return CpuBackend.Span(net.Layers.OfType<DenseLayer>().First().Weights.Gradient).ToArray();
            }
        }
        var onePass = Gradient(5, 5);
        var twoPasses = Gradient(10, 5);
        Assert.Contains(onePass, g => g != 0f);
        Assert.Contains(Enumerable.Range(0, onePass.Length), i => Math.Abs(twoPasses[i] - 2 * onePass[i]) > 1e-4f * (1 + Math.Abs(onePass[i])));
    }

    /// <summary>
    /// Automatic micro-batches: a network whose activations are small takes the whole batch in one pass; one whose
    /// activations are large takes passes whose activations fit <see cref="SgdTrainer.PassBytes"/>, unless a worker's
    /// share holds fewer than two such passes.
    /// </summary>
    [Fact]
    public void AutomaticMicroBatch_BoundsAPassToThePassBudget()
    {
        using var dense = NetworkBuilder.ForInput(784).Dense(30, Activation.Sigmoid).Output(10, OutputCost.SigmoidQuadratic).Build(seed: 1);
        using (var trainer = new SgdTrainer(dense, new SgdOptions { BatchSize = 64 })) Assert.Equal(64, trainer.MicroBatch);
        using var conv = NetworkBuilder.ForImages(1, 28, 28).Conv(20, 5, Activation.ReLU).MaxPool(2).Conv(40, 5, Activation.ReLU).MaxPool(2)
            .Dense(100, Activation.ReLU).Output(10, OutputCost.SoftmaxLogLikelihood).Build(seed: 1);
        int fits = (int)(SgdTrainer.PassBytes / conv.TrainingBytesPerExample());
        Assert.InRange(fits, 2, 31);   // so that a share of 64 holds at least two passes
        using (var trainer = new SgdTrainer(conv, new SgdOptions { BatchSize = 64, MiniBatchSplit = 1 })) Assert.Equal(fits, trainer.MicroBatch);
        using (var trainer = new SgdTrainer(conv, new SgdOptions { BatchSize = 2 * fits - 1, MiniBatchSplit = 1 })) Assert.Equal(2 * fits - 1, trainer.MicroBatch);
        using (var trainer = new SgdTrainer(conv, new SgdOptions { BatchSize = 2 * fits, MiniBatchSplit = 1 })) Assert.Equal(fits, trainer.MicroBatch);
        using (var trainer = new SgdTrainer(conv, new SgdOptions { BatchSize = 64, MicroBatch = 100 })) Assert.Equal(64, trainer.MicroBatch);
        Assert.Throws<ArgumentOutOfRangeException>(() => new SgdOptions { MicroBatch = -1 }.Validate());
    }

    [Fact]
    public void SeededTraining_IsBitIdentical_ForAGivenThreadCountAndSplit()
    {
        Assert.Equal(TrainSmall(1, 1), TrainSmall(1, 1));
        Assert.Equal(TrainSmall(2, 2), TrainSmall(2, 2));
    }

    [Fact]
    public void UnsplitBatches_GiveTheSameBits_OnAnyThreadCount()
    {
        // Kernel-level threading partitions C, never a sum, so the thread count cannot change a result.
        Assert.Equal(TrainSmall(1, 1), TrainSmall(2, 1));
        Assert.Equal(TrainSmall(1, 1, plainSgd: true), TrainSmall(2, 1, plainSgd: true));   // with the fused SGD update
    }

    /// <summary>
    /// Plain SGD with L2 folds the fully connected layers' update into their weight-gradient GEMM. The weights must follow
    /// the separate gradient-then-update path up to rounding, over 30 steps with dropout. Their gradient tensors are never
    /// written on the fused path, which shows that it ran.
    /// </summary>
    [Fact]
    public void FusedWeightUpdate_FollowsTheSeparateUpdate()
    {
        (float[][] Weights, float[] DenseGradient) Train(bool fuse)
        {
            var (net, trainer, x, labels) = SmallProblem(4, split: 1, plainSgd: true, fuse: fuse);
            using (net) using (trainer)
            {
                for (int epoch = 0; epoch < 3; epoch++)
                    for (int i = 0; i < 10; i++) trainer.Step(x.AsSpan(i * 1440, 1440), labels.AsSpan(i * 10, 10));
                var dense = net.Layers.OfType<DenseLayer>().First();
                return (net.ExportParameters(), CpuBackend.Span(dense.Weights.Gradient).ToArray());
            }
        }
        var (fused, fusedGradient) = Train(fuse: true);
        var (separate, separateGradient) = Train(fuse: false);
        Assert.All(fusedGradient, g => Assert.Equal(0f, g));
        Assert.Contains(separateGradient, g => g != 0f);
        for (int t = 0; t < fused.Length; t++)
            for (int i = 0; i < fused[t].Length; i++)
                Assert.True(Math.Abs(fused[t][i] - separate[t][i]) <= 1e-4f * (1 + Math.Abs(separate[t][i])), $"tensor {t}[{i}]: {fused[t][i]} vs {separate[t][i]}");
        // And the weights moved: the step did something.
        var (net0, trainer0, _, _) = SmallProblem(4, split: 1, plainSgd: true);
        using (net0) using (trainer0) Assert.NotEqual(net0.ExportParameters()[2], fused[2]);
    }

    /// <summary>
    /// Where the backend has a direct convolution kernel, training convolves with it and unfolds the input only in backward,
    /// for the weight gradient, on batches of at least 10. Thirty such steps of a network whose convolution it covers
    /// (12x12 -> 8x8 maps), with three 5-example steps between them, must follow the same steps through im2col and the
    /// scalar GEMM (no direct kernel) up to rounding.
    /// </summary>
    [Fact]
    public void Training_ThroughTheDirectConvolution_FollowsTheUnfoldedPath()
    {
        float[][] Train(IComputeBackend backend)
        {
            using var net = NetworkBuilder.ForImages(1, 12, 12).Conv(4, 5, Activation.ReLU).MaxPool(2).Dense(16, Activation.Sigmoid)
                .Output(10, OutputCost.SoftmaxLogLikelihood).Build(5, WeightInit.Chapter6, backend);
            using var trainer = new SgdTrainer(net, new SgdOptions { BatchSize = 10, LearningRate = 0.1f, TrainingSetSize = 100 });
            var rng = new Random(5);
            var x = new float[100 * 144];
            for (int i = 0; i < x.Length; i++) x[i] = (float)rng.NextDouble();
            var labels = new byte[100];
            for (int i = 0; i < labels.Length; i++) labels[i] = (byte)rng.Next(10);
            for (int epoch = 0; epoch < 3; epoch++)
            {
                for (int i = 0; i < 10; i++) trainer.Step(x.AsSpan(i * 1440, 1440), labels.AsSpan(i * 10, 10));
                trainer.Step(x.AsSpan(0, 720), labels.AsSpan(0, 5));   // a short batch: unfolds in forward, on either backend
            }
            return net.ExportParameters();
        }
        var profiled = new ProfilingBackend(new CpuBackend(1));
        var direct = Train(profiled);
        if (CpuContext.Default.Level != CpuLevel.Scalar)
            Assert.Contains(profiled.Report(), r => r.Primitive == "DirectConvolve");
        else
            Assert.DoesNotContain(profiled.Report(), r => r.Primitive == "DirectConvolve");
        var unfolded = Train(new CpuBackend(1, CpuContext.For(CpuLevel.Scalar)));
        for (int t = 0; t < direct.Length; t++)
            for (int i = 0; i < direct[t].Length; i++)
                Assert.True(Math.Abs(direct[t][i] - unfolded[t][i]) <= 1e-4f * (1 + Math.Abs(unfolded[t][i])), $"tensor {t}[{i}]: {direct[t][i]} vs {unfolded[t][i]}");
    }

    /// <summary>The outputs [batch x 10] of the training forward pass (no dropout in these networks: it is deterministic).</summary>
    private static float[] TrainingForward(Network net, float[] x, int batch)
    {
        using var ws = net.CreateWorkspace(batch, training: true);
        ws.LoadInputs(x, batch);
        ws.Forward(batch, training: true, seed: 1, step: 0);
        var outputs = new float[batch * 10];
        net.Backend.Download(ws.Output, outputs);
        return outputs;
    }

    /// <summary>
    /// Inference pools a convolution's maps before its bias and activation when a max pool follows (the book's order);
    /// training activates first. Both orders must give the same outputs, bit for bit, for every activation; other pool
    /// kinds do not commute with the activation and keep the training order.
    /// </summary>
    [Theory]
    [InlineData(Activation.ReLU, PoolKind.Max)]
    [InlineData(Activation.Sigmoid, PoolKind.Max)]
    [InlineData(Activation.Tanh, PoolKind.Max)]
    [InlineData(Activation.Identity, PoolKind.Max)]
    [InlineData(Activation.ReLU, PoolKind.Average)]
    [InlineData(Activation.Sigmoid, PoolKind.L2)]
    public void Inference_PoolingBeforeTheActivation_GivesTheTrainingForwardOutputs(Activation f, PoolKind pool)
    {
        using var net = NetworkBuilder.ForImages(1, 12, 12).Conv(4, 3, f).Pool(pool, 2).Conv(6, 3, f).Pool(pool, 2)
            .Dense(16, Activation.Sigmoid).Output(10, OutputCost.SoftmaxLogLikelihood).Build(7, WeightInit.ScaledByFanIn, new CpuBackend(1));
        var convs = net.Layers.OfType<ConvLayer>().ToArray();
        Assert.All(convs, c => Assert.Equal(pool == PoolKind.Max, c.PooledBy is not null));
        const int batch = 20;
        var rng = new Random(3);
        var x = new float[batch * 144];
        for (int i = 0; i < x.Length; i++) x[i] = (float)rng.NextDouble();
        var trained = TrainingForward(net, x, batch);
        var inferred = new float[batch * 10];
        net.PredictBatch(x, inferred);
        Assert.Equal(trained, inferred);
        var single = new float[10];
        net.Predict(x.AsSpan(144, 144), single);
        Assert.Equal(trained.AsSpan(10, 10).ToArray(), single);
    }

    /// <summary>
    /// The book's convolutions (24 x 24 and 8 x 8 maps) on a CPU with a direct kernel pool inside the convolution in
    /// inference: batches and single images, on one thread and two, give the training forward's outputs bit for bit,
    /// for every activation (the pooled values are those of pooling the full maps).
    /// </summary>
    [Theory]
    [InlineData(Activation.ReLU, 1)]
    [InlineData(Activation.ReLU, 2)]
    [InlineData(Activation.Sigmoid, 2)]
    [InlineData(Activation.Tanh, 1)]
    [InlineData(Activation.Identity, 2)]
    public void Inference_PoolingInsideTheConvolution_GivesTheTrainingForwardOutputs(Activation f, int threads)
    {
        using var backend = new CpuBackend(threads);
        using var net = NetworkBuilder.ForImages(1, 28, 28).ConvPool(20, 5, f).ConvPool(40, 5, f)
            .Dense(30, Activation.Sigmoid).Output(10, OutputCost.SoftmaxLogLikelihood).Build(9, WeightInit.Chapter6, backend);
        var convs = net.Layers.OfType<ConvLayer>().ToArray();
        Assert.All(convs, c => Assert.Equal(CpuContext.Default.HasDirectConvolution, c.PoolsInside(backend)));
        const int batch = 12;
        var rng = new Random(4);
        var x = new float[batch * 784];
        for (int i = 0; i < x.Length; i++) x[i] = (float)rng.NextDouble() - 0.3f;
        var trained = TrainingForward(net, x, batch);
        var inferred = new float[batch * 10];
        net.PredictBatch(x, inferred);
        Assert.Equal(trained, inferred);
        var single = new float[10];
        for (int i = 0; i < batch; i++)
        {
            net.Predict(x.AsSpan(i * 784, 784), single);
            Assert.Equal(trained.AsSpan(i * 10, 10).ToArray(), single);
        }
    }

    [Fact]
    public void SplitBatches_GiveTheSameBits_OnAnyThreadCount()
    {
        // Two slices on one thread or two: the slices' sum and the optimizer step (momentum, Nesterov, L1, L2) are shared
        // out by element ranges over the pool, which must not change a bit.
        Assert.Equal(TrainSmall(1, 2), TrainSmall(2, 2));
        Assert.Equal(TrainSmall(1, 3), TrainSmall(2, 3));
    }

    [Fact]
    public void SplitSteps_FollowTheWholeBatchSteps()
    {
        // The same 30 steps (momentum, Nesterov, L1 and L2; dropout off, as its masks differ per slice) with the batch whole
        // and in two slices: the parameters agree up to rounding, and they moved.
        float[][] Train(int split)
        {
            var (net, trainer, x, labels) = SmallProblem(6, threads: 2, dropout: 0f, split: split);
            using (net) using (trainer)
            {
                for (int epoch = 0; epoch < 3; epoch++)
                    for (int i = 0; i < 10; i++) trainer.Step(x.AsSpan(i * 1440, 1440), labels.AsSpan(i * 10, 10));
                return net.ExportParameters();
            }
        }
        var whole = Train(1);
        var split = Train(2);
        for (int t = 0; t < whole.Length; t++)
            for (int i = 0; i < whole[t].Length; i++)
                Assert.True(Math.Abs(whole[t][i] - split[t][i]) <= 1e-4f * (1 + Math.Abs(whole[t][i])), $"tensor {t}[{i}]: {whole[t][i]} vs {split[t][i]}");
        var (net0, trainer0, _, _) = SmallProblem(6, threads: 2, dropout: 0f, split: 2);
        using (net0) using (trainer0)
            for (int t = 0; t < whole.Length; t++) Assert.NotEqual(net0.ExportParameters()[t], split[t]);
    }

    [Fact]
    public void SplitBatches_MatchTheWholeBatchGradient()
    {
        // Two slices summed equal the whole batch's gradient up to rounding (dropout off: masks differ per slice).
        float[][] Gradients(int split)
        {
            var (net, trainer, x, labels) = SmallProblem(5, threads: 2, dropout: 0f, split: split);
            using (net) using (trainer)
            {
                var y = new float[100];
                for (int i = 0; i < 10; i++) y[i * 10 + labels[i]] = 1f;
                trainer.ForwardBackward(x.AsSpan(0, 1440), y, 10);
                return net.Parameters.Select(p => CpuBackend.Span(p.Gradient).ToArray()).ToArray();
            }
        }
        var whole = Gradients(1);
        var split = Gradients(2);
        for (int t = 0; t < whole.Length; t++)
            for (int i = 0; i < whole[t].Length; i++)
                Assert.True(Math.Abs(whole[t][i] - split[t][i]) <= 1e-4f * (1 + Math.Abs(whole[t][i])), $"tensor {t}[{i}]: {whole[t][i]} vs {split[t][i]}");
    }

    /// <summary>
    /// 5x5 convolutions on 12x12 images give 8x8 maps, which the CPU's direct kernel covers on AVX-512 machines: inference
    /// then skips im2col. Its outputs must match the unfolded path (the scalar-kernel backend always unfolds), and it must
    /// stay allocation-free, on one thread and split over two.
    /// </summary>
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void Predict_ThroughTheDirectConvolution_MatchesTheUnfoldedPath_AndAllocatesNothing(int threads)
    {
        Network Build(IComputeBackend backend) => NetworkBuilder.ForImages(1, 12, 12).Conv(6, 5, Activation.ReLU).Conv(9, 1, Activation.ReLU)
            .MaxPool(2).Output(10, OutputCost.SoftmaxLogLikelihood).Build(7, WeightInit.Chapter6, backend);
        using var direct = Build(new CpuBackend(threads));
        using var unfolded = Build(new CpuBackend(threads, CpuContext.For(CpuLevel.Scalar)));
        var rng = new Random(3);
        var x = new float[20 * 144];
        for (int i = 0; i < x.Length; i++) x[i] = (float)rng.NextDouble();
        var expected = new float[200];
        var actual = new float[200];
        unfolded.PredictBatch(x, expected);
        direct.PredictBatch(x, actual);
        for (int i = 0; i < 200; i++) Assert.True(Math.Abs(expected[i] - actual[i]) < 1e-5, $"batch output {i}: {actual[i]} vs {expected[i]}");
        var one = new float[10];
        for (int i = 0; i < 20; i++)
        {
            direct.Predict(x.AsSpan(i * 144, 144), one);
            for (int j = 0; j < 10; j++) Assert.True(Math.Abs(expected[i * 10 + j] - one[j]) < 1e-5, $"image {i} output {j}");
        }
        SteadyState.AssertAllocatesNothing(() => { for (int i = 0; i < 20; i++) direct.Predict(x.AsSpan(i * 144, 144), one); direct.PredictBatch(x, actual); });

        // And the direct kernel is what ran (where the CPU has it), both convolutions of each Predict: the second, which a
        // 2x2 max pool follows, pooling inside its units.
        var profiler = new ProfilingBackend(new CpuBackend(threads));
        using (var profiled = Build(profiler)) profiled.Predict(x.AsSpan(0, 144), one);
        long Calls(string primitive) => profiler.Report().Where(r => r.Primitive == primitive).Sum(r => r.Calls);
        bool hasDirect = CpuContext.Default.Level != CpuLevel.Scalar;
        Assert.Equal(hasDirect ? 1 : 0, Calls("DirectConvolve"));
        Assert.Equal(hasDirect ? 1 : 0, Calls("DirectConvolveMaxPool"));
        Assert.Equal(hasDirect ? 0 : 1, Calls("PoolForward"));
    }

    /// <summary>The book's ch6-relu network (conv 20, conv 40, FC 100) with random weights.</summary>
    private static Network Ch6Relu(IComputeBackend backend, int seed) => NetworkBuilder.ForImages(1, 28, 28).ConvPool(20, 5, Activation.ReLU)
        .ConvPool(40, 5, Activation.ReLU).Dense(100, Activation.ReLU).Output(10, OutputCost.SoftmaxLogLikelihood).Build(seed, WeightInit.Chapter6, backend);

    /// <summary>ch6-relu with the same weights on a two-thread backend and on a one-thread one, whose bits the other must keep.</summary>
    private sealed class Ch6ReluOnTwoAndOneThreads : IDisposable
    {
        public readonly CpuBackend Two = new(2), One = new(1);
        public readonly Network OnTwo, OnOne;

        public Ch6ReluOnTwoAndOneThreads(int seed)
        {
            OnTwo = Ch6Relu(Two, seed);
            OnOne = Ch6Relu(One, seed);
        }

        public void Dispose()
        {
            OnTwo.Dispose();
            OnOne.Dispose();
            Two.Dispose();
            One.Dispose();
        }
    }

    /// <summary>
    /// A network below <see cref="Network.SingleImagePoolMinMacs"/> predicts single images on a claiming view of the
    /// backend's pool (the calling thread leads, running workers join), split or alone as its trials decide: the same
    /// bits as a one-thread backend through both halves of the first trial and after it, nothing allocated. chapter 1's
    /// network has no kernel to split and runs no trials; a larger one uses the pool's fixed shares.
    /// </summary>
    [Fact]
    public void SingleImages_OfSmallNetworks_RunOnAClaimingView_WithTheSameBits()
    {
        using var nets = new Ch6ReluOnTwoAndOneThreads(seed: 3);
        var (two, onTwo, onOne) = (nets.Two, nets.OnTwo, nets.OnOne);
        Assert.True(onTwo.SingleImageRunsOnClaimingView);
        Assert.False(onOne.SingleImageRunsOnClaimingView);   // nothing to avoid: the pool is the calling thread
        var rng = new Random(5);
        var x = new float[784];
        float[] a = new float[10], b = new float[10];
        for (int i = 0; i < 2 * SingleImageSplit.TrialCalls + 6; i++)
        {
            for (int j = 0; j < x.Length; j++) x[j] = (float)rng.NextDouble();
            onTwo.Predict(x, a);
            onOne.Predict(x, b);
            Assert.Equal(b, a);
        }
        Assert.NotNull(onTwo.SingleImagesSplit);   // the first trial has given its verdict, whichever it is
        SteadyState.AssertAllocatesNothing(() => { for (int i = 0; i < 20; i++) onTwo.Predict(x, a); });
        using var ch1 = NetworkBuilder.ForInput(784).Dense(30, Activation.Sigmoid).Output(10, OutputCost.SigmoidQuadratic).Build(1, backend: two);
        Assert.True(ch1.SingleImageRunsOnClaimingView);
        Assert.Null(ch1.SingleImagesSplit);

        using var large = NetworkBuilder.ForInput(4096).Dense(4096, Activation.ReLU).Output(10, OutputCost.SoftmaxLogLikelihood).Build(1, backend: two);
        Assert.True(4096L * 4096 >= Network.SingleImagePoolMinMacs);
        Assert.False(large.SingleImageRunsOnClaimingView);
    }

    /// <summary>
    /// Four threads predict at once through a network whose single images run trials (split, then alone, then the
    /// verdict): calls see the view switched between them, or in the middle of a call, and every output keeps the bits
    /// of a one-thread backend.
    /// </summary>
    [Fact]
    public void ConcurrentPredict_ThroughSplitTrials_KeepsTheBits()
    {
        using var nets = new Ch6ReluOnTwoAndOneThreads(seed: 4);
        var (onTwo, onOne) = (nets.OnTwo, nets.OnOne);
        var rng = new Random(8);
        var x = new float[40 * 784];
        for (int i = 0; i < x.Length; i++) x[i] = (float)rng.NextDouble();
        var expected = new float[40 * 10];
        for (int i = 0; i < 40; i++) onOne.Predict(x.AsSpan(i * 784, 784), expected.AsSpan(i * 10, 10));
        var results = new float[4][];
        Parallel.For(0, 4, new ParallelOptions { MaxDegreeOfParallelism = 4 }, t =>
        {
            var mine = new float[40 * 10];
            for (int rep = 0; rep < 3; rep++)   // 480 calls in all: the first trial and well past its verdict
                for (int i = 0; i < 40; i++) onTwo.Predict(x.AsSpan(i * 784, 784), mine.AsSpan(i * 10, 10));
            results[t] = mine;
        });
        foreach (var r in results) Assert.Equal(expected, r);
        Assert.NotNull(onTwo.SingleImagesSplit);
    }

    [Fact]
    public void ConcurrentPredict_From8Threads_EqualsSingleThreaded()
    {
        var (net, trainer, x, labels) = SmallProblem(4);
        using (net) using (trainer)
        {
            for (int i = 0; i < 10; i++) trainer.Step(x.AsSpan(i * 1440, 1440), labels.AsSpan(i * 10, 10));
            var expected = new float[100 * 10];
            for (int i = 0; i < 100; i++) net.Predict(x.AsSpan(i * 144, 144), expected.AsSpan(i * 10, 10));
            var results = new float[8][];
            Parallel.For(0, 8, new ParallelOptions { MaxDegreeOfParallelism = 8 }, t =>
            {
                var mine = new float[100 * 10];
                for (int rep = 0; rep < 20; rep++)
                    for (int i = 0; i < 100; i++) net.Predict(x.AsSpan(i * 144, 144), mine.AsSpan(i * 10, 10));
                results[t] = mine;
            });
            foreach (var r in results) Assert.Equal(expected, r);
            var batched = new float[1000];
            net.PredictBatch(x, batched);
            for (int i = 0; i < batched.Length; i++) Assert.True(Math.Abs(batched[i] - expected[i]) < 1e-5, $"batch vs single at {i}");
        }
    }

    [Fact]
    public void Spec_WithDropout_PutsItOnFullyConnectedInputsAfterTheFirstHiddenLayer()
    {
        var spec = NetworkSpec.Parse("input 1x28x28 | conv 20 5 relu | maxpool 2 | dense 100 relu | output 10 softmax dropout=0.2");
        Assert.Equal("input 1x28x28 | conv 20 5 relu | maxpool 2 | dense 100 relu dropout=0.5 | output 10 softmax dropout=0.5", spec.WithDropout(0.5f).Text);
        Assert.Equal("input 784 | dense 30 sigmoid dropout=0.1 | output 10 softmax", NetworkSpec.Parse("input 784 | dense 30 sigmoid dropout=0.1 | output 10 softmax dropout=0.4").WithDropout(0f).Text);
        Assert.Throws<ArgumentOutOfRangeException>(() => spec.WithDropout(1f));
    }

    [Fact]
    public void BadInput_ThrowsClearErrors()
    {
        using var net = NetworkBuilder.ForInput(4).Output(2, OutputCost.SoftmaxLogLikelihood).Build();
        var ex = Assert.Throws<ArgumentException>(() => net.Predict(new float[3], new float[2]));
        Assert.Contains("expects 4", ex.Message);
        Assert.Throws<InvalidOperationException>(() => NetworkBuilder.ForInput(4).Dense(3, Activation.ReLU).Build());
        Assert.Throws<ArgumentOutOfRangeException>(() => new SgdTrainer(net, new SgdOptions { LearningRate = float.NaN }));
        using var trainer = new SgdTrainer(net, new SgdOptions { BatchSize = 2 });
        Assert.Throws<ArgumentException>(() => trainer.Step(new float[8], new byte[] { 0, 7 }));
    }
}
