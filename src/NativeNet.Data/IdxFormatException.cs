namespace NativeNet.Data;

/// <summary>
/// An IDX file (raw or gzip-compressed) is malformed or breaks an <see cref="IdxLimits"/> bound.
/// The message always names the file, the byte offset and what was expected there.
/// </summary>
/// <remarks>
/// <see cref="InvalidDataException"/> would be the natural base but is sealed, so this derives
/// from <see cref="IOException"/>: code that handles "could not read the data file" in one
/// place catches it too. For gzip files <see cref="Offset"/> counts decompressed bytes, because
/// that is where the IDX structure lives.
/// </remarks>
public sealed class IdxFormatException : IOException
{
    /// <summary>A problem at <paramref name="offset"/> of <paramref name="filePath"/>; the message names both.</summary>
    /// <param name="filePath">Path (or source name, for streams) of the file.</param>
    /// <param name="offset">Byte offset of the problem (in the decompressed content for gzip files).</param>
    /// <param name="problem">What was found and what was expected there.</param>
    /// <param name="innerException">The error that caused it, if any.</param>
    public IdxFormatException(string filePath, long offset, string problem, Exception? innerException = null)
        : base($"IDX file '{filePath}', byte offset {offset}: {problem}", innerException)
    {
        FilePath = filePath;
        Offset = offset;
    }

    /// <summary>Path (or source name, for streams) of the offending file.</summary>
    public string FilePath { get; }

    /// <summary>
    /// Byte offset within the IDX content where the problem was found
    /// (within the decompressed content for gzip files).
    /// </summary>
    public long Offset { get; }
}
