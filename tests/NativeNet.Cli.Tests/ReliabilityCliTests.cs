using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using NativeNet.Persistence;

namespace NativeNet.Cli.Tests;

/// <summary>
/// The console trainer facing a demanding user: a run folder is never overwritten silently, options mean what they
/// say (or are refused at parse time, naming the value), and odd paths (a directory, a FIFO, a file as --data, a
/// gigantic PNG) give one error line instead of a hang or gigabytes.
/// </summary>
public sealed class ReliabilityCliTests
{
    private const string Tiny = "input 784 | dense 20 sigmoid | output 10 softmax";

    private static void AssertCleanFailure(CliRunner.Result r, params string[] fragments)
    {
        Assert.NotEqual(0, r.ExitCode);
        Assert.DoesNotContain("   at ", r.All);
        var errorLines = r.Stderr.Split('\n').Where(l => l.StartsWith("error:", StringComparison.Ordinal)).ToList();
        Assert.True(errorLines.Count == 1, r.All);
        foreach (var f in fragments) Assert.Contains(f, errorLines[0]);
    }

    private static CliRunner.Result Train(string data, string outDir, params string[] more) =>
        CliRunner.Run(["train", "--layers", Tiny, "--epochs", "1", "--eta", "0.5", "--data", data, "--out", outDir, "--json", "--no-plots", "--threads", "1", .. more]);

    [Fact]
    public void TrainingIntoAnExistingRunFolder_NeedsResumeOrOverwrite()
    {
        string data = CliRunner.WriteTinyMnist(), dir = CliRunner.TempDir();
        var first = Train(data, dir);
        Assert.True(first.ExitCode == 0, first.All);
        string best = Path.Combine(dir, "best.safetensors");
        var saved = File.ReadAllBytes(best);

        AssertCleanFailure(Train(data, dir, "--eta", "3"), "already holds a training run", "--resume", "--overwrite");
        Assert.Equal(saved, File.ReadAllBytes(best));
        AssertCleanFailure(CliRunner.Run("train", "--layers", Tiny, "--data", data, "--resume", dir, "--overwrite"), "contradict");

        // A picture of the run being replaced (chapter 5's layer speeds) counts as part of it and is removed with it.
        string layerSpeed = Path.Combine(dir, "layer-speed.png");
        File.WriteAllBytes(layerSpeed, [1, 2, 3]);
        var replaced = Train(data, dir, "--overwrite", "--seed", "2");
        Assert.True(replaced.ExitCode == 0, replaced.All);
        Assert.NotEqual(saved, File.ReadAllBytes(best));
        Assert.False(File.Exists(layerSpeed), "the replaced run's layer-speed.png was left behind");
    }

    [Fact]
    public void ABatchLargerThanTheTrainingSet_IsRefused()
    {
        string data = CliRunner.WriteTinyMnist();
        AssertCleanFailure(Train(data, CliRunner.TempDir(), "--batch", "2000000"), "--batch 2000000 is larger than the 300 training images");
        AssertCleanFailure(Train(data, CliRunner.TempDir(), "--batch", "301"), "--batch 301");
    }

    [Theory]
    [InlineData("--eta", "0.1", "learning rate (--eta) 0.5", "0.1")]
    [InlineData("--seed", "9", "seed (--seed) 1", "9")]
    [InlineData("--batch", "20", "mini-batch size (--batch) 10", "20")]
    [InlineData("--momentum", "0.5", "momentum (--momentum) 0", "0.5")]
    public void ResumingWithAChangedOption_IsRefused_NamingBothValues(string option, string value, string recorded, string asked)
    {
        string data = CliRunner.WriteTinyMnist(), dir = CliRunner.TempDir();
        Assert.Equal(0, Train(data, dir).ExitCode);
        var r = CliRunner.Run("train", "--layers", Tiny, "--epochs", "2", "--eta", "0.5", "--data", data, "--resume", dir, "--no-plots", option, value);
        AssertCleanFailure(r, recorded, $"asks for {asked}");
    }

