using System.Buffers.Binary;
using System.IO.Compression;

namespace NativeNet.Data;

/// <summary>
/// Reads IDX files (the format of the MNIST distribution), raw or gzip-compressed.
/// </summary>
/// <remarks>
/// <para>Layout: bytes 0-1 are zero, byte 2 is the element type (only 0x08, unsigned byte, is
/// supported), byte 3 is the dimension count n, then n big-endian int32 sizes, then the
/// elements in row-major order. Nothing may follow the last element.</para>
/// <para>Gzip is recognised by its magic bytes 1f 8b, never by the file name. Every problem
/// surfaces as <see cref="IdxFormatException"/>; a missing file as <see cref="FileNotFoundException"/>.</para>
/// <para>Allocation is bounded before it happens: the header is checked against
/// <see cref="IdxLimits"/>, a raw file's declared size against its real length, and a gzip
/// stream's declared size against what its compressed length could possibly expand to. Gzip
/// data is read into a buffer that grows only as decompressed bytes actually arrive.</para>
/// </remarks>
public static class IdxReader
{
    /// <summary>Element type code of unsigned bytes, the only type supported.</summary>
    internal const byte UnsignedByteType = 0x08;

    /// <summary>
    /// Deflate cannot expand input by more than about 1032:1, so a gzip file of n bytes
    /// declaring more than n * 1032 elements is corrupt without reading further.
    /// </summary>
    internal const long MaxDeflateRatio = 1032;

    // First buffer for gzip data: a generous guess at the expansion (MNIST's images expand
    // about 5x) so that a well-formed file is read without regrowing, while a small hostile
    // file still gets only a small buffer.
    private const long GzipInitialExpansion = 8;
    private const int GzipMinimumInitialBuffer = 64 * 1024;

