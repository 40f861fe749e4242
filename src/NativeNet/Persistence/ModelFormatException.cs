using NativeNet.Persistence;

namespace NativeNet;

/// <summary>
/// A model or checkpoint that is malformed, damaged or does not fit its architecture: names the source (the file path,
/// or the name given for a stream or bytes), the byte offset, the field concerned when there is one, and what was expected.
/// </summary>
public sealed class ModelFormatException : IOException
{
    /// <summary>A problem at <paramref name="offset"/> of <paramref name="filePath"/>.</summary>
    /// <param name="filePath">The file path, or the source name of a stream or bytes.</param>
    /// <param name="offset">Byte offset from the start of the model.</param>
    /// <param name="problem">What is wrong and what was expected.</param>
    /// <param name="field">The header field concerned (<c>__metadata__.epoch</c>, <c>layers.0.weight.shape</c>), if any.</param>
    public ModelFormatException(string filePath, long offset, string problem, string? field = null)
        : base($"Model file '{filePath}', byte offset {offset}{(field is null ? "" : $", field '{field}'")}: {problem}")
    {
        FilePath = filePath;
        Offset = offset;
        Field = field;
    }

    /// <summary>The file path, or the source name of a stream or bytes.</summary>
    public string FilePath { get; }

    /// <summary>Byte offset from the start of the model where the problem is.</summary>
    public long Offset { get; }

    /// <summary>The header field concerned, or null when the problem is not one field's (a truncated file, a bad checksum).</summary>
    public string? Field { get; }
}
