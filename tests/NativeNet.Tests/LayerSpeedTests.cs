using NativeNet.Core.Backends;
using NativeNet.Data;
using NativeNet.Training;

namespace NativeNet.Tests;

public class LayerSpeedTests
{
    /// <summary>Sparse random "images" with random labels: enough to take a gradient, no learning needed.</summary>
    private static LabeledImages RandomImages(int count, int seed)
    {
        var rng = new Random(seed);
        var x = new float[count * 784];
        for (int i = 0; i < x.Length; i++) x[i] = rng.NextDouble() < 0.2 ? (float)rng.NextDouble() : 0f;
        var labels = new byte[count];
        for (int i = 0; i < count; i++) labels[i] = (byte)rng.Next(10);
        return new LabeledImages(x, labels, 28, 28);
    }

    [Fact]
    public void Chapter5_FourHiddenLayers_FirstLearnsSlowerThanLast_AtInitialization()
    {
        // The book's [784,30,30,30,30,10] with its initialization (N(0, 1/n_in) weights): 0.003, 0.017, 0.070, 0.285.
        var preset = Presets.Get("ch5-4");
        Assert.True(preset.LayerSpeed);
        using var net = preset.Spec.Build(seed: 1, preset.Init, new CpuBackend(1));
        using var probe = new LayerSpeedProbe(net, RandomImages(1200, seed: 3));
        Assert.Equal(4, probe.HiddenLayers);
        Assert.Equal(1000, probe.Images);
        var norms = probe.Measure();
        Assert.Equal(4, norms.Length);
        Assert.All(norms, n => Assert.True(n > 0 && double.IsFinite(n)));
        Assert.True(norms[0] < norms[3] / 10, $"||delta|| per hidden layer: {string.Join(", ", norms)}");
        for (int l = 1; l < 4; l++) Assert.True(norms[l - 1] < norms[l], $"||delta|| per hidden layer: {string.Join(", ", norms)}");
    }

    [Fact]
    public void LabelOutsideTheOutputs_IsRefusedWithItsIndex_ByTheProbeAndTheTrainer()
    {
        using var net = NetworkSpec.Parse("input 784 | dense 12 sigmoid | dense 8 sigmoid | output 10 sigmoid-ce").Build(2, WeightInit.ScaledByFanIn, new CpuBackend(1));
        var images = RandomImages(5, seed: 6);
        images.Labels[3] = 10;
        var probe = Assert.Throws<ArgumentException>(() => new LayerSpeedProbe(net, images, images: 5));
        Assert.Equal("training", probe.ParamName);
        Assert.Contains("Label 10 at index 3 is outside the network's 10 output classes", probe.Message);
        using var trainer = new SgdTrainer(net, new SgdOptions { BatchSize = 5, MiniBatchSplit = 1 });
        var step = Assert.Throws<ArgumentException>(() => trainer.Step(images.Pixels, images.Labels));
        Assert.Equal("labels", step.ParamName);
        Assert.Contains("Label 10 at index 3 is outside the network's 10 output classes", step.Message);
    }

    [Fact]
    public void Probe_MatchesTheBiasGradientFromItsDefinition()
    {
        // ||delta^l|| = || (1/n) sum_x dC_x/db^l ||: the probe's figure against the gradient of a plain trainer on the same images.
        using var net = NetworkSpec.Parse("input 784 | dense 12 sigmoid | dense 8 sigmoid | output 10 sigmoid-ce").Build(2, WeightInit.ScaledByFanIn, new CpuBackend(1));
        var images = RandomImages(50, seed: 4);
        using var probe = new LayerSpeedProbe(net, images, images: 50);
        var norms = probe.Measure();
        Assert.Equal(2, norms.Length);
        var targets = new float[50 * 10];
        for (int i = 0; i < 50; i++) targets[i * 10 + images.Labels[i]] = 1f;
        using var trainer = new SgdTrainer(net, new SgdOptions { BatchSize = 50, MiniBatchSplit = 1 });
        trainer.ForwardBackward(images.Pixels, targets, 50);
        var biasGradients = net.Parameters.Where(p => !p.IsWeight).Select(p => CpuBackend.Span(p.Gradient).ToArray()).ToArray();
        for (int l = 0; l < 2; l++)
        {
            double norm = Math.Sqrt(biasGradients[l].Sum(g => (double)g * g)) / 50;
            Assert.Equal(norm, norms[l], 1e-6);
        }
    }

    [Fact]
    public void Recording_DoesNotChangeTraining_AndLabelsEpochs()
    {
        const string spec = "input 784 | dense 16 sigmoid | dense 16 sigmoid | output 10 sigmoid-ce";
        var images = RandomImages(300, seed: 5);
        float[][] Train(bool measure, out IReadOnlyList<LayerSpeedRecord> history)
        {
            using var net = NetworkSpec.Parse(spec).Build(3, WeightInit.ScaledByFanIn, new CpuBackend(1));
            var options = new TrainingOptions { Epochs = 3, Sgd = new SgdOptions { BatchSize = 10, LearningRate = 0.5f, L2 = 1f, TrainingSetSize = 300 } };
            var session = new TrainingSession(net, NetworkSpec.Parse(spec), options, images, null, null);
            using var probe = measure ? new LayerSpeedProbe(net, images, images: 100) : null;
            probe?.Start();
            session.OnEpoch = r => probe?.Record(r.Epoch);
            session.Run();
            history = probe?.History ?? [];
            return net.ExportParameters();
        }
        var plain = Train(false, out _);
        var measured = Train(true, out var history);
        Assert.Equal(plain, measured);
        Assert.Equal([0, 1, 2, 3], history.Select(h => h.Epoch));
        Assert.All(history, h => Assert.Equal(2, h.Norms.Count));
        Assert.NotEqual(history[0].Norms[0], history[3].Norms[0]);   // training moved the layer
    }

    [Fact]
    public void Probe_RejectsNetworksWithoutHiddenLayersAndMismatchedImages()
    {
        using var flat = NetworkSpec.Parse("input 784 | output 10 softmax").Build(1, WeightInit.Chapter6, new CpuBackend(1));
        Assert.Throws<ArgumentException>(() => new LayerSpeedProbe(flat, RandomImages(10, 1)));
        using var net = NetworkSpec.Parse("input 16 | dense 4 sigmoid | output 10 softmax").Build(1, WeightInit.Chapter6, new CpuBackend(1));
        Assert.Throws<ArgumentException>(() => new LayerSpeedProbe(net, RandomImages(10, 1)));
    }
}
