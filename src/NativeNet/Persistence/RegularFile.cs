namespace NativeNet.Persistence;

/// <summary>
/// Looks at what a path names before it is opened: a directory, or the file at the end of its symbolic links.
/// FIFOs and devices report a length of 0, so a caller that wants a file of at least some bytes refuses them here
/// (opening a FIFO for reading would block until a writer came).
/// </summary>
internal static class RegularFile
{
    /// <summary>True when <paramref name="path"/> (after links) is a directory.</summary>
    public static bool IsDirectory(string path) => Directory.Exists(path);

    /// <summary>The length of the file <paramref name="path"/> names after following its links, or null when there is none.</summary>
    public static long? Length(string path)
    {
        FileSystemInfo info = new FileInfo(path);
        try
        {
            if (info.LinkTarget is not null) info = info.ResolveLinkTarget(returnFinalTarget: true) ?? info;
        }
        catch (IOException)
        {
            return null;   // a loop of links: opening it fails with its own error
        }
        return info is FileInfo { Exists: true } file ? file.Length : null;
    }
}
