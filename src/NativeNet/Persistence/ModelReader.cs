using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace NativeNet.Persistence;

/// <summary>
/// Reads a NativeNet model or checkpoint from a file, a stream or bytes, trusting nothing: the header length is
/// bounded before it is read; the architecture in the metadata is parsed without building a network; every tensor the
/// header declares must be one that architecture has, with exactly its shape, and the tensors must tile the data
/// section the source really holds, all before any tensor memory is allocated. Memory is then bounded by the
/// source's own size. The data are read straight into the tensors while the SHA-256 checksum is computed, and every
/// value must be finite. Every problem is a <see cref="ModelFormatException"/>.
/// </summary>
internal static class ModelReader
{
    /// <summary>Reads a file; a directory, a FIFO or a device is refused before it is opened (a FIFO would block).</summary>
    public static ModelContents ReadFile(string path)
    {
        if (RegularFile.IsDirectory(path))
            throw new ModelFormatException(path, 0, "this is a directory, not a model file.");
        // FIFOs and devices report a length of 0 (also behind a symbolic link): refusing short files here keeps them unopened.
        if (RegularFile.Length(path) is long length && length < 8)
            throw new ModelFormatException(path, 0, $"the file is {length} bytes (or is not a regular file); expected at least the 8-byte header length.");
        using var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 0, FileOptions.SequentialScan);
        return Read(fs, path);
    }

    /// <summary>Reads a model from the stream's current position to its end.</summary>
    public static ModelContents Read(Stream stream, string source)
    {
        if (!stream.CanRead) throw new ArgumentException("The stream cannot be read.", nameof(stream));
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("Model files are little-endian.");
        long? available = stream.CanSeek ? stream.Length - stream.Position : null;
        if (available < 8) throw new ModelFormatException(source, 0, $"the model is {available} bytes; expected at least the 8-byte header length.");

        var prefix = new byte[8];
        int got = stream.ReadAtLeast(prefix, 8, throwOnEndOfStream: false);
        if (got < 8) throw new ModelFormatException(source, got, $"the model is {got} bytes; expected at least the 8-byte header length.");
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
        if (headerLength < 2 || headerLength > ModelFile.MaxHeaderBytes || (available is long a && headerLength > (ulong)(a - 8)))
            throw new ModelFormatException(source, 0, $"header length {headerLength} is not between 2 and {(available is long b ? $"min({ModelFile.MaxHeaderBytes}, {b - 8})" : ModelFile.MaxHeaderBytes)}.", "header length");
        var json = new byte[headerLength];
        got = stream.ReadAtLeast(json, json.Length, throwOnEndOfStream: false);
        if (got < json.Length) throw new ModelFormatException(source, 8 + got, $"the model ends inside its {headerLength}-byte header.", "header");
        if (!System.Text.Unicode.Utf8.IsValid(json)) throw new ModelFormatException(source, 8, "the header is not valid UTF-8 text.", "header");
        long dataStart = 8 + (long)headerLength;

        var (meta, metaOffsets, checksumAt) = SafetensorsHeader.ReadMetadata(source, json);
        var (spec, version, layout) = CheckMetadata(source, meta, metaOffsets, checksumAt);
        var entries = SafetensorsHeader.ReadEntries(source, json, layout, spec.Text);
        long dataLength = CheckEntries(source, entries, layout, dataStart);

        // Everything the header asks for is now checked against the architecture; check that the source holds it.
        if (available is long size)
        {
            if (size - dataStart < dataLength) throw new ModelFormatException(source, size, $"the model is {size} bytes but its tensors end at byte {dataStart + dataLength}: it is truncated.");
            if (size - dataStart > dataLength) throw new ModelFormatException(source, dataStart + dataLength, $"{size - dataStart - dataLength} bytes follow the last tensor; expected none.");
        }
        else stream = Buffer(source, stream, dataStart, dataLength);

        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        if (version >= 2)
        {
            // Version 2's checksum covers the whole file, header included, with its own 64 digits read as '0'.
            json.AsSpan(checksumAt, 64).Fill((byte)'0');
            hash.AppendData(prefix);
            hash.AppendData(json);
        }
        var tensors = new Dictionary<string, float[]>(StringComparer.Ordinal);
        foreach (var e in entries)
        {
            var values = new float[e.Info.Count];
            var bytes = MemoryMarshal.AsBytes(values.AsSpan());
            got = stream.ReadAtLeast(bytes, bytes.Length, throwOnEndOfStream: false);
            if (got < bytes.Length) throw new ModelFormatException(source, dataStart + e.Begin + got, $"the model ends inside tensor '{e.Info.Name}'.", e.Info.Name);
            hash.AppendData(bytes);
            tensors[e.Info.Name] = values;
        }
        string actual = Convert.ToHexStringLower(hash.GetHashAndReset());
        if (actual != meta["sha256"])
            throw new ModelFormatException(source, metaOffsets["sha256"], $"the checksum is {actual} but the header says {meta["sha256"]}: the file is damaged or was edited" +
                (version >= 2 ? " (version 2's checksum covers the header too)." : "."), "__metadata__.sha256");
        if (version >= 2) CheckLayers(source, meta, metaOffsets, spec, layout);
        foreach (var e in entries) CheckFinite(source, e, tensors[e.Info.Name], dataStart);
        return new ModelContents(spec, tensors, meta) { Version = version, Source = source, MetadataOffsets = metaOffsets };
    }

    /// <summary>Checks the metadata a model needs: format, version, architecture, and from version 2 the layers and checksum fields.</summary>
    private static (NetworkSpec Spec, int Version, ModelLayout Layout) CheckMetadata(string source, Dictionary<string, string> meta, Dictionary<string, long> offsets, int checksumAt)
    {
        string Required(string key) => meta.TryGetValue(key, out var v) ? v
            : throw new ModelFormatException(source, SafetensorsHeader.Start, $"the metadata lacks '{key}'.", "__metadata__." + key);
        ModelFormatException Bad(string key, string problem) => new(source, offsets[key], problem, "__metadata__." + key);

        if (Required("format") != ModelFile.FormatName) throw Bad("format", $"format is '{meta["format"]}'; expected '{ModelFile.FormatName}'.");
        int version = Required("version") switch
        {
            "1" => 1,
            "2" => 2,
            var v => throw Bad("version", $"version is '{v}'; this build reads versions 1 and {ModelFile.Version}."),
        };
        NetworkSpec spec;
        try { spec = NetworkSpec.Parse(Required("architecture")); }
        catch (FormatException e) { throw Bad("architecture", $"the architecture is invalid: {e.Message}"); }
        var layout = ModelLayout.Of(spec, version);
        string sha = Required("sha256");
        if (sha.Length != 64 || !sha.All(char.IsAsciiHexDigitLower))
            throw Bad("sha256", $"sha256 is '{Shorten(sha)}'; expected 64 lowercase hexadecimal digits.");
        if (version >= 2)
        {
            if (checksumAt < 0) throw Bad("sha256", "sha256 must be written as 64 plain digits (no escapes).");
            Required("layers");
        }
        return (spec, version, layout);
    }

    /// <summary>
    /// Version 2's <c>layers</c> must be what this architecture's file says about its layers (the checksum cannot tell
    /// whether someone who edited the architecture also re-sealed the file; this can).
    /// </summary>
    private static void CheckLayers(string source, Dictionary<string, string> meta, Dictionary<string, long> offsets, NetworkSpec spec, ModelLayout layout)
    {
        if (meta["layers"] != layout.LayersJson)
            throw new ModelFormatException(source, offsets["layers"],
                $"the layers metadata does not describe architecture '{spec.Text}' (expected what NativeNet writes for it: {Shorten(layout.LayersJson)}).", "__metadata__.layers");
    }

    private static string Shorten(string s) => s.Length <= 200 ? s : s[..200] + "...";

    /// <summary>Every parameter must be present (velocities all or none); the tensors must tile the data section. Returns its length.</summary>
    private static long CheckEntries(string source, List<TensorEntry> entries, ModelLayout layout, long dataStart)
    {
        var present = entries.Select(e => e.Info.Name).ToHashSet(StringComparer.Ordinal);
        foreach (var p in layout.Parameters)
            if (!present.Contains(p.Name))
                throw new ModelFormatException(source, SafetensorsHeader.Start, $"tensor '{p.Name}' {p.ShapeText} is missing.", p.Name);
        if (entries.Count > layout.Parameters.Count)
            foreach (var p in layout.Parameters)
                if (!present.Contains(ModelLayout.VelocityPrefix + p.Name))
                    throw new ModelFormatException(source, SafetensorsHeader.Start,
                        $"tensor '{ModelLayout.VelocityPrefix + p.Name}' is missing: a checkpoint has a velocity for every parameter or for none.", ModelLayout.VelocityPrefix + p.Name);
        entries.Sort((x, y) => x.Begin.CompareTo(y.Begin));
        long next = 0;
        foreach (var e in entries)
        {
            if (e.Begin != next)
                throw new ModelFormatException(source, dataStart + e.Begin,
                    $"tensor '{e.Info.Name}' occupies [{e.Begin}, {e.End}) but the next free byte is {next}: tensors must tile the data section without gaps or overlap.", e.Info.Name + ".data_offsets");
            next = e.End;
        }
        return next;
    }

    /// <summary>
    /// A stream that cannot seek does not tell its length: read its rest into memory, at most one byte more than the
    /// tensors need, so memory follows what the stream really holds and a short or long stream is found before any tensor is allocated.
    /// </summary>
    private static MemoryStream Buffer(string source, Stream stream, long dataStart, long dataLength)
    {
        var buffer = new MemoryStream();
        var chunk = new byte[81920];
        while (buffer.Length <= dataLength)
        {
            int n = stream.Read(chunk, 0, (int)Math.Min(chunk.Length, dataLength + 1 - buffer.Length));
            if (n == 0) break;
            buffer.Write(chunk, 0, n);
        }
        if (buffer.Length < dataLength)
            throw new ModelFormatException(source, dataStart + buffer.Length, $"the model ends at byte {dataStart + buffer.Length} but its tensors end at byte {dataStart + dataLength}: it is truncated.");
        if (buffer.Length > dataLength)
            throw new ModelFormatException(source, dataStart + dataLength, "bytes follow the last tensor; expected none.");
        buffer.Position = 0;
        return buffer;
    }

    /// <summary>A NaN or infinite weight makes every output meaningless (a model from a diverged run): refuse it by name.</summary>
    private static void CheckFinite(string source, TensorEntry e, float[] values, long dataStart)
    {
        int bad = IndexOfNonFinite(values);
        if (bad >= 0)
            throw new ModelFormatException(source, dataStart + e.Begin + 4L * bad,
                $"tensor '{e.Info.Name}' holds {values[bad].ToString(CultureInfo.InvariantCulture)} at element {bad}; every value must be finite (was the model saved from a diverged run?).", e.Info.Name);
    }

    private static int IndexOfNonFinite(ReadOnlySpan<float> values)
    {
        for (int i = 0; i < values.Length; i++)
            if (!float.IsFinite(values[i])) return i;
        return -1;
    }
}
