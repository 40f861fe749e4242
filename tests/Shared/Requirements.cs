using System.Diagnostics;

namespace NativeNet.Testing;

/// <summary>
/// What some tests need from the machine, decided when the tests are discovered, so that a test that cannot run is
/// reported as skipped with its reason instead of returning early and counting as passed. Under CI (the environment
/// variable CI set, as <c>.ci/run</c> does) nothing is skipped for missing data: the test runs and fails, since CI must
/// have fetched it.
/// </summary>
public static class Requirements
{
    /// <summary>The repository root (the folder holding NativeNet.sln above the test binaries), or null.</summary>
    public static string? RepositoryRoot { get; } = FindRoot();

    /// <summary>data/mnist at the repository root (whether or not it holds the files).</summary>
    public static string MnistDirectory => Path.Combine(RepositoryRoot ?? ".", "data", "mnist");

    /// <summary>Whether the four MNIST files are in <see cref="MnistDirectory"/> (raw or gzip).</summary>
    public static bool HasMnist => new[] { "train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte" }
        .All(f => File.Exists(Path.Combine(MnistDirectory, f)) || File.Exists(Path.Combine(MnistDirectory, f + ".gz")));

    /// <summary>Whether CI is set to something other than 0 or false.</summary>
    public static bool UnderCi => IsCi(Environment.GetEnvironmentVariable("CI"));

    /// <summary>Whether a value of CI means a CI run: set, not blank, and not 0 or false.</summary>
    public static bool IsCi(string? ci) => !string.IsNullOrWhiteSpace(ci) && ci.Trim() is not ("0" or "false" or "False" or "FALSE");

    /// <summary>Whether a missing OpenCL platform must fail the tests that need one: under CI, or with NATIVENET_REQUIRE_OPENCL=1.</summary>
    public static bool OpenClRequired => UnderCi || Environment.GetEnvironmentVariable("NATIVENET_REQUIRE_OPENCL")?.Trim() == "1";

    /// <summary>The reason a test that needs MNIST cannot run here, or null.</summary>
    public static string? MnistSkipReason => HasMnist || UnderCi ? null : $"MNIST is not in {MnistDirectory}: run tools/fetch-mnist.sh (under CI this fails instead).";

    /// <summary>Debian's Python, whose python3-numpy and python3-onnx packages the tests use (the python3 on PATH may be another).</summary>
    public const string Python = "/usr/bin/python3";

    private static readonly Dictionary<string, string?> s_pythonMissing = [];

    /// <summary>
    /// The reason a test that needs <see cref="Python"/> with these modules cannot run here, or null (always null under
    /// CI, where the test runs and fails on what is missing: .ci/run installs the modules).
    /// </summary>
    public static string? PythonSkipReason(params string[] modules)
    {
        if (UnderCi) return null;
        string key = string.Join(",", modules);
        lock (s_pythonMissing)
        {
            if (!s_pythonMissing.TryGetValue(key, out var reason))
            {
                reason = !File.Exists(Python) ? $"{Python} is missing"
                    : Run(Python, ["-c", string.Join("; ", modules.Select(m => "import " + m))], TimeSpan.FromMinutes(1)) is { ExitCode: not 0 } r
                        ? $"{Python} cannot import {key} (apt-get install {string.Join(" ", modules.Select(m => "python3-" + m))}; CI does): {r.Output.Trim()}"
                        : null;
                s_pythonMissing[key] = reason;
            }
            return reason;
        }
    }

    /// <summary>Runs a program to its end (killed after <paramref name="timeout"/>); its exit code and stdout + stderr.</summary>
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

    /// <summary>The reason a test that runs shell scripts cannot run here, or null.</summary>
    public static string? ShellSkipReason => OperatingSystem.IsWindows() ? "needs a POSIX shell to run the fake npm script" : null;

    private static string? FindRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "NativeNet.sln"))) return d.FullName;
        return null;
    }
}

/// <summary>A fact on the real MNIST files: skipped with the reason when they are missing (failing under CI).</summary>
public sealed class MnistFactAttribute : FactAttribute
{
    public MnistFactAttribute()
    {
        if (Requirements.MnistSkipReason is string reason) Skip = reason;
    }
}

/// <summary>A fact that runs shell scripts: skipped with the reason on Windows.</summary>
public sealed class ShellFactAttribute : FactAttribute
{
    public ShellFactAttribute()
    {
        if (Requirements.ShellSkipReason is string reason) Skip = reason;
    }
}

/// <summary>A theory on the real MNIST files (see <see cref="MnistFactAttribute"/>).</summary>
public sealed class MnistTheoryAttribute : TheoryAttribute
{
    public MnistTheoryAttribute()
    {
        if (Requirements.MnistSkipReason is string reason) Skip = reason;
    }
}

/// <summary>A fact that runs Debian's Python with these modules (and, with <see cref="NeedsMnist"/>, MNIST): skipped with the reason when missing, failing under CI.</summary>
public sealed class PythonFactAttribute : FactAttribute
{
    public PythonFactAttribute(params string[] modules)
    {
        if (Requirements.PythonSkipReason(modules) is string reason) Skip = reason;
    }

    private readonly bool _needsMnist;

    /// <summary>Also skip (outside CI) when MNIST is missing.</summary>
    public bool NeedsMnist
    {
        get => _needsMnist;
        init
        {
            _needsMnist = value;
            if (value && Skip is null && Requirements.MnistSkipReason is string reason) Skip = reason;
        }
    }
}
