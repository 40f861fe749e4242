using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace NativeNet.Persistence;

/// <summary>
/// Writes safetensors files: the 8-byte header length, the JSON header (written with <see cref="Utf8JsonWriter"/>,
/// padded with spaces so the data start on an 8-byte boundary), then each tensor's floats. The checksum is put in
/// the metadata as <c>sha256</c>: for version 1 the SHA-256 of the data section, from version 2 the SHA-256 of the
/// whole file with those 64 digits read as '0', so that the header (architecture, shapes, every metadata value) is
/// covered too. Files are written atomically (<see cref="AtomicFile"/>).
/// </summary>
internal static class ModelWriter
{
    private static readonly byte[] ChecksumPlaceholder = Encoding.ASCII.GetBytes("\"sha256\":\"" + new string('0', 64) + "\"");

    /// <summary>The header, ready to write before the tensors: length prefix, JSON and padding, with the checksum filled in.</summary>
    public static byte[] Head(IReadOnlyList<(string Name, int[] Shape, float[] Data)> tensors, Dictionary<string, string> metadata)
    {
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("Model files are little-endian.");
        bool wholeFile = !(metadata.TryGetValue("version", out var v) && v == "1");
        foreach (var (name, shape, data) in tensors)
        {
            long count = shape.Aggregate(1L, (n, d) => d >= 0 ? n * d : throw new ArgumentException($"Tensor '{name}' has a negative dimension."));
            if (count != data.Length) throw new ArgumentException($"Tensor '{name}' has {data.Length} values but its shape [{string.Join(", ", shape)}] needs {count}.");
        }
        metadata["sha256"] = wholeFile ? new string('0', 64) : DataChecksum(tensors);

        var buffer = new ArrayBufferWriter<byte>();
        buffer.Write(new byte[8]);
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartObject();
            long offset = 0;
            foreach (var (name, shape, data) in tensors)
            {
                json.WriteStartObject(name);
                json.WriteString("dtype", "F32");
                json.WriteStartArray("shape");
                foreach (int d in shape) json.WriteNumberValue(d);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                json.WriteNumberValue(offset += (long)data.Length * sizeof(float));
                json.WriteEndArray();
                json.WriteEndObject();
            }
            json.WriteStartObject(SafetensorsHeader.MetadataKey);
            foreach (var key in metadata.Keys.Where(k => k != "sha256").Order(StringComparer.Ordinal)) json.WriteString(key, metadata[key]);
            json.WriteString("sha256", metadata["sha256"]);
            json.WriteEndObject();
            json.WriteEndObject();
        }
        int jsonLength = buffer.WrittenCount - 8;
        int pad = (8 - jsonLength % 8) % 8;   // spaces, as the format allows
        buffer.Write(Enumerable.Repeat((byte)' ', pad).ToArray());
        var head = buffer.WrittenSpan.ToArray();
        BinaryPrimitives.WriteUInt64LittleEndian(head, (ulong)(jsonLength + pad));
        if (wholeFile)
        {
            int at = head.AsSpan().LastIndexOf(ChecksumPlaceholder) + "\"sha256\":\"".Length;
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            hash.AppendData(head);
            foreach (var t in tensors) hash.AppendData(MemoryMarshal.AsBytes(t.Data.AsSpan()));
            string hex = Convert.ToHexStringLower(hash.GetHashAndReset());
            Encoding.ASCII.GetBytes(hex, head.AsSpan(at, 64));
            metadata["sha256"] = hex;
        }
        return head;
    }

    private static string DataChecksum(IReadOnlyList<(string Name, int[] Shape, float[] Data)> tensors)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var t in tensors) hash.AppendData(MemoryMarshal.AsBytes(t.Data.AsSpan()));
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    /// <summary>Writes the model to a stream at its current position.</summary>
    public static void Write(Stream destination, IReadOnlyList<(string Name, int[] Shape, float[] Data)> tensors, Dictionary<string, string> metadata)
    {
        destination.Write(Head(tensors, metadata));
        foreach (var t in tensors) destination.Write(MemoryMarshal.AsBytes(t.Data.AsSpan()));
    }

    /// <summary>Writes the model atomically (<see cref="AtomicFile"/>): readers of <paramref name="path"/> see the old file or the new one, never a torn one.</summary>
    public static void WriteFile(string path, IReadOnlyList<(string Name, int[] Shape, float[] Data)> tensors, Dictionary<string, string> metadata)
    {
        var head = Head(tensors, metadata);
        AtomicFile.Write(path, fs =>
        {
            fs.Write(head);
            foreach (var t in tensors) fs.Write(MemoryMarshal.AsBytes(t.Data.AsSpan()));
        });
    }
}
