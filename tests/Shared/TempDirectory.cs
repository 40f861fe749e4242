namespace NativeNet.Testing;

/// <summary>A fresh temporary directory, deleted with everything in it on dispose.</summary>
internal sealed class TempDirectory : IDisposable
{
    public TempDirectory() => Path = Directory.CreateTempSubdirectory("nativenet-tests-").FullName;

    public string Path { get; }

    /// <summary>A path inside this directory: a file, or a subdirectory that the code under test creates.</summary>
    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: a leftover temp folder must not fail a test, nor hide the failure that ended it.
        }
    }
}
