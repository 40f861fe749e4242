using System.Diagnostics;
using Microsoft.ML.OnnxRuntime;
using NativeNet.Data;
using NativeNet.Onnx;

namespace NativeNet.Onnx.Tests;

/// <summary>Runs exported models through ONNX Runtime's C# API (CPU provider, one thread, so results do not vary by run).</summary>
internal static class Ort
{
    /// <summary>Outputs [count x classes] of the ONNX model for examples [count x InputSize], laid out as <see cref="OnnxExporter.InputShape"/> says.</summary>
    public static float[] Run(byte[] model, long[] inputShape, float[] examples, int classes)
    {
        using var options = new SessionOptions { IntraOpNumThreads = 1, InterOpNumThreads = 1 };
        using var session = new InferenceSession(model, options);
        using var input = OrtValue.CreateTensorValueFromMemory(examples, inputShape);
        var outputs = new float[inputShape[0] * classes];
        using var output = OrtValue.CreateTensorValueFromMemory(outputs, [inputShape[0], classes]);
        using var run = new RunOptions();
        session.Run(run, [OnnxExporter.InputName], [input], [OnnxExporter.OutputName], [output]);
        return outputs;
    }
}

/// <summary>Where the repository's files are, found by walking up from the test binaries to NativeNet.sln.</summary>
internal static class Repository
{
    public static string Root { get; } = FindRoot();

    private static string FindRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "NativeNet.sln"))) return d.FullName;
        throw new InvalidOperationException("NativeNet.sln not found above the test binaries.");
    }

    public static bool InCi => Environment.GetEnvironmentVariable("CI") is { Length: > 0 } ci && ci.Trim() is not ("0" or "false" or "False" or "FALSE");

    private static readonly Lazy<MnistDataset?> s_mnist = new(() =>
    {
        string dir = Path.Combine(Root, "data", "mnist");
        if (!File.Exists(Path.Combine(dir, Mnist.TestImagesFile)) && !File.Exists(Path.Combine(dir, Mnist.TestImagesFile + ".gz"))) return null;
        return Mnist.Load(dir);
    });

    /// <summary>The skip reason for tests that need MNIST, or null when they run (under CI they always run, and fail if it is missing).</summary>
    public static string? MnistSkipReason => s_mnist.Value is null && !InCi ? "MNIST is not in data/mnist: fetch it with tools/fetch-mnist.sh (CI does)." : null;

    public static MnistDataset Mnist_ => s_mnist.Value ?? throw new InvalidOperationException("CI is set but data/mnist is missing: fetch it with tools/fetch-mnist.sh.");
}

/// <summary>Debian's /usr/bin/python3 with python3-onnx, for the ONNX checker.</summary>
internal static class PythonOnnx
{
    public const string Python = "/usr/bin/python3";

    private static readonly Lazy<string?> s_missing = new(() =>
    {
        if (!File.Exists(Python)) return $"{Python} is missing";
        var (code, output) = Run("-c", "import onnx; print(onnx.__version__)");
        return code == 0 ? null : $"python3-onnx is not installed ({output.Trim()})";
    });

    /// <summary>Skip reason, or null when the checker tests run (they always run under CI, and fail if it is missing).</summary>
    public static string? SkipReason => s_missing.Value is string why && !Repository.InCi ? $"{why}: apt-get install python3-onnx to run the ONNX checker tests (CI does)." : null;

    public static (int ExitCode, string Output) Run(params string[] args)
    {
        var psi = new ProcessStartInfo(Python) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEndAsync();
        string output = p.StandardOutput.ReadToEnd();
        if (!p.WaitForExit(TimeSpan.FromMinutes(2))) { p.Kill(true); throw new TimeoutException("python3 " + string.Join(' ', args)); }
        return (p.ExitCode, output + err.Result);
    }
}

/// <summary>A fact that needs MNIST in data/mnist (skipped with the reason when it is missing, except under CI).</summary>
public sealed class MnistFactAttribute : FactAttribute
{
    public MnistFactAttribute()
    {
        if (Repository.MnistSkipReason is string reason) Skip = reason;
    }
}

/// <summary>A fact that needs /usr/bin/python3 with python3-onnx (skipped with the reason when missing, except under CI).</summary>
public sealed class PythonOnnxFactAttribute : FactAttribute
{
    public PythonOnnxFactAttribute()
    {
        if (PythonOnnx.SkipReason is string reason) Skip = reason;
    }
}

/// <summary>A theory that needs MNIST in data/mnist (see <see cref="MnistFactAttribute"/>).</summary>
public sealed class MnistTheoryAttribute : TheoryAttribute
{
    public MnistTheoryAttribute()
    {
        if (Repository.MnistSkipReason is string reason) Skip = reason;
    }
}
