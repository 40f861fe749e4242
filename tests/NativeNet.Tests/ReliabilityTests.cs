using System.Diagnostics;
using NativeNet.Core.Kernels;
using NativeNet.Data;
using NativeNet.Layers;
using NativeNet.Persistence;
using NativeNet.Training;

namespace NativeNet.Tests;

public class ModelFileTests
{
    private static (Network Net, NetworkSpec Spec) Small()
    {
        var spec = NetworkSpec.Parse("input 1x6x6 | conv 2 3 relu | maxpool 2 | dense 5 sigmoid | output 3 softmax");
        return (spec.Build(3, WeightInit.ScaledByFanIn), spec);
    }

    [Fact]
    public void SaveLoad_RoundTripsEveryParameter_AndPredictions()
    {
        var (net, spec) = Small();
        using (net)
        {
            using var temp = new TempDirectory();
            string path = temp.File("model.safetensors");
            ModelFile.Save(path, net, spec);
            using var loaded = ModelFile.Load(path);
            Assert.Equal(net.ExportParameters(), loaded.ExportParameters());
            var x = Enumerable.Range(0, 36).Select(i => i / 36f).ToArray();
            float[] a = new float[3], b = new float[3];
            net.Predict(x, a); loaded.Predict(x, b);
            Assert.Equal(a, b);
            // The file is plain safetensors: 8-byte header length, JSON header with dtype/shape/data_offsets.
            var bytes = File.ReadAllBytes(path);
            long headerLength = BitConverter.ToInt64(bytes, 0);
            string header = System.Text.Encoding.UTF8.GetString(bytes, 8, (int)headerLength);
            Assert.Contains("\"layers.0.weight\":{\"dtype\":\"F32\",\"shape\":[2,9]", header);
            File.Delete(path);
        }
    }

    [Fact]
    public void MutatedAndTruncatedFiles_OnlyEverThrowModelFormatException()
    {
        var (net, spec) = Small();
        using var temp = new TempDirectory();
        string path = temp.File("model.safetensors");
        using (net) ModelFile.Save(path, net, spec);
        var original = File.ReadAllBytes(path);
        string mutant = path + ".mutant";
        var rng = new Random(2024);
        var clock = Stopwatch.StartNew();
        int runs = 0, rejected = 0;
        while (runs < 10_000 || clock.Elapsed < TimeSpan.FromSeconds(1))
        {
            if (clock.Elapsed > TimeSpan.FromSeconds(60)) break;
            var bytes = (byte[])original.Clone();
            switch (rng.Next(4))
            {
                case 0: Array.Resize(ref bytes, rng.Next(bytes.Length)); break;                  // truncation
                case 1: for (int i = rng.Next(1, 4); i > 0; i--) bytes[rng.Next(bytes.Length)] ^= (byte)(1 << rng.Next(8)); break;
                case 2: bytes[rng.Next(Math.Min(8, bytes.Length))] = (byte)rng.Next(256); break;  // header length
                default: int at = 8 + rng.Next(Math.Min(400, bytes.Length - 8)); bytes[at] = (byte)"{}[]\",:0129e-"[rng.Next(13)]; break;
            }
            File.WriteAllBytes(mutant, bytes);
            long before = GC.GetAllocatedBytesForCurrentThread();
            try
            {
                using var loaded = ModelFile.Load(mutant);
            }
            catch (ModelFormatException e)
            {
                Assert.Contains(mutant, e.Message);
                rejected++;
            }
            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            Assert.True(allocated < 64L * original.Length + (4 << 20), $"loading a {bytes.Length}-byte file allocated {allocated} bytes");
            runs++;
        }
        Assert.True(runs >= 10_000, $"only {runs} mutations ran within the time bound");
        Assert.True(rejected > runs / 2, $"only {rejected} of {runs} mutants were rejected");
        File.Delete(path); File.Delete(mutant);
    }

    [Fact]
    public void AbsurdHeaderLength_IsRefusedBeforeAllocating()
    {
        using var temp = new TempDirectory();
        string path = temp.File("model.safetensors");
        File.WriteAllBytes(path, [0, 0, 0, 0, 0, 0, 0, 0x7f, (byte)'{', (byte)'}']);
        var e = Assert.Throws<ModelFormatException>(() => ModelFile.Read(path));
        Assert.Contains("header length", e.Message);
        Assert.Equal(0, e.Offset);
        File.Delete(path);
        Assert.Throws<FileNotFoundException>(() => ModelFile.Read(path));
    }
}

public class TrainingReliabilityTests
{
    private static LabeledImages Random(int count, int seed)
    {
        var rng = new Random(seed);
        var pixels = new float[count * 16];
        var labels = new byte[count];
        for (int i = 0; i < count; i++)
        {
            labels[i] = (byte)rng.Next(2);
            for (int p = 0; p < 16; p++) pixels[i * 16 + p] = (float)rng.NextDouble() + (p < 8 == (labels[i] == 0) ? 1 : 0);
        }
        return new LabeledImages(pixels, labels, 4, 4);
    }

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
}
