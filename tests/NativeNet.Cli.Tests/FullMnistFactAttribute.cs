using NativeNet.Data;

namespace NativeNet.Cli.Tests;

/// <summary>
/// A fact that reads the repository's data/mnist: reported as skipped when the files are absent, except under CI
/// (which fetches MNIST first), where it runs and fails on the missing data.
/// </summary>
public sealed class FullMnistFactAttribute : FactAttribute
{
    public FullMnistFactAttribute()
    {
        if (Directory is null && Environment.GetEnvironmentVariable("CI") is not { Length: > 0 })
            Skip = "data/mnist is missing: fetch it with tools/fetch-mnist.sh (CI does).";
    }

    /// <summary>The repository's data/mnist when its training images are there, else null.</summary>
    public static string? Directory
    {
        get
        {
            string? dir = CliRunner.RepoMnist();
            return dir is not null && (File.Exists(Path.Combine(dir, Mnist.TrainImagesFile)) || File.Exists(Path.Combine(dir, Mnist.TrainImagesFile + ".gz"))) ? dir : null;
        }
    }
}
