using System.Text.Json.Nodes;
using NativeNet.Data;
using NativeNet.Layers;
using NativeNet.Persistence;
using NativeNet.Training;

namespace NativeNet.Tests;

public class CheckpointTests
{
    private static readonly NetworkSpec Spec = NetworkSpec.Parse("input 16 | dense 8 sigmoid | output 2 softmax");
    private static readonly LabeledImages Training = TinyData.Make(200, 4), Validation = TinyData.Make(50, 5);

    private static TrainingOptions Options(int epochs, string dir, float eta = 0.5f, int batch = 10, float momentum = 0.5f, int seed = 1, float lambda = 0.1f) => new()
    {
        Epochs = epochs, OutputDirectory = dir, ShuffleSeed = seed,
        Sgd = new SgdOptions { BatchSize = batch, LearningRate = eta, Momentum = momentum, L2 = lambda, TrainingSetSize = 200, Seed = (ulong)seed },
    };

    private static Network Net(float momentum = 0.5f) => Spec.Build(1, WeightInit.ScaledByFanIn, withMomentum: momentum > 0);

    /// <summary>A run folder holding the checkpoint and best model of <paramref name="epochs"/> epochs.</summary>
    private static string TrainedRun(TempDirectory temp, int epochs = 2, string name = "run")
    {
        string dir = temp.File(name);
        using var net = Net();
        new TrainingSession(net, Spec, Options(epochs, dir), Training, Validation, null).Run();
        return dir;
    }

    private static TrainingResult Resume(string dir, TrainingOptions options)
    {
        using var net = Net(options.Sgd.Momentum);
        var session = new TrainingSession(net, Spec, options, Training, Validation, null);
        session.Resume(dir);
        return session.Run();
    }

    public static TheoryData<string, TrainingOptions, string, string> ChangedOptions => new()
    {
        { "eta", Options(3, "x", eta: 0.1f), "learning rate (--eta) 0.5", "0.1" },
        { "batch", Options(3, "x", batch: 20), "mini-batch size (--batch) 10", "20" },
        { "seed", Options(3, "x", seed: 2), "seed (--seed) 1", "2" },
        { "momentum", Options(3, "x", momentum: 0.9f), "momentum (--momentum) 0.5", "0.9" },
        { "lambda", Options(3, "x", lambda: 0f), "L2 strength (--lambda) 0.1", "0" },
    };

    [Theory]
    [MemberData(nameof(ChangedOptions))]
    public void Resume_WithAChangedOption_IsRefused_NamingBothValues(string option, TrainingOptions changed, string recorded, string asked)
    {
        using var temp = new TempDirectory();
        string dir = TrainedRun(temp);
        var e = Assert.Throws<ArgumentException>(() => Resume(dir, changed with { OutputDirectory = dir }));
        Assert.True(e.Message.Contains(recorded) && e.Message.Contains($"this run asks for {asked}"), $"changed {option}: {e.Message}");
    }

    [Fact]
    public void Resume_KeepsTheEpochHistory_AlsoWithNoEpochsLeft()
    {
        using var temp = new TempDirectory();
        string dir = TrainedRun(temp, epochs: 2);
        var nothingLeft = Resume(dir, Options(2, dir));
        Assert.Equal([1, 2], nothingLeft.Epochs.Select(r => r.Epoch));
        Assert.Contains("nothing left to train", nothingLeft.Message);
        Assert.True(nothingLeft.BestEpoch is 1 or 2);
        var more = Resume(dir, Options(3, dir));
        Assert.Equal([1, 2, 3], more.Epochs.Select(r => r.Epoch));
        Assert.Equal(nothingLeft.Epochs[1], more.Epochs[1]);
    }

    [Fact]
    public void ABatchLargerThanTheTrainingSet_IsRefusedBeforeAnythingIsSized()
    {
        using var net = Net(0);
        var e = Assert.Throws<ArgumentException>(() => new TrainingSession(net, Spec, Options(1, "unused", batch: 2_000_000, momentum: 0), Training, Validation, null));
        Assert.Contains("2000000 is larger than the 200 training images", e.Message);
    }

    public static TheoryData<string, string?, string> BadFields => new()
    {
        { "steps", null, "__metadata__.steps" },
        { "epoch", "-3", "__metadata__.epoch" },
        { "epoch", "two", "__metadata__.epoch" },
        { "best_epoch", "7", "__metadata__.best_epoch" },
        { "learning_rate", "NaN", "__metadata__.learning_rate" },
        { "best_validation", "1.5", "__metadata__.best_validation" },
        { "test_at_best", "x", "__metadata__.test_at_best" },
        { "history", "[{\"epoch\": 1}]", "__metadata__.history" },
        { "history", null, "__metadata__.history" },
        { "momentum", null, "__metadata__.momentum" },
    };

