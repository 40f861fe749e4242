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
    public static bool UnderCi => Environment.GetEnvironmentVariable("CI") is { Length: > 0 } ci && ci.Trim() is not ("0" or "false" or "False" or "FALSE");

    /// <summary>The reason a test that needs MNIST cannot run here, or null.</summary>
    public static string? MnistSkipReason => HasMnist || UnderCi ? null : $"MNIST is not in {MnistDirectory}: run tools/fetch-mnist.sh (under CI this fails instead).";

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
