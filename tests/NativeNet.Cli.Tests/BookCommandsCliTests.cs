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

    [MnistFact]
    public void BaselineDarkness_OnMnist_ReproducesTheBooksFigure()
    {
        var o = Json(CliRunner.Run("baseline", "darkness", "--json", "--data", Requirements.MnistDirectory));
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

    [Fact]
    public void Universality_WritesItsPicture_AndErrorsFallAsNeuronsGrow()
    {
        string outDir = CliRunner.TempDir();
        var o = Json(CliRunner.Run("universality", "--neurons", "5,10,50", "--epochs", "400", "--out", outDir, "--json"));
        var results = o.GetProperty("results").EnumerateArray().ToArray();
        Assert.Equal([5, 10, 50], results.Select(r => r.GetProperty("neurons").GetInt32()));
        double[] construction = results.Select(r => r.GetProperty("construction_max_error").GetDouble()).ToArray();
        double[] trained = results.Select(r => r.GetProperty("trained_max_error").GetDouble()).ToArray();
        Assert.True(construction[0] > construction[1] && construction[1] > construction[2], string.Join(", ", construction));
        Assert.True(trained[0] > trained[2], string.Join(", ", trained));
        AssertPng(Path.Combine(outDir, "universality.png"));

        var text = CliRunner.Run("universality", "--neurons", "7", "--epochs", "50", "--no-plots");
        Assert.True(text.ExitCode == 0, text.All);
        Assert.Contains("N =     7: construction (4 bumps) max error", text.Stdout);
    }

    [Theory]
    [InlineData("--neurons", "-5")]
    [InlineData("--neurons", "5,x")]
    [InlineData("--neurons", "0")]
    [InlineData("--epochs", "-1")]
    [InlineData("--samples", "1")]
    [InlineData("--eta", "NaN")]
    public void UniversalityBadOptionsFailCleanly(params string[] args) =>
        AssertCleanFailure(CliRunner.Run(["universality", .. args, "--no-plots"]), args[0]);

    private static void AssertPng(string path)
    {
        byte[] signature = [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];
        Assert.True(File.Exists(path), path + " missing");
        var bytes = File.ReadAllBytes(path);
        Assert.True(bytes.Length > 1000 && bytes.AsSpan(0, 8).SequenceEqual(signature), path + " is not a PNG");
    }

    [Fact]
    public void Ch5Preset_RecordsLayerSpeed_InMetricsAndAPicture()
    {
        string outDir = CliRunner.TempDir();
        var r = CliRunner.Run("train", "--preset", "ch5-4", "--epochs", "2", "--data", CliRunner.WriteTinyMnist(), "--out", outDir, "--json", "--threads", "1");
        Assert.True(r.ExitCode == 0, r.All);
        using var metrics = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "metrics.json")));
        var speed = metrics.RootElement.GetProperty("layer_speed");
        Assert.Equal(4, speed.GetProperty("hidden_layers").GetInt32());
        Assert.Equal(300, speed.GetProperty("images").GetInt32());   // the tiny set has 300 training images, fewer than 1,000
        var epochs = speed.GetProperty("epochs").EnumerateArray().ToArray();
        Assert.Equal([0, 1, 2], epochs.Select(e => e.GetProperty("epoch").GetInt32()));
        Assert.All(epochs, e => Assert.Equal(4, e.GetProperty("delta_norms").GetArrayLength()));
        AssertPng(Path.Combine(outDir, "layer-speed.png"));

        // Off by default for other presets and --layers; --layer-speed turns it on.
        string plain = CliRunner.TempDir(), asked = CliRunner.TempDir();
        string data = CliRunner.WriteTinyMnist();
        Assert.Equal(0, CliRunner.Run("train", "--layers", "input 784 | dense 10 sigmoid | output 10 softmax", "--epochs", "1", "--data", data, "--out", plain, "--no-plots").ExitCode);
        using (var m = JsonDocument.Parse(File.ReadAllText(Path.Combine(plain, "metrics.json"))))
            Assert.Equal(JsonValueKind.Null, m.RootElement.GetProperty("layer_speed").ValueKind);
        Assert.False(File.Exists(Path.Combine(plain, "layer-speed.png")));
        var withOption = CliRunner.Run("train", "--layers", "input 784 | dense 10 sigmoid | dense 10 sigmoid | output 10 softmax", "--epochs", "1", "--data", data, "--out", asked, "--layer-speed");
        Assert.True(withOption.ExitCode == 0, withOption.All);
        using (var m = JsonDocument.Parse(File.ReadAllText(Path.Combine(asked, "metrics.json"))))
            Assert.Equal(2, m.RootElement.GetProperty("layer_speed").GetProperty("hidden_layers").GetInt32());
        AssertPng(Path.Combine(asked, "layer-speed.png"));
    }

    [MnistFact]
    public void Ch5Preset_OnMnist_FirstHiddenLayerLearnsSlowestAtInitialization()
    {
        string outDir = CliRunner.TempDir();
        var r = CliRunner.Run("train", "--preset", "ch5-4", "--epochs", "1", "--train-size", "2000", "--data", Requirements.MnistDirectory, "--out", outDir, "--json", "--no-plots");
        Assert.True(r.ExitCode == 0, r.All);
        using var metrics = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "metrics.json")));
        var speed = metrics.RootElement.GetProperty("layer_speed");
        Assert.Equal(1000, speed.GetProperty("images").GetInt32());
        var atInit = speed.GetProperty("epochs")[0];
        Assert.Equal(0, atInit.GetProperty("epoch").GetInt32());
        double[] norms = atInit.GetProperty("delta_norms").EnumerateArray().Select(e => e.GetDouble()).ToArray();
        // The book: 0.003, 0.017, 0.070, 0.285.
        Assert.True(norms[0] < norms[3] / 10, string.Join(", ", norms));
    }
}