    [Theory]
    [MemberData(nameof(BadFields))]
    public void HandEditedCheckpointFields_GiveTypedErrorsNamingTheField(string key, string? value, string field)
    {
        using var temp = new TempDirectory();
        string dir = TrainedRun(temp);
        string path = Path.Combine(dir, TrainingSession.CheckpointFile);
        File.WriteAllBytes(path, ModelBytes.Edit(File.ReadAllBytes(path), h =>
        {
            var meta = h["__metadata__"]!.AsObject();
            if (value is null) meta.Remove(key);
            else meta[key] = value;
        }));
        var e = Assert.Throws<ModelFormatException>(() => Resume(dir, Options(3, dir)));
        Assert.StartsWith(field, e.Field);
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void AVelocityOfTheWrongLength_IsRefused()
    {
        using var temp = new TempDirectory();
        string dir = TrainedRun(temp);
        string path = Path.Combine(dir, TrainingSession.CheckpointFile);
        var (header, data) = ModelBytes.Split(File.ReadAllBytes(path));
        var velocity = header["velocity.layers.0.bias"]!.AsObject();
        velocity["shape"] = new JsonArray(7);
        File.WriteAllBytes(path, ModelBytes.Join(header, data));
        var e = Assert.Throws<ModelFormatException>(() => Resume(dir, Options(3, dir)));
        Assert.Equal("velocity.layers.0.bias.shape", e.Field);
        Assert.Contains("needs [8]", e.Message);
        // Velocities are all there or all absent.
        header.Remove("velocity.layers.0.bias");
        e = Assert.Throws<ModelFormatException>(() => ModelFile.Read(WriteTo(temp, ModelBytes.Join(header, data))));
        Assert.Contains("'velocity.layers.0.bias' is missing", e.Message);
    }

    private static string WriteTo(TempDirectory temp, byte[] bytes)
    {
        string path = temp.File(Guid.NewGuid().ToString("N") + ".safetensors");
        File.WriteAllBytes(path, bytes);
        return path;
    }

    [Fact]
    public void AVersion1Checkpoint_WithoutOptionsOrHistory_StillResumes()
    {
        using var temp = new TempDirectory();
        string dir = TrainedRun(temp, epochs: 1);
        string path = Path.Combine(dir, TrainingSession.CheckpointFile);
        var contents = ModelFile.Read(path);
        var meta = new Dictionary<string, string> { ["format"] = "nativenet", ["version"] = "1", ["architecture"] = Spec.Text };
        foreach (var key in new[] { "epoch", "steps", "learning_rate", "best_epoch", "best_validation", "since_best", "test_at_best" }) meta[key] = contents.Metadata[key];
        using var shapes = Net();
        var dims = ModelFile.ParameterNames(shapes).Select((name, i) => (name, shapes.Parameters[i].Value.Dims.ToArray())).ToDictionary();
        var tensors = contents.Tensors.Select(t => (t.Key, dims[t.Key.Replace("velocity.", "")], t.Value)).ToList();
        ModelFile.Write(path, tensors, meta);
        var result = Resume(dir, Options(2, dir));
        Assert.Equal([2], result.Epochs.Select(r => r.Epoch));
    }

    private static Func<Exception, bool> ResumeConflict => e => e is ArgumentException a && a.Message.StartsWith("Cannot resume", StringComparison.Ordinal);

    [Fact]
    public void MutatedCheckpoints_OnlyEverThrowTypedErrors()
    {
        using var temp = new TempDirectory();
        string dir = TrainedRun(temp, epochs: 1);
        string path = Path.Combine(dir, TrainingSession.CheckpointFile);
        var original = File.ReadAllBytes(path);
        using var net = Net();
        var options = Options(1, dir);
        void Load(byte[] bytes)
        {
            File.WriteAllBytes(path, bytes);
            new TrainingSession(net, Spec, options, Training, Validation, null).Resume(dir);
        }
        ModelFuzz.Json(original, seed: 77, Load, ResumeConflict);
        ModelFuzz.Bytes(original, seed: 78, Load, ResumeConflict);
    }

    [Fact]
    public void ModelHeaderMutations_OnlyEverThrowModelFormatException() =>
        ModelFuzz.Json(ModelFileTests.SmallModelBytes(), seed: 76, bytes => { using var _ = ModelFile.Load(bytes, sourceName: "mutant"); });
}
