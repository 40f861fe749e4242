using System.Diagnostics;
using NativeNet.Core.Kernels;
using NativeNet.Data;
using NativeNet.Layers;
using NativeNet.Persistence;
using NativeNet.Training;

namespace NativeNet.Tests;

public class TrainingReliabilityTests
{
    private static LabeledImages Random(int count, int seed) => TinyData.Make(count, seed);

    [Fact]
    public void Divergence_StopsWithAClearMessage_AndKeepsTheBestModel()
    {
        var spec = NetworkSpec.Parse("input 16 | dense 8 relu | output 2 linear");
        using var net = spec.Build(1, WeightInit.StandardNormal);
        using var temp = new TempDirectory();
        string dir = temp.File("run");
        var data = Random(200, 1);
        var session = new TrainingSession(net, spec, new TrainingOptions
        {
            Epochs = 50, OutputDirectory = dir,
            Sgd = new SgdOptions { BatchSize = 10, LearningRate = 1e4f, TrainingSetSize = 200 },
        }, data, Random(50, 2), null);
        var e = Assert.Throws<TrainingDivergedException>(() => session.Run());
        Assert.Contains("diverged at epoch", e.Message);
        Assert.Contains("learning rate", e.Message);
        // Either it diverged before any evaluation (nothing to keep) or the best model on disk is intact and finite.
        string best = Path.Combine(dir, TrainingSession.BestModelFile);
        if (File.Exists(best))
            using (var kept = ModelFile.Load(best))
                Assert.All(kept.ExportParameters().SelectMany(t => t), v => Assert.True(float.IsFinite(v)));
    }

    [Fact]
    public void DistortedTraining_ResumesBitIdentically()
    {
        var spec = NetworkSpec.Parse("input 1x4x4 | dense 8 sigmoid | output 2 softmax");
        var data = Random(200, 4);
        TrainingOptions Options(int epochs, string dir) => new()
        {
            Epochs = epochs, OutputDirectory = dir, Distortion = new DistortionOptions { MaxRotationDegrees = 15, ElasticAlpha = 2, ElasticSigma = 1 },
            Sgd = new SgdOptions { BatchSize = 10, LearningRate = 0.5f, TrainingSetSize = 200 },
        };
        using var temp = new TempDirectory();
        string whole = temp.File("whole"), parts = temp.File("parts");
        using (var net = spec.Build(1, WeightInit.ScaledByFanIn)) new TrainingSession(net, spec, Options(3, whole), data, Random(50, 5), null).Run();
        using (var net = spec.Build(1, WeightInit.ScaledByFanIn)) new TrainingSession(net, spec, Options(1, parts), data, Random(50, 5), null).Run();
        using (var net = spec.Build(1, WeightInit.ScaledByFanIn))
        {
            var resumed = new TrainingSession(net, spec, Options(3, parts), data, Random(50, 5), null);
            resumed.Resume(parts);
            resumed.Run();
        }
        var a = ModelFile.Read(Path.Combine(whole, TrainingSession.CheckpointFile)).Tensors;
        var b = ModelFile.Read(Path.Combine(parts, TrainingSession.CheckpointFile)).Tensors;
        Assert.Equal(a.Keys.Order(), b.Keys.Order());
        foreach (var key in a.Keys) Assert.Equal(a[key], b[key]);
    }

    [Fact]
    public async Task TrainingOneNetwork_WhileAnotherPredicts_IsSafe()
    {
        var spec = NetworkSpec.Parse("input 16 | dense 8 sigmoid | output 2 softmax");
        using var served = spec.Build(1, WeightInit.ScaledByFanIn);
        using var trained = spec.Build(2, WeightInit.ScaledByFanIn);
        var data = Random(500, 3);
        var expected = new float[2];
        served.Predict(data.Pixels.AsSpan(0, 16), expected);
        using var trainer = new SgdTrainer(trained, new SgdOptions { BatchSize = 10, LearningRate = 0.5f, TrainingSetSize = 500 });
        var stop = false;
        var readers = Enumerable.Range(0, 4).Select(_ => Task.Run(() =>
        {
            var o = new float[2];
            while (!Volatile.Read(ref stop))
            {
                served.Predict(data.Pixels.AsSpan(0, 16), o);
                Assert.Equal(expected, o);
            }
        })).ToArray();
        for (int epoch = 0; epoch < 20; epoch++)
            for (int b = 0; b < 50; b++) trainer.Step(data.Pixels.AsSpan(b * 160, 160), data.Labels.AsSpan(b * 10, 10));
        Volatile.Write(ref stop, true);
        await Task.WhenAll(readers);
        Assert.True(trainer.Evaluate(data.Pixels, data.Labels).Accuracy > 0.9);
    }

    /// <summary>
    /// What the README promises for predicting from a network while it trains: no crash and no error, finite outputs
    /// computed from weights some of which the step in progress has already updated, and, once training stops, the
    /// same outputs as a quiet network.
    /// </summary>
    [Fact]
    public async Task PredictingFromTheNetworkBeingTrained_NeverFails_AndSettlesWhenTrainingStops()
    {
        var spec = NetworkSpec.Parse("input 16 | dense 8 sigmoid | output 2 softmax");
        using var net = spec.Build(1, WeightInit.ScaledByFanIn);
        var data = Random(500, 3);
        using var trainer = new SgdTrainer(net, new SgdOptions { BatchSize = 10, LearningRate = 0.5f, TrainingSetSize = 500 });
        var stop = false;
        long calls = 0;
        var readers = Enumerable.Range(0, 3).Select(r => Task.Run(() =>
        {
            var o = new float[2];
            var batch = new float[20];
            while (!Volatile.Read(ref stop))
            {
                net.Predict(data.Pixels.AsSpan(r * 16, 16), o);
                net.PredictBatch(data.Pixels.AsSpan(0, 160), batch);
                Assert.All(o, v => Assert.True(float.IsFinite(v)));
                Assert.True(Math.Abs(o[0] + o[1] - 1) < 1e-5, $"softmax outputs {o[0]} + {o[1]}");
                Interlocked.Increment(ref calls);
            }
        })).ToArray();
        // Training a network this small takes milliseconds: start it only once the readers are predicting, so that they
        // do overlap with it even when the thread pool starts them late on a busy machine.
        Assert.True(SpinWait.SpinUntil(() => Interlocked.Read(ref calls) >= readers.Length, TimeSpan.FromSeconds(60)), "the readers never started");
        for (int epoch = 0; epoch < 10; epoch++)
            for (int b = 0; b < 50; b++) trainer.Step(data.Pixels.AsSpan(b * 160, 160), data.Labels.AsSpan(b * 10, 10));
        Volatile.Write(ref stop, true);
        await Task.WhenAll(readers);
        using var quiet = spec.Build(0, WeightInit.ScaledByFanIn);
        quiet.ImportParameters(net.ExportParameters());
        float[] a = new float[2], b2 = new float[2];
        net.Predict(data.Pixels.AsSpan(0, 16), a);
        quiet.Predict(data.Pixels.AsSpan(0, 16), b2);
        Assert.Equal(b2, a);
    }
}
