using System.Buffers.Binary;
using System.IO.Compression;

namespace NativeNet.Data;

/// <summary>
/// Writes IDX files of unsigned bytes (type 0x08), raw or gzip-compressed: the inverse of
/// <see cref="IdxReader"/>, for saving derived data sets (e.g. an expanded training set) and
/// for making small test files.
/// </summary>
public static class IdxWriter
{
    /// <summary>
    /// Writes <paramref name="data"/> with the header for <paramref name="dimensions"/> to
    /// <paramref name="path"/>, replacing any existing file.
    /// </summary>
    /// <param name="path">The file to write.</param>
    /// <param name="dimensions">Sizes, outermost first; 1..255 of them, each non-negative.</param>
    /// <param name="data">Row-major elements; its length must equal the product of the sizes.</param>
    /// <param name="gzip">Compress with gzip (readers detect it by the magic bytes).</param>
    public static void Write(string path, ReadOnlySpan<int> dimensions, ReadOnlySpan<byte> data, bool gzip = false)
    {
        using var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None);
        Write(file, dimensions, data, gzip);
    }

    /// <summary>Writes an IDX file to <paramref name="stream"/> (left open); see the path overload.</summary>
    /// <param name="stream">Where the file goes, from its current position.</param>
    /// <param name="dimensions">Sizes, outermost first; 1..255 of them, each non-negative.</param>
    /// <param name="data">Row-major elements; its length must equal the product of the sizes.</param>
    /// <param name="gzip">Compress with gzip (readers detect it by the magic bytes).</param>
    public static void Write(Stream stream, ReadOnlySpan<int> dimensions, ReadOnlySpan<byte> data, bool gzip = false)
    {
        ArgumentNullException.ThrowIfNull(stream);
        if (dimensions.Length is 0 or > byte.MaxValue)
        {
            throw new ArgumentException($"An IDX file has 1..255 dimensions, got {dimensions.Length}.", nameof(dimensions));
        }

        long elements = 1;
        foreach (int size in dimensions)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(size, nameof(dimensions));
            elements *= size;
            if (elements > Array.MaxLength)
            {
                throw new ArgumentException("The dimensions declare more elements than an array can hold.", nameof(dimensions));
            }
        }

        if (elements != data.Length)
        {
            throw new ArgumentException($"Dimensions {IdxReader.FormatShape(dimensions)} need {elements} bytes, data has {data.Length}.", nameof(data));
        }

        Span<byte> header = stackalloc byte[4 + (4 * dimensions.Length)];
        header[0] = 0;
        header[1] = 0;
        header[2] = IdxReader.UnsignedByteType;
        header[3] = (byte)dimensions.Length;
        for (int i = 0; i < dimensions.Length; i++)
        {
            BinaryPrimitives.WriteInt32BigEndian(header.Slice(4 + (4 * i), 4), dimensions[i]);
        }

        if (gzip)
        {
            using var compressed = new GZipStream(stream, CompressionLevel.Optimal, leaveOpen: true);
            compressed.Write(header);
            compressed.Write(data);
        }
        else
        {
            stream.Write(header);
            stream.Write(data);
        }
    }
}