    /// <summary>Reads the IDX file at <paramref name="path"/>.</summary>
    /// <param name="path">The file, raw or gzip-compressed.</param>
    /// <param name="limits">Bounds checked before allocating; <see cref="IdxLimits.Default"/> when null.</param>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="IdxFormatException">The file is malformed or exceeds <paramref name="limits"/>.</exception>
    public static IdxFile Read(string path, IdxLimits? limits = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"IDX file not found: '{path}'", path);
        }

        // bufferSize 0 disables FileStream's own buffer: the reader issues few, large reads.
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 0);
        return Read(stream, path, limits);
    }

    /// <summary>
    /// Reads an IDX file from the current position of a seekable <paramref name="stream"/> to its end.
    /// </summary>
    /// <param name="stream">Seekable (its length bounds what may be allocated); left open.</param>
    /// <param name="sourceName">Names the source in error messages.</param>
    /// <param name="limits">Bounds checked before allocating; <see cref="IdxLimits.Default"/> when null.</param>
    public static IdxFile Read(Stream stream, string sourceName, IdxLimits? limits = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(sourceName);
        if (!stream.CanSeek || !stream.CanRead)
        {
            throw new ArgumentException("The stream must be readable and seekable.", nameof(stream));
        }

        limits ??= IdxLimits.Default;
        limits.Validate();

        long start = stream.Position;
        long length = stream.Length - start;
        Span<byte> magic = stackalloc byte[2];
        int got = stream.ReadAtLeast(magic, magic.Length, throwOnEndOfStream: false);
        stream.Position = start;

        if (got == 2 && magic[0] == 0x1f && magic[1] == 0x8b)
        {
            using var gzip = new GZipStream(stream, CompressionMode.Decompress, leaveOpen: true);
            return Parse(new Source(gzip, sourceName), limits, rawLength: null, compressedLength: length);
        }

        return Parse(new Source(stream, sourceName), limits, rawLength: length, compressedLength: null);
    }

    /// <summary>Formats dimensions as "60000 x 28 x 28".</summary>
    internal static string FormatShape(ReadOnlySpan<int> dimensions) =>
        dimensions.Length == 0 ? "(none)" : string.Join(" x ", dimensions.ToArray());

    /// <param name="source">The stream to read and the name errors give it.</param>
    /// <param name="limits">Size limits checked before anything is allocated.</param>
    /// <param name="rawLength">Length of the IDX content when known up front (raw files).</param>
    /// <param name="compressedLength">Length of the gzip file, for gzip content.</param>
    private static IdxFile Parse(Source source, IdxLimits limits, long? rawLength, long? compressedLength)
    {
        // Header: 4 magic bytes, then up to 255 int32 sizes; 1 KiB on the stack at most.
        Span<byte> header = stackalloc byte[4 + (4 * byte.MaxValue)];
        Span<byte> magic = header[..4];
        int got = source.Fill(magic);
        if (got < magic.Length)
        {
            throw source.Error(got, $"truncated header: expected the 4-byte magic (00 00 08 n), the content ends after {got} byte(s)");
        }

        for (int i = 0; i < 2; i++)
        {
            if (magic[i] != 0)
            {
                throw source.Error(i, $"bad magic: expected 0x00, found 0x{magic[i]:X2}");
            }
        }

        if (magic[2] != UnsignedByteType)
        {
            throw source.Error(2, $"unsupported element type 0x{magic[2]:X2} ({TypeName(magic[2])}); only 0x08 (unsigned byte) is supported");
        }

        int rank = magic[3];
        if (rank == 0 || rank > limits.MaxDimensions)
        {
            throw source.Error(3, $"dimension count {rank} is outside the accepted range 1..{limits.MaxDimensions}");
        }

        Span<byte> sizeBytes = header.Slice(4, 4 * rank);
        got = source.Fill(sizeBytes);
        if (got < sizeBytes.Length)
        {
            throw source.Error(4 + got, $"truncated header: expected {rank} big-endian int32 dimension sizes ({sizeBytes.Length} bytes) from offset 4, the content ends after {4 + got} byte(s)");
        }

        var dimensions = new int[rank];
        long elements = 1;
        long nonZeroProduct = 1;
        for (int i = 0; i < rank; i++)
        {
            uint size = BinaryPrimitives.ReadUInt32BigEndian(sizeBytes.Slice(4 * i, 4));
            long sizeOffset = 4 + (4 * i);
            if (size > int.MaxValue)
            {
                throw source.Error(sizeOffset, $"dimension {i} is {size}; expected a non-negative int32 (< 2^31)");
            }

            // Bounding the product of the non-zero sizes (not just the total, which a single
            // zero makes 0) keeps every partial product, e.g. the per-item size, within int.
            if (size != 0)
            {
                nonZeroProduct *= size;
                if (nonZeroProduct > limits.MaxTotalElements)
                {
                    throw source.Error(sizeOffset, $"dimensions {FormatPrefix(sizeBytes, i + 1)}{(i + 1 < rank ? " ..." : "")} exceed the limit of {limits.MaxTotalElements:N0} elements (IdxLimits.MaxTotalElements)");
                }
            }

            dimensions[i] = (int)size;
            elements *= size;
        }

        long headerLength = 4 + (4L * rank);
        string shape = FormatShape(dimensions);

        if (rawLength is long total)
        {
            long remaining = total - headerLength;
            if (remaining < elements)
            {
                throw source.Error(total, $"dimensions {shape} declare {elements:N0} data bytes after the {headerLength}-byte header, but only {remaining:N0} follow (truncated data, or dimensions that disagree with the file length)");
            }

            if (remaining > elements)
            {
                throw source.Error(headerLength + elements, $"expected end of file after {elements:N0} data bytes for dimensions {shape}, found {remaining - elements:N0} trailing byte(s) (dimensions disagree with the file length)");
            }
        }

        long initialCapacity = elements;
        if (compressedLength is long packed)
        {
            if (elements > packed * MaxDeflateRatio)
            {
                throw source.Error(headerLength, $"dimensions {shape} declare {elements:N0} data bytes, more than a {packed:N0}-byte gzip file can decompress to (deflate expands at most {MaxDeflateRatio}:1)");
            }

            initialCapacity = Math.Min(elements, Math.Max(GzipMinimumInitialBuffer, packed * GzipInitialExpansion));
        }

        byte[] data = ReadData(source, elements, (int)initialCapacity, headerLength, shape);

        // The content must end exactly here: a gzip stream that keeps going means the
        // dimensions are wrong, and it is refused without buffering what follows.
        Span<byte> probe = stackalloc byte[1];
        if (source.Fill(probe) != 0)
        {
            throw source.Error(headerLength + elements, $"expected end of data after {elements:N0} data bytes for dimensions {shape}, found trailing byte(s) (dimensions disagree with the content length)");
        }

        return new IdxFile(dimensions, data);
    }

    /// <summary>
    /// Reads exactly <paramref name="elements"/> bytes, starting with a buffer of
    /// <paramref name="initialCapacity"/> and doubling (up to the declared size) only when it is full,
    /// so memory follows the bytes that really arrive.
    /// </summary>
    private static byte[] ReadData(Source source, long elements, int initialCapacity, long headerLength, string shape)
    {
        var data = new byte[initialCapacity];
        int filled = 0;
        while (true)
        {
            filled += source.Fill(data.AsSpan(filled));
            if (filled == elements)
            {
                return data;
            }

            if (filled < data.Length)
            {
                throw source.Error(headerLength + filled, $"truncated data: dimensions {shape} declare {elements:N0} data bytes, the content ends after {filled:N0}");
            }

            Array.Resize(ref data, (int)Math.Min(elements, 2L * data.Length));
        }
    }

    private static string FormatPrefix(ReadOnlySpan<byte> sizeBytes, int count)
    {
        Span<int> sizes = stackalloc int[count];
        for (int i = 0; i < count; i++)
        {
            sizes[i] = (int)BinaryPrimitives.ReadUInt32BigEndian(sizeBytes.Slice(4 * i, 4));
        }

        return FormatShape(sizes);
    }

    private static string TypeName(byte type) => type switch
    {
        0x09 => "signed byte",
        0x0B => "int16",
        0x0C => "int32",
        0x0D => "float32",
        0x0E => "float64",
        _ => "not an IDX type",
    };

    /// <summary>The stream being parsed, with the count of content bytes consumed so far.</summary>
    private sealed class Source(Stream stream, string name)
    {
        private long _position;

        /// <summary>Reads until <paramref name="buffer"/> is full or the content ends; returns the count read.</summary>
        public int Fill(Span<byte> buffer)
        {
            try
            {
                int got = stream.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false);
                _position += got;
                return got;
            }
            catch (InvalidDataException ex)
            {
                // Corrupt deflate data: report it where the IDX content stopped making sense.
                throw new IdxFormatException(name, _position, $"corrupt gzip data after {_position:N0} decompressed byte(s): {ex.Message}", ex);
            }
        }

        public IdxFormatException Error(long offset, string problem) => new(name, offset, problem);
    }
}
