using System.Diagnostics;
using NativeNet.Data;

namespace NativeNet.Cli.Tests;

/// <summary>Runs the built CLI as a child process (fresh console and statics per call) and captures its output.</summary>
internal static class CliRunner
{
    public sealed record Result(int ExitCode, string Stdout, string Stderr)
    {
        public string All => Stdout + Stderr;
    }

    public static Result Run(params string[] args) => RunWith([], args);

    /// <summary><see cref="Run"/> with extra environment variables for the child process.</summary>
    public static Result RunWith((string Name, string Value)[] environment, params string[] args)
    {
        using var p = Start(environment, args);
        var stderr = p.StandardError.ReadToEndAsync();
        string stdout = p.StandardOutput.ReadToEnd();
        if (!p.WaitForExit(TimeSpan.FromMinutes(3))) { p.Kill(true); throw new TimeoutException("nativenet " + string.Join(' ', args)); }
        return new Result(p.ExitCode, stdout, stderr.Result);
    }

    /// <summary>Starts the CLI with stdout and stderr redirected; the caller reads or kills it.</summary>
    public static Process Start(params string[] args) => Start([], args);

    private static Process Start((string Name, string Value)[] environment, string[] args)
    {
        var psi = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
            WorkingDirectory = Path.GetTempPath(),
        };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "NativeNet.Cli.dll"));
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["NO_COLOR"] = "1";
        foreach (var (name, value) in environment) psi.Environment[name] = value;
        var p = Process.Start(psi)!;
        return p;
    }

    /// <summary>A fresh directory under this test run's root, which is deleted, with everything in it, when the run ends.</summary>
    public static string TempDir() => Directory.CreateDirectory(Path.Combine(s_runRoot.Value, Guid.NewGuid().ToString("N")[..8])).FullName;

    private static readonly Lazy<string> s_runRoot = new(() =>
    {
        string root = Directory.CreateTempSubdirectory("nativenet-cli-tests-").FullName;
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try { Directory.Delete(root, recursive: true); }
            catch (IOException) { }   // a file still held open: leave the rest to the system's temp cleanup
            catch (UnauthorizedAccessException) { }
        };
        return root;
    });

    /// <summary>
    /// A small learnable data set in MNIST's file format: class c is a bright bar at rows 2c+4..2c+5 over
    /// noise. 360 training images (the CLI keeps the last sixth, 60, for validation) and 100 test images.
    /// </summary>
    public static string WriteTinyMnist()
    {
        string dir = TempDir();
        var rng = new Random(7);
        void Write(string images, string labels, int count)
        {
            var pixels = new byte[count * 784];
            var ys = new byte[count];
            for (int i = 0; i < count; i++)
            {
                int c = i % 10;
                ys[i] = (byte)c;
                for (int p = 0; p < 784; p++) pixels[i * 784 + p] = (byte)rng.Next(0, 60);
                for (int r = 2 * c + 4; r < 2 * c + 6; r++)
                    for (int x = 4 + rng.Next(3); x < 24; x++) pixels[i * 784 + r * 28 + x] = (byte)rng.Next(200, 256);
            }
            IdxWriter.Write(Path.Combine(dir, images), [count, 28, 28], pixels);
            IdxWriter.Write(Path.Combine(dir, labels), [count], ys);
        }
        Write(Mnist.TrainImagesFile, Mnist.TrainLabelsFile, 360);
        Write(Mnist.TestImagesFile, Mnist.TestLabelsFile, 100);
        return dir;
    }
}
