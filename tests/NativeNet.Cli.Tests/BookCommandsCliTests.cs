using System.Text.Json;

namespace NativeNet.Cli.Tests;

/// <summary>The commands for chapter 1's baselines, chapter 4's universality and chapter 5's layer speed.</summary>
public sealed class BookCommandsCliTests
{
    private static void AssertCleanFailure(CliRunner.Result r, string expectedFragment)
    {
        Assert.NotEqual(0, r.ExitCode);
        Assert.DoesNotContain("   at ", r.All);
        Assert.DoesNotContain("Unhandled exception", r.All);
        var errorLines = r.Stderr.Split('\n').Where(l => l.StartsWith("error:", StringComparison.Ordinal)).ToList();
        Assert.True(errorLines.Count == 1, r.All);
        Assert.Contains(expectedFragment, errorLines[0], StringComparison.OrdinalIgnoreCase);
    }

    private static JsonElement Json(CliRunner.Result r)
    {
        Assert.True(r.ExitCode == 0, r.All);
        using var doc = JsonDocument.Parse(r.Stdout.Trim());
        return doc.RootElement.Clone();
    }

    [FullMnistFact]
    public void BaselineDarkness_OnMnist_ReproducesTheBooksFigure()
    {
        var o = Json(CliRunner.Run("baseline", "darkness", "--json", "--data", FullMnistFactAttribute.Directory!));
        Assert.Equal(50_000, o.GetProperty("training_images").GetInt32());
        Assert.Equal(10_000, o.GetProperty("test_count").GetInt32());
        // The book: 2,225 of 10,000.
        Assert.InRange(o.GetProperty("test_correct").GetInt32(), 2195, 2255);
    }

    [Fact]
    public void BaselinesRunOnTinyData()
    {
        string data = CliRunner.WriteTinyMnist();
        var dark = Json(CliRunner.Run("baseline", "darkness", "--json", "--data", data));
        Assert.Equal("darkness", dark.GetProperty("baseline").GetString());
        Assert.Equal(300, dark.GetProperty("training_images").GetInt32());
        Assert.Equal(100, dark.GetProperty("test_count").GetInt32());
        Assert.Equal(10, dark.GetProperty("details").GetProperty("mean_darkness").GetArrayLength());

        var svm = Json(CliRunner.Run("baseline", "svm", "--json", "--data", data, "--threads", "1"));
        Assert.Equal("svm", svm.GetProperty("baseline").GetString());
        Assert.True(svm.GetProperty("test_accuracy").GetDouble() > 0.9, svm.ToString());
        var details = svm.GetProperty("details");
        Assert.True(details.GetProperty("converged").GetBoolean());
        Assert.InRange(details.GetProperty("support_vectors").GetInt32(), 10, 300);
        Assert.Equal(1 / 784.0, details.GetProperty("gamma").GetDouble(), 1e-7);

        var text = CliRunner.Run("baseline", "svm", "--data", data, "--train-size", "100", "--test-size", "20", "--gamma", "0.01", "--cost", "10");
        Assert.True(text.ExitCode == 0, text.All);
        Assert.Contains("svm: test accuracy", text.Stdout);
        Assert.Contains("after training on 100 images", text.Stdout);
    }

    [Theory]
    [InlineData("baseline", "svm", "--train-size", "-5")]
    [InlineData("baseline", "darkness", "--train-size", "0")]
    [InlineData("baseline", "svm", "--gamma", "NaN")]
    [InlineData("baseline", "svm", "--cost", "-1")]
    [InlineData("baseline", "svm", "--threads", "0")]
    [InlineData("baseline", "svm", "--tolerance", "0")]
    [InlineData("baseline", "svm", "--test-size", "-1")]
    public void BaselineBadOptionsFailCleanly(params string[] args) => AssertCleanFailure(CliRunner.Run(args), args[2]);

    [Theory]
    [InlineData("darkness")]
    [InlineData("svm")]
    public void BaselineMissingDataFolderFailsCleanly(string baseline)
    {
        string missing = Path.Combine(CliRunner.TempDir(), "no-such-folder");
        AssertCleanFailure(CliRunner.Run("baseline", baseline, "--data", missing), missing);
        Assert.False(Directory.Exists(missing));
    }
}
