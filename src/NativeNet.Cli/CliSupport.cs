using System.Buffers.Binary;
using System.IO.Compression;
using NativeNet.Core.Backends;
using NativeNet.Data;
using Spectre.Console;

namespace NativeNet.Cli;

/// <summary>Data folder lookup, MNIST loading (with fetch) and backend selection shared by the commands.</summary>
internal static class CliSupport
{
    /// <summary>data/mnist under the repository root (the folder holding NativeNet.sln, searched upward from the current directory), else ./data/mnist.</summary>
    public static string DefaultDataDirectory()
    {
        for (var dir = new DirectoryInfo(Directory.GetCurrentDirectory()); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "NativeNet.sln")))
                return Path.Combine(dir.FullName, "data", "mnist");
        return Path.Combine(Directory.GetCurrentDirectory(), "data", "mnist");
    }

    /// <summary>The data folder --data names (or the default); a file there is an error, not a folder to create.</summary>
    public static string DataDirectory(string? option)
    {
        string dir = Path.GetFullPath(option ?? DefaultDataDirectory());
        if (File.Exists(dir)) throw new ArgumentException($"--data '{dir}' is a file; expected the folder that holds (or will hold) the MNIST files.");
        return dir;
    }

    private static readonly string[] MnistFiles = [Mnist.TrainImagesFile, Mnist.TrainLabelsFile, Mnist.TestImagesFile, Mnist.TestLabelsFile];

    private static bool AnyPresent(string dir, string name) => File.Exists(Path.Combine(dir, name)) || File.Exists(Path.Combine(dir, name + ".gz"));

    /// <summary>
    /// Loads the data set in <paramref name="dir"/>. When none of the four files is there, fetches MNIST first
    /// (when <paramref name="fetch"/>); when only some are, reports the missing one. The standard 60,000-image file
    /// gets the book's 50,000 / 10,000 split; any other training file keeps its last sixth for validation.
    /// </summary>
    public static MnistDataset LoadData(string dir, bool fetch, TextWriter log)
    {
        if (fetch && !MnistFiles.Any(f => AnyPresent(dir, f)))
        {
            log.WriteLine($"MNIST is not in {dir}; fetching it.");
            MnistFetcher.EnsureMnist(dir, new LineProgress(log));
        }
        int count = CountItems(Mnist.FindFile(dir, Mnist.TrainLabelsFile));
        return count == Mnist.StandardTrainingFileCount ? Mnist.Load(dir) : Mnist.Load(dir, Math.Max(1, count / 6));
    }

    /// <summary>The item count of an IDX file (bytes 4..7 of its header), raw or gzip.</summary>
    private static int CountItems(string path)
    {
        using var file = File.OpenRead(path);
        using Stream s = path.EndsWith(".gz", StringComparison.Ordinal) ? new GZipStream(file, CompressionMode.Decompress) : file;
        Span<byte> header = stackalloc byte[8];
        try { s.ReadExactly(header); }
        catch (EndOfStreamException) { throw new IdxFormatException(path, 0, "the file is shorter than an IDX header (8 bytes)"); }
        catch (InvalidDataException e) { throw new IdxFormatException(path, 0, "not a valid gzip file: " + e.Message); }
        return BinaryPrimitives.ReadInt32BigEndian(header[4..]);
    }

    /// <summary>cpu, or opencl / opencl:N when the OpenCL backend is built in.</summary>
    public static IComputeBackend CreateBackend(string device, int threads)
    {
        if (device == "cpu") return new CpuBackend(threads);
        if (device == "opencl" || device.StartsWith("opencl:", StringComparison.Ordinal)) return OpenCl.Create(device);
        throw new ArgumentException($"Unknown --device '{device}': use cpu, opencl or opencl:N.");
    }

    public static void ValidateThreads(int threads)
    {
        if (threads < 1 || threads > Environment.ProcessorCount * 4)
            throw new ArgumentException($"--threads must be between 1 and {Environment.ProcessorCount * 4}.");
    }

    private sealed class LineProgress(TextWriter log) : IProgress<string>
    {
        public void Report(string value) => log.WriteLine(value);
    }

    public static Spectre.Console.ValidationResult Ok => Spectre.Console.ValidationResult.Success();
}
