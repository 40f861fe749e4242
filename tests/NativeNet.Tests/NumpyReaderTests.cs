using System.Diagnostics;
using System.Runtime.InteropServices;
using NativeNet.Data;
using NativeNet.Layers;
using NativeNet.Persistence;
using NativeNet.Training;
using Xunit.Abstractions;

namespace NativeNet.Tests;

/// <summary>
/// Decides once per run whether the numpy reader test runs: it needs Debian's /usr/bin/python3 with numpy, the
/// repository's data/mnist and tests/python/numpy_forward.py. Missing any, the test is skipped with the reason, unless
/// CI is set (non-empty, not "0"/"false"), where it runs and fails with that reason (.ci/run installs python3-numpy
/// and fetches MNIST first).
/// </summary>
internal static class NumpyEnvironment
{
    public const string Python = "/usr/bin/python3";

    public static string? RepositoryRoot { get; } = FindRoot();

    public static string? Script => RepositoryRoot is null ? null : Path.Combine(RepositoryRoot, "tests", "python", "numpy_forward.py");

    public static string? Mnist => RepositoryRoot is null ? null : Path.Combine(RepositoryRoot, "data", "mnist");

    private static readonly Lazy<string?> s_missing = new(() =>
    {
        if (Script is not string script || !File.Exists(script)) return "tests/python/numpy_forward.py was not found above the test assembly";
        if (!File.Exists(Python)) return $"{Python} is missing (apt-get install python3-numpy)";
        if (Run(Python, ["-c", "import numpy"], TimeSpan.FromSeconds(60)) is { ExitCode: not 0 } r) return $"{Python} cannot import numpy (apt-get install python3-numpy): {r.Output.Trim()}";
        string test = Path.Combine(Mnist!, NativeNet.Mnist.TestImagesFile);
        if (!File.Exists(test) && !File.Exists(test + ".gz")) return "data/mnist is missing (tools/fetch-mnist.sh)";
        return null;
    });

    /// <summary>Why the test cannot run here, or null.</summary>
    public static string? Missing => s_missing.Value;

    public static bool Required => Environment.GetEnvironmentVariable("CI") is { } ci && !string.IsNullOrWhiteSpace(ci) && ci.Trim() is not ("0" or "false" or "False" or "FALSE");

    public static (int ExitCode, string Output) Run(string program, IEnumerable<string> args, TimeSpan timeout)
    {
        var psi = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        string stdout = p.StandardOutput.ReadToEnd();
        if (!p.WaitForExit(timeout))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"{program} {string.Join(' ', args)} ran past {timeout}");
        }
        return (p.ExitCode, stdout + stderr.Result);
    }

    private static string? FindRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "NativeNet.sln"))) return d.FullName;
        return null;
    }
}

/// <summary>A fact that needs Python's numpy and MNIST: skipped with the reason when they are missing, unless CI demands them.</summary>
public sealed class NumpyFactAttribute : FactAttribute
{
    public NumpyFactAttribute()
    {
        if (NumpyEnvironment.Missing is string reason && !NumpyEnvironment.Required) Skip = $"{reason}; set CI to make this a failure.";
    }
}

/// <summary>
/// Safetensors that another program reads without knowing NativeNet: a numpy script (tests/python/numpy_forward.py)
/// checks the checksum, builds the forward pass from the file's metadata alone and reproduces NativeNet's outputs on
/// the 10,000 MNIST test images, for networks covering every layer kind, activation, pooling and dropout.
/// </summary>
public sealed class NumpyReaderTests(ITestOutputHelper output)
{
    /// <summary>Networks covering every layer kind, activation, pooling and dropout, each with a learning rate it trains at.</summary>
    public static readonly (string Architecture, float Eta)[] Networks =
    [
        ("input 1x28x28 | conv 6 5 relu | maxpool 2 | conv 8 3 tanh pad=1 | avgpool 2 | dense 30 sigmoid dropout=0.3 | output 10 softmax dropout=0.2", 0.2f),
        ("input 1x28x28 | conv 4 3 relu stride=2 | l2pool 3 stride=2 | dense 20 sigmoid | output 10 sigmoid-ce", 0.5f),
        ("input 784 | dense 30 tanh dropout=0.1 | dense 20 linear | output 10 linear", 0.05f),
    ];

    [NumpyFact]
    public void ANumpyScript_ReadsTrainedModels_AndMatchesNativeNetOnTheTestSet()
    {
        if (NumpyEnvironment.Missing is string reason) Assert.Fail($"CI is set but the numpy reader test cannot run: {reason}");
        string mnist = NumpyEnvironment.Mnist!;
        var data = Mnist.Load(mnist);
        var training = data.Training.Take(5000);
        using var temp = new TempDirectory();
        foreach (var ((architecture, eta), i) in Networks.Select((n, i) => (n, i)))
        {
            var spec = NetworkSpec.Parse(architecture);
            using var net = spec.Build(i + 1, WeightInit.ScaledByFanIn);
            using (var trainer = new SgdTrainer(net, new SgdOptions { BatchSize = 10, LearningRate = eta, TrainingSetSize = training.Count, Seed = (ulong)i + 1 }))
            {
                for (int start = 0; start + 10 <= training.Count; start += 10)
                    trainer.Step(training.Pixels.AsSpan(start * 784, 10 * 784), training.Labels.AsSpan(start, 10));
                double accuracy = trainer.Evaluate(data.Test.Pixels, data.Test.Labels).Accuracy;
                output.WriteLine($"{architecture}: test accuracy {accuracy:P2} after one pass over 5,000 images");
                Assert.True(accuracy > 0.6, $"{architecture} learned too little ({accuracy:P2}) to count as trained");
            }
            string model = temp.File($"model{i}.safetensors"), predictions = temp.File($"predictions{i}.f32");
            ModelFile.Save(model, net);
            var scores = new float[data.Test.Count * net.OutputSize];
            net.PredictBatch(data.Test.Pixels, scores);
            File.WriteAllBytes(predictions, MemoryMarshal.AsBytes(scores.AsSpan()).ToArray());

            var (exit, text) = NumpyEnvironment.Run(NumpyEnvironment.Python,
                [NumpyEnvironment.Script!, model, Mnist.FindFile(mnist, Mnist.TestImagesFile), predictions, "--tolerance", "1e-5"], TimeSpan.FromMinutes(5));
            output.WriteLine(text.Trim());
            Assert.True(exit == 0, $"{architecture}: {text}");
            Assert.StartsWith("OK:", text);
        }
    }

    [NumpyFact]
    public void TheNumpyScript_RefusesAnEditedModel()
    {
        if (NumpyEnvironment.Missing is string reason) Assert.Fail($"CI is set but the numpy reader test cannot run: {reason}");
        using var temp = new TempDirectory();
        var bytes = ModelFileTests.SmallModelBytes();
        bytes[^1] ^= 1;
        string model = temp.File("edited.safetensors");
        File.WriteAllBytes(model, bytes);
        var (exit, text) = NumpyEnvironment.Run(NumpyEnvironment.Python, [NumpyEnvironment.Script!, model, "unused", "unused"], TimeSpan.FromMinutes(1));
        Assert.Equal(2, exit);
        Assert.Contains("checksum", text);
    }
}