    [Fact]
    public void ResumingWithNoEpochsLeft_KeepsTheMetricsHistory_AndCleansStaleTemporaries()
    {
        string data = CliRunner.WriteTinyMnist(), dir = CliRunner.TempDir();
        Assert.Equal(0, Train(data, dir, "--epochs", "2").ExitCode);
        int dead = 4_000_000;
        while (Exists(dead)) dead--;
        string stale = Path.Combine(dir, $".checkpoint.safetensors.{dead}.tmp");
        File.WriteAllText(stale, "left by a killed save");
        var r = CliRunner.Run("train", "--layers", Tiny, "--epochs", "2", "--eta", "0.5", "--data", data, "--resume", dir, "--json", "--no-plots", "--threads", "1");
        Assert.True(r.ExitCode == 0, r.All);
        Assert.Contains("nothing left to train", r.Stderr);
        Assert.False(File.Exists(stale));
        using var metrics = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "metrics.json")));
        Assert.Equal([1, 2], metrics.RootElement.GetProperty("epochs").EnumerateArray().Select(e => e.GetProperty("epoch").GetInt32()));
    }

    private static bool Exists(int pid)
    {
        try { using var p = System.Diagnostics.Process.GetProcessById(pid); return true; }
        catch (ArgumentException) { return false; }
    }

    [Theory]
    [InlineData("input 784 | dense 100 relu dropout 0.5 | output 10 softmax", "unexpected 'dropout'")]
    [InlineData("input 784 | dense 100 relu dropuot=0.5 | output 10 softmax", "unknown option 'dropuot'")]
    [InlineData("input 784 | dense 100 relu dropout=NaN | output 10 softmax", "dropout=NaN")]
    public void MalformedLayerOptions_AreErrorsNamingTheToken(string layers, string fragment) =>
        AssertCleanFailure(CliRunner.Run("train", "--layers", layers, "--data", CliRunner.WriteTinyMnist(), "--out", CliRunner.TempDir()), fragment);

    /// <summary>
    /// Refused before the command runs (no data is loaded: --data points nowhere), by the option's own range check
    /// where it has one, else by the check every numeric option gets.
    /// </summary>
    [Theory]
    [InlineData("is NaN; expected a finite number", "train", "--momentum", "NaN")]
    [InlineData("is NaN; expected a finite number", "train", "--lambda", "NaN")]
    [InlineData("is NaN; expected a finite number", "train", "--dropout", "NaN")]
    [InlineData("is Infinity; expected a finite number", "train", "--lambda", "Infinity")]
    [InlineData("must be a positive number", "train", "--eta", "Infinity")]
    [InlineData("must be in (0, 60]", "bench", "peak", "--seconds", "NaN")]
    public void NonFiniteNumbers_AreRefusedAtParseTime(string message, params string[] args)
    {
        string[] command = args[0] == "train" ? [.. args, "--layers", Tiny, "--data", "/nonexistent/mnist"] : args;
        AssertCleanFailure(CliRunner.Run(command), $"{args[^2]} {message}");
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int mkfifo(string path, uint mode);

    [Fact]
    public void ADirectoryAFifoOrAFileAsData_GiveOneErrorLine()
    {
        string dir = CliRunner.TempDir(), data = CliRunner.WriteTinyMnist();
        AssertCleanFailure(CliRunner.Run("evaluate", dir, "--data", data), "directory");
        if (OperatingSystem.IsLinux())
        {
            string fifo = Path.Combine(dir, "model.safetensors");
            Assert.Equal(0, mkfifo(fifo, Convert.ToUInt32("600", 8)));
            AssertCleanFailure(CliRunner.Run("predict", fifo, "--index", "0", "--data", data), "not a regular file");
        }
        string file = Path.Combine(dir, "passwd");
        File.WriteAllText(file, "root:x:0:0:root:/root:/bin/bash\n");
        AssertCleanFailure(CliRunner.Run("train", "--layers", Tiny, "--data", file, "--out", CliRunner.TempDir()), "is a file");
    }

    [Fact]
    public void AModelWithNaNWeights_IsRefusedByName()
    {
        string data = CliRunner.WriteTinyMnist(), dir = CliRunner.TempDir(), model = Path.Combine(dir, "nan.safetensors");
        using (var net = NetworkSpec.Parse(Tiny).Build(1, NativeNet.WeightInit.ScaledByFanIn))
        {
            var values = net.ExportParameters();
            values[0][5] = float.NaN;
            net.ImportParameters(values);
            ModelFile.Save(model, net);
        }
        AssertCleanFailure(CliRunner.Run("evaluate", model, "--data", data), "layers.0.weight", "NaN at element 5");
    }

    [Fact]
    public void AHugePng_IsRefusedFromItsHeader_BeforeDecoding()
    {
        string dir = CliRunner.TempDir(), model = Path.Combine(dir, "m.safetensors"), png = Path.Combine(dir, "huge.png");
        using (var net = NetworkSpec.Parse(Tiny).Build(1, NativeNet.WeightInit.ScaledByFanIn)) ModelFile.Save(model, net);
        File.WriteAllBytes(png, PngHeaderOnly(20_000, 20_000));
        var clock = System.Diagnostics.Stopwatch.StartNew();
        AssertCleanFailure(CliRunner.Run("predict", model, "--image", png), "20000 x 20000 pixels");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60));
    }

    /// <summary>A PNG signature, an IHDR chunk declaring the size (8-bit grey) and IEND: enough for a reader to learn the size.</summary>
    private static byte[] PngHeaderOnly(int width, int height)
    {
        var file = new List<byte> { 0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A };
        var ihdr = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(ihdr, width);
        BinaryPrimitives.WriteInt32BigEndian(ihdr.AsSpan(4), height);
        ihdr[8] = 8;   // bit depth; colour type 0 (grey), compression, filter and interlace 0
        Chunk(file, "IHDR", ihdr);
        Chunk(file, "IEND", []);
        return file.ToArray();
    }

    private static void Chunk(List<byte> file, string type, byte[] data)
    {
        var length = new byte[4];
        BinaryPrimitives.WriteInt32BigEndian(length, data.Length);
        file.AddRange(length);
        var typed = Encoding.ASCII.GetBytes(type).Concat(data).ToArray();
        file.AddRange(typed);
        var crc = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(crc, Crc32(typed));
        file.AddRange(crc);
    }

    private static uint Crc32(byte[] bytes)
    {
        uint c = 0xFFFFFFFF;
        foreach (byte b in bytes)
        {
            c ^= b;
            for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320 ^ (c >> 1) : c >> 1;
        }
        return ~c;
    }
}
