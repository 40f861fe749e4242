namespace NativeNet.Data.Tests;

public sealed class IdxReaderTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void RoundTrip_ThreeDimensions(bool gzip)
    {
        int[] dims = [3, 4, 5];
        byte[] data = Idx.Sequence(60);
        string path = _dir.File(gzip ? "images.gz" : "images");
        IdxWriter.Write(path, dims, data, gzip);

        IdxFile file = IdxReader.Read(path);

        Assert.Equal(dims, file.Dimensions);
        Assert.Equal(data, file.Data);
        Assert.Equal(3, file.ItemCount);
        Assert.Equal(20, file.ItemSize);
    }

    [Fact]
    public void Writer_ProducesTheDocumentedLayout()
    {
        string path = _dir.File("labels");
        IdxWriter.Write(path, [4], [7, 0, 9, 1]);

        Assert.Equal(Idx.Bytes([4], [7, 0, 9, 1]), File.ReadAllBytes(path));
    }

    [Fact]
    public void Gzip_IsDetectedByMagicNotByName()
    {
        // A compressed file without .gz, and an uncompressed one named .gz.
        byte[] content = Idx.Bytes([2, 2], [1, 2, 3, 4]);
        File.WriteAllBytes(_dir.File("compressed.idx"), Idx.Gzip(content));
        File.WriteAllBytes(_dir.File("plain.gz"), content);

        Assert.Equal(new byte[] { 1, 2, 3, 4 }, IdxReader.Read(_dir.File("compressed.idx")).Data);
        Assert.Equal(new byte[] { 1, 2, 3, 4 }, IdxReader.Read(_dir.File("plain.gz")).Data);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ZeroItems_IsValid(bool gzip)
    {
        using var stream = new MemoryStream(Encode(Idx.Bytes([0, 28, 28], []), gzip));
        IdxFile file = IdxReader.Read(stream, "empty");
        Assert.Equal([0, 28, 28], file.Dimensions);
        Assert.Empty(file.Data);
        Assert.Equal(784, file.ItemSize);
    }

    [Fact]
    public void Stream_IsReadFromItsCurrentPosition()
    {
        byte[] content = Idx.Bytes([3], [5, 6, 7]);
        using var stream = new MemoryStream([0xAA, 0xBB, .. content]);
        stream.Position = 2;
        Assert.Equal(new byte[] { 5, 6, 7 }, IdxReader.Read(stream, "offset").Data);
    }

    [Fact]
    public void MissingFile_ThrowsFileNotFoundWithThePath()
    {
        string path = _dir.File("nope-idx1-ubyte");
        var ex = Assert.Throws<FileNotFoundException>(() => IdxReader.Read(path));
        Assert.Equal(path, ex.FileName);
        Assert.Contains(path, ex.Message);
    }

    public static TheoryData<string, byte[], long, string> MalformedCases()
    {
        byte[] valid = Idx.Bytes([2, 3, 3], Idx.Sequence(18)); // header 16 bytes + 18 data bytes
        return new()
        {
            { "empty file", [], 0, "truncated header" },
            { "bad magic byte 0", Patch(valid, 0, 0x01), 0, "bad magic: expected 0x00, found 0x01" },
            { "bad magic byte 1", Patch(valid, 1, 0x08), 1, "bad magic: expected 0x00, found 0x08" },
            { "float type", Patch(valid, 2, 0x0D), 2, "unsupported element type 0x0D (float32)" },
            { "garbage type", Patch(valid, 2, 0x42), 2, "unsupported element type 0x42" },
            { "zero dimension count", Patch(valid, 3, 0), 3, "dimension count 0" },
            { "absurd dimension count", Patch(valid, 3, 200), 3, "dimension count 200 is outside the accepted range 1..4" },
            { "truncated magic", valid[..3], 3, "truncated header" },
            { "truncated dimensions", valid[..10], 10, "truncated header" },
            { "truncated data", valid[..26], 26, "only 10 follow" },
            { "dims larger than data", Patch(valid, 11, 4), 34, "dimensions 2 x 4 x 3 declare 24 data bytes" },
            { "trailing bytes", [.. valid, 1, 2, 3], 34, "3 trailing byte(s)" },
            { "dims smaller than data", Patch(valid, 11, 2), 28, "6 trailing byte(s)" },
            { "dimension 2^31", Idx.Bytes([int.MinValue, 1], []), 4, "dimension 0 is 2147483648; expected a non-negative int32" },
            { "dimension 2^32-1", Idx.Bytes([2, -1], [1, 2]), 8, "dimension 1 is 4294967295" },
            { "over the element limit", Idx.Bytes([20_000, 20_000], []), 8, "exceed the limit of 200,000,000 elements" },
        };
    }

    [Theory]
    [MemberData(nameof(MalformedCases))]
    public void Malformed_Raw_ThrowsIdxFormatException_NamingFileAndOffset(string name, byte[] content, long offset, string expected)
    {
        string path = _dir.File(name.Replace(' ', '-'));
        File.WriteAllBytes(path, content);

        var ex = Assert.Throws<IdxFormatException>(() => IdxReader.Read(path));

        AssertNames(ex, path, offset, expected);
    }

    [Theory]
    [MemberData(nameof(MalformedCases))]
    public void Malformed_Gzip_ThrowsIdxFormatException_AtTheSameDecompressedOffset(string name, byte[] content, long offset, string expected)
    {
        string path = _dir.File(name.Replace(' ', '-') + ".gz");
        File.WriteAllBytes(path, Idx.Gzip(content));

        var ex = Assert.Throws<IdxFormatException>(() => IdxReader.Read(path));

        // The raw reader knows the file length up front and words size mismatches accordingly;
        // the gzip reader finds them while streaming. Both report the same offset.
        Assert.Equal(path, ex.FilePath);
        Assert.Equal(offset, ex.Offset);
        Assert.Contains($"byte offset {offset}:", ex.Message);
        if (!name.Contains("data") && !name.Contains("trailing"))
        {
            Assert.Contains(expected, ex.Message);
        }
    }

    [Fact]
    public void CorruptGzip_ThrowsIdxFormatException()
    {
        byte[] gz = Idx.Gzip(Idx.Bytes([100], Idx.Sequence(100)));
        gz[12] ^= 0xFF; // inside the deflate data
        gz[13] ^= 0xFF;
        string path = _dir.File("corrupt.gz");
        File.WriteAllBytes(path, gz);

        var ex = Assert.Throws<IdxFormatException>(() => IdxReader.Read(path));
        Assert.Equal(path, ex.FilePath);
    }

    [Fact]
    public void Gzip_DeclaringMoreThanDeflateCanExpandTo_IsRefused()
    {
        string path = _dir.File("bomb.gz");
        File.WriteAllBytes(path, Idx.Gzip(Idx.Bytes([1000, 1000, 100], new byte[10])));

        var ex = Assert.Throws<IdxFormatException>(() => IdxReader.Read(path));
        Assert.Equal(16, ex.Offset);
        Assert.Contains("more than a", ex.Message);
    }

    [Fact]
    public void Limits_AreConfigurable()
    {
        byte[] content = Idx.Bytes([2, 2, 2, 2, 2], Idx.Sequence(32));
        using var stream = new MemoryStream(content);

        var rank = Assert.Throws<IdxFormatException>(() => IdxReader.Read(stream, "five-d"));
        Assert.Equal(3, rank.Offset);

        stream.Position = 0;
        Assert.Equal(32, IdxReader.Read(stream, "five-d", new IdxLimits { MaxDimensions = 5 }).Data.Length);

        stream.Position = 0;
        var size = Assert.Throws<IdxFormatException>(() => IdxReader.Read(stream, "five-d", new IdxLimits { MaxDimensions = 5, MaxTotalElements = 31 }));
        Assert.Equal(20, size.Offset);
        Assert.Contains("IdxLimits.MaxTotalElements", size.Message);
    }

    [Fact]
    public void Limits_AreValidated()
    {
        using var stream = new MemoryStream(Idx.Bytes([1], [0]));
        Assert.Throws<ArgumentOutOfRangeException>(() => IdxReader.Read(stream, "x", new IdxLimits { MaxDimensions = 0 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => IdxReader.Read(stream, "x", new IdxLimits { MaxTotalElements = long.MaxValue }));
    }

    [Fact]
    public void ZeroSizedDimension_DoesNotHideAnOversizedItem()
    {
        // 0 items of 2^30 x 4 bytes: the total is 0, but the item size would overflow int.
        using var stream = new MemoryStream(Idx.Bytes([0, 1 << 30, 4], []));
        var ex = Assert.Throws<IdxFormatException>(() => IdxReader.Read(stream, "zero"));
        Assert.Equal(8, ex.Offset);
    }

    [Fact]
    public void RawFile_DeclaringHugeSize_IsRefusedWithoutAllocatingIt()
    {
        // 150 million declared elements (within the default limit), 16 real ones.
        string path = _dir.File("huge-declared");
        File.WriteAllBytes(path, Idx.Bytes([150, 1000, 1000], new byte[16]));
        Assert.Throws<IdxFormatException>(() => IdxReader.Read(path)); // warm up

        long allocated = Allocations.MeasureThrowing<IdxFormatException>(() => IdxReader.Read(path));

        Assert.True(allocated < 32 * 1024, $"allocated {allocated} bytes for a {new FileInfo(path).Length}-byte file");
    }

    [Fact]
    public void LimitExceeded_IsRefusedBeforeAllocatingTheData()
    {
        // A perfectly valid 1 MB file, refused by a limit just below its size.
        string path = _dir.File("valid-but-over-limit");
        IdxWriter.Write(path, [1000, 1000], new byte[1_000_000]);
        var limits = new IdxLimits { MaxTotalElements = 999_999 };
        Assert.Throws<IdxFormatException>(() => IdxReader.Read(path, limits)); // warm up

        long allocated = Allocations.MeasureThrowing<IdxFormatException>(() => IdxReader.Read(path, limits));

        Assert.True(allocated < 32 * 1024, $"allocated {allocated} bytes");
    }

    [Fact]
    public void GzipFile_DeclaringHugeSize_AllocatesInProportionToTheFile()
    {
        // Incompressible data: 20,000 real bytes, 5,000,000 declared. The declared size passes
        // the deflate-ratio check, so the reader must grow its buffer only as data arrives.
        var random = new Random(1);
        var data = new byte[20_000];
        random.NextBytes(data);
        byte[] content = Idx.Bytes([5, 1000, 1000], []);
        byte[] gz = Idx.Gzip([.. content, .. data]);
        using var stream = new MemoryStream(gz);
        Assert.Throws<IdxFormatException>(() => IdxReader.Read(stream, "big.gz")); // warm up

        stream.Position = 0;
        var ex = Assert.Throws<IdxFormatException>(() => IdxReader.Read(stream, "big.gz"));
        Assert.Equal(16 + 20_000, ex.Offset);
        Assert.Contains("truncated data", ex.Message);

        stream.Position = 0;
        long allocated = Allocations.MeasureThrowing<IdxFormatException>(() => IdxReader.Read(stream, "big.gz"));
        Assert.True(allocated < (16 * gz.Length) + (256 * 1024), $"allocated {allocated} bytes for a {gz.Length}-byte gzip file declaring 5,000,000");
    }

    [Fact]
    public void GzipFile_WithMoreDataThanDeclared_StopsReadingAtTheDeclaredSize()
    {
        // 100 declared bytes followed by 10 MB of zeros: refused after the first extra byte.
        byte[] gz = Idx.Gzip([.. Idx.Bytes([100], new byte[100]), .. new byte[10_000_000]]);
        using var stream = new MemoryStream(gz);
        Assert.Throws<IdxFormatException>(() => IdxReader.Read(stream, "long.gz")); // warm up

        stream.Position = 0;
        long allocated = Allocations.MeasureThrowing<IdxFormatException>(() => IdxReader.Read(stream, "long.gz"));
        Assert.True(allocated < 256 * 1024, $"allocated {allocated} bytes");
    }

    private static void AssertNames(IdxFormatException ex, string path, long offset, string expected)
    {
        Assert.Equal(path, ex.FilePath);
        Assert.Equal(offset, ex.Offset);
        Assert.Contains(path, ex.Message);
        Assert.Contains($"byte offset {offset}:", ex.Message);
        Assert.Contains(expected, ex.Message);
    }

    private static byte[] Patch(byte[] bytes, int index, byte value)
    {
        byte[] copy = [.. bytes];
        copy[index] = value;
        return copy;
    }

    private static byte[] Encode(byte[] content, bool gzip) => gzip ? Idx.Gzip(content) : content;
}
