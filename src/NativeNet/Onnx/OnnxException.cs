namespace NativeNet.Onnx;

/// <summary>
/// An ONNX file NativeNet cannot use. Every problem is one of the two subclasses: the bytes are not a well-formed
/// ONNX model (<see cref="OnnxFormatException"/>), or the graph is well-formed but not something NativeNet's layers
/// express (<see cref="OnnxGraphException"/>). The message is one line that names the file and what was expected.
/// </summary>
/// <param name="filePath">The file (or the stream's name) being read.</param>
/// <param name="message">The whole message; control characters are escaped and it is cut after 4,000 characters.</param>
public abstract class OnnxException(string filePath, string message) : IOException(Printable(message))
{
    /// <summary>The file (or the stream's name) that was being read.</summary>
    public string FilePath { get; } = filePath;

    /// <summary>
    /// Names from a file can hold anything: control characters are written as \uXXXX, so the message stays one line,
    /// and a message is cut after 4,000 characters (<see cref="Name"/> cuts each name at 200).
    /// </summary>
    internal static string Printable(string text)
    {
        var sb = new System.Text.StringBuilder(Math.Min(text.Length, 4096));
        foreach (char c in text)
        {
            if (sb.Length >= 4000) { sb.Append("..."); break; }
            if (char.IsControl(c)) sb.Append($"\\u{(int)c:X4}");
            else sb.Append(c);
        }
        return sb.ToString();
    }

    /// <summary>A name from the file, made printable and cut to 200 characters.</summary>
    internal static string Name(string? name) => name is null ? "" : Printable(name.Length > 200 ? name[..200] + "..." : name);
}

/// <summary>Malformed bytes: truncated, a bad protobuf wire type or length, an impossible tensor size.</summary>
/// <param name="filePath">The file (or the stream's name) being read.</param>
/// <param name="offset">Byte offset of the problem.</param>
/// <param name="problem">What was found and what was expected.</param>
public sealed class OnnxFormatException(string filePath, long offset, string problem)
    : OnnxException(filePath, $"ONNX file '{filePath}', byte offset {offset}: {problem}")
{
    /// <summary>Where in the file the problem was found.</summary>
    public long Offset { get; } = offset;
}

/// <summary>
/// A graph NativeNet refuses: an unsupported op or attribute, a missing initializer, mismatched shapes, a cycle, a
/// branch. <see cref="NodeName"/> and <see cref="OpType"/> name the node when one is at fault.
/// </summary>
/// <param name="filePath">The file (or the stream's name) being read.</param>
/// <param name="nodeName">The node at fault, or null for a graph-level problem.</param>
/// <param name="opType">The node's op type, or null.</param>
/// <param name="problem">What is refused and why.</param>
public sealed class OnnxGraphException(string filePath, string? nodeName, string? opType, string problem)
    : OnnxException(filePath, nodeName is null && opType is null
        ? $"ONNX file '{filePath}': {problem}"
        : $"ONNX file '{filePath}', node '{Name(nodeName)}' ({Name(opType)}): {problem}")
{
    /// <summary>The node at fault (its name, or "#index" when it has none), or null for a graph-level problem.</summary>
    public string? NodeName { get; } = nodeName;

    /// <summary>The op type of the node at fault, or null.</summary>
    public string? OpType { get; } = opType;
}
