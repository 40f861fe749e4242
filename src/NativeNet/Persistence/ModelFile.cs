using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text.Json;
using NativeNet.Layers;

namespace NativeNet.Persistence;

/// <summary>A model or checkpoint file that is malformed: names the file, the byte offset and what was expected.</summary>
public sealed class ModelFormatException(string filePath, long offset, string problem)
    : IOException($"Model file '{filePath}', byte offset {offset}: {problem}")
{
    public string FilePath { get; } = filePath;
    public long Offset { get; } = offset;
}

/// <summary>What a model file holds besides the weights.</summary>
public sealed record ModelContents(NetworkSpec Spec, IReadOnlyDictionary<string, float[]> Tensors, IReadOnlyDictionary<string, string> Metadata);

/// <summary>
/// NativeNet model files are safetensors files (readable by any safetensors tool): an 8-byte little-endian header
/// length, a JSON header naming each F32 tensor's shape and byte range, then the raw little-endian data.
/// The header's <c>__metadata__</c> holds <c>format = nativenet</c>, <c>version = 1</c>, the architecture
/// (<see cref="NetworkSpec"/> text) and <c>sha256</c> of the data section. Loading runs no code and checks every
/// size, offset, shape and the checksum before trusting anything; saving is atomic (temporary file, flush, rename).
/// Tensor names: <c>layers.{i}.weight</c>, <c>layers.{i}.bias</c> (a checkpoint adds <c>velocity.</c> copies).
/// </summary>
public static class ModelFile
{
    public const string FormatName = "nativenet";
    public const int Version = 1;
    /// <summary>Headers larger than this are refused before being read (a real one is a few KiB).</summary>
    public const int MaxHeaderBytes = 16 << 20;

    /// <summary>Parameter tensor names of a network, in <see cref="Network.Parameters"/> order.</summary>
    public static string[] ParameterNames(Network net) =>
        net.Layers.SelectMany(l => l.Parameters.Select(p => $"layers.{l.Index}.{(p.IsWeight ? "weight" : "bias")}")).ToArray();

    public static void Save(string path, Network net, NetworkSpec spec, IReadOnlyDictionary<string, string>? metadata = null, bool includeVelocity = false)
    {
        var tensors = new List<(string Name, int[] Shape, float[] Data)>();
        var names = ParameterNames(net);
        var values = net.ExportParameters();
        for (int i = 0; i < names.Length; i++) tensors.Add((names[i], net.Parameters[i].Value.Dims.ToArray(), values[i]));
        if (includeVelocity && net.HasVelocity)
            for (int i = 0; i < names.Length; i++)
            {
                var v = net.Parameters[i].Velocity!;
                var host = new float[v.Length];
                net.Backend.Download(v, host);
                tensors.Add(("velocity." + names[i], v.Dims.ToArray(), host));
            }
        var meta = new Dictionary<string, string>(metadata ?? new Dictionary<string, string>())
        {
            ["format"] = FormatName, ["version"] = Version.ToString(), ["architecture"] = spec.Text,
        };
        Write(path, tensors, meta);
    }

    /// <summary>Writes tensors and metadata atomically: readers see the old file or the new one, never a torn one.</summary>
    public static void Write(string path, IReadOnlyList<(string Name, int[] Shape, float[] Data)> tensors, Dictionary<string, string> metadata)
    {
        long offset = 0;
        var data = new MemoryStream();
        var header = new Dictionary<string, object>();
        foreach (var (name, shape, values) in tensors)
        {
            var bytes = MemoryMarshal.AsBytes(values.AsSpan());
            if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("Model files are little-endian.");
            data.Write(bytes);
            header[name] = new { dtype = "F32", shape, data_offsets = new[] { offset, offset + bytes.Length } };
            offset += bytes.Length;
        }
        metadata["sha256"] = Convert.ToHexStringLower(SHA256.HashData(data.GetBuffer().AsSpan(0, (int)data.Length)));
        header["__metadata__"] = metadata;
        var json = JsonSerializer.SerializeToUtf8Bytes(header);
        int pad = (8 - json.Length % 8) % 8;   // keep the data section 8-byte aligned, padding with spaces as the format allows
        string dir = Path.GetDirectoryName(Path.GetFullPath(path))!;
        Directory.CreateDirectory(dir);
        string tmp = Path.Combine(dir, $".{Path.GetFileName(path)}.{Environment.ProcessId}.tmp");
        try
        {
            using (var fs = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None))
            {
                Span<byte> len = stackalloc byte[8];
                BinaryPrimitives.WriteUInt64LittleEndian(len, (ulong)(json.Length + pad));
                fs.Write(len);
                fs.Write(json);
                for (int i = 0; i < pad; i++) fs.WriteByte((byte)' ');
                data.Position = 0;
                data.CopyTo(fs);
                fs.Flush(flushToDisk: true);
            }
            File.Move(tmp, path, overwrite: true);
        }
        catch
        {
            try { File.Delete(tmp); } catch (IOException) { }
            throw;
        }
    }

    /// <summary>Reads and verifies a file: every problem is a <see cref="ModelFormatException"/> (missing file: FileNotFoundException).</summary>
    public static ModelContents Read(string path)
    {
        using var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        long fileLength = fs.Length;
        if (fileLength < 8) throw new ModelFormatException(path, 0, $"file is {fileLength} bytes; expected at least the 8-byte header length.");
        Span<byte> len = stackalloc byte[8];
        fs.ReadExactly(len);
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(len);
        if (headerLength < 2 || headerLength > MaxHeaderBytes || headerLength > (ulong)(fileLength - 8))
            throw new ModelFormatException(path, 0, $"header length {headerLength} is not between 2 and min({MaxHeaderBytes}, {fileLength - 8}).");
        var json = new byte[headerLength];
        fs.ReadExactly(json);
        long dataStart = 8 + (long)headerLength, dataLength = fileLength - dataStart;

        if (!System.Text.Unicode.Utf8.IsValid(json))
            throw new ModelFormatException(path, 8, "header is not valid UTF-8 text.");
        JsonDocument doc;
        try { doc = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 8 }); }
        catch (JsonException e) { throw new ModelFormatException(path, 8 + (e.BytePositionInLine ?? 0), $"header is not valid JSON: {e.Message}"); }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object) throw new ModelFormatException(path, 8, "header must be a JSON object.");
            var meta = new Dictionary<string, string>();
            var entries = new List<(string Name, int[] Shape, long Begin, long End)>();
            foreach (var prop in doc.RootElement.EnumerateObject())
            {
                if (prop.Name == "__metadata__")
                {
                    if (prop.Value.ValueKind != JsonValueKind.Object) throw new ModelFormatException(path, 8, "__metadata__ must be an object of strings.");
                    foreach (var m in prop.Value.EnumerateObject())
                        meta[m.Name] = m.Value.ValueKind == JsonValueKind.String ? m.Value.GetString()! : throw new ModelFormatException(path, 8, $"metadata '{m.Name}' must be a string.");
                    continue;
                }
                entries.Add(ParseEntry(path, prop));
            }
            if (!meta.TryGetValue("format", out var format) || format != FormatName)
                throw new ModelFormatException(path, 8, $"metadata 'format' is '{format}', expected '{FormatName}'.");
            if (!meta.TryGetValue("version", out var version) || version != Version.ToString())
                throw new ModelFormatException(path, 8, $"metadata 'version' is '{version}', this build reads version {Version}.");
            if (!meta.TryGetValue("architecture", out var arch)) throw new ModelFormatException(path, 8, "metadata lacks 'architecture'.");
            NetworkSpec spec;
            try { spec = NetworkSpec.Parse(arch); }
            catch (Exception e) when (e is FormatException or ArgumentException or InvalidOperationException)
            { throw new ModelFormatException(path, 8, $"architecture '{arch}' is invalid: {e.Message}"); }

            // Ranges must lie in the data section and tile it without overlap.
            long expectedBegin = 0;
            foreach (var e in entries.OrderBy(e => e.Begin))
            {
                if (e.Begin != expectedBegin || e.End > dataLength)
                    throw new ModelFormatException(path, dataStart + e.Begin, $"tensor '{e.Name}' occupies [{e.Begin}, {e.End}) but the next free byte is {expectedBegin} and the data section has {dataLength} bytes.");
                expectedBegin = e.End;
            }
            if (expectedBegin != dataLength)
                throw new ModelFormatException(path, dataStart + expectedBegin, $"{dataLength - expectedBegin} bytes after the last tensor; expected none.");

            var dataBytes = new byte[dataLength];
            fs.ReadExactly(dataBytes);
            string actual = Convert.ToHexStringLower(SHA256.HashData(dataBytes));
            if (!meta.TryGetValue("sha256", out var sha) || sha != actual)
                throw new ModelFormatException(path, dataStart, $"data checksum is {actual}, the header says {sha ?? "(none)"}: the file is damaged.");
            var tensors = new Dictionary<string, float[]>();
            foreach (var e in entries)
                tensors[e.Name] = MemoryMarshal.Cast<byte, float>(dataBytes.AsSpan((int)e.Begin, (int)(e.End - e.Begin))).ToArray();
            return new ModelContents(spec, tensors, meta);
        }
    }

    private static (string, int[], long, long) ParseEntry(string path, JsonProperty prop)
    {
        var v = prop.Value;
        string where = $"tensor '{prop.Name}'";
        if (v.ValueKind != JsonValueKind.Object) throw new ModelFormatException(path, 8, $"{where} must be an object.");
        if (!v.TryGetProperty("dtype", out var dtype) || dtype.ValueKind != JsonValueKind.String || dtype.GetString() != "F32")
            throw new ModelFormatException(path, 8, $"{where} has dtype {dtype}, expected \"F32\".");
        if (!v.TryGetProperty("shape", out var shapeEl) || shapeEl.ValueKind != JsonValueKind.Array || shapeEl.GetArrayLength() > 8)
            throw new ModelFormatException(path, 8, $"{where} needs a shape array of at most 8 dimensions.");
        var shape = new int[shapeEl.GetArrayLength()];
        long count = 1;
        int i = 0;
        foreach (var d in shapeEl.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt32(out shape[i]) || shape[i] < 0)
                throw new ModelFormatException(path, 8, $"{where} has a bad dimension {d}.");
            count = checked(count * shape[i++]);
            if (count > int.MaxValue) throw new ModelFormatException(path, 8, $"{where} has more than int.MaxValue elements.");
        }
        if (!v.TryGetProperty("data_offsets", out var offs) || offs.ValueKind != JsonValueKind.Array || offs.GetArrayLength() != 2
            || !offs[0].TryGetInt64(out long begin) || !offs[1].TryGetInt64(out long end) || begin < 0 || end < begin)
            throw new ModelFormatException(path, 8, $"{where} needs data_offsets [begin, end] with 0 <= begin <= end.");
        if (end - begin != count * 4)
            throw new ModelFormatException(path, 8, $"{where} spans {end - begin} bytes but its shape [{string.Join(", ", shape)}] needs {count * 4}.");
        return (prop.Name, shape, begin, end);
    }

    /// <summary>Loads a model file into a new network on <paramref name="backend"/> (the CPU when null).</summary>
    public static Network Load(string path, Core.Backends.IComputeBackend? backend = null)
    {
        var contents = Read(path);
        var net = contents.Spec.Build(0, WeightInit.ScaledByFanIn, backend);
        try
        {
            Apply(path, net, contents, velocity: false);
            return net;
        }
        catch
        {
            net.Dispose();
            throw;
        }
    }

    /// <summary>Copies a file's tensors into a network of the same architecture (and velocities, for a checkpoint).</summary>
    public static void Apply(string path, Network net, ModelContents contents, bool velocity)
    {
        var names = ParameterNames(net);
        var values = new float[names.Length][];
        for (int i = 0; i < names.Length; i++)
        {
            if (!contents.Tensors.TryGetValue(names[i], out var t))
                throw new ModelFormatException(path, 8, $"tensor '{names[i]}' is missing for architecture '{contents.Spec}'.");
            if (t.Length != net.Parameters[i].Value.Length)
                throw new ModelFormatException(path, 8, $"tensor '{names[i]}' has {t.Length} values; the architecture needs {net.Parameters[i].Value.Length}.");
            values[i] = t;
        }
        net.ImportParameters(values);
        if (!velocity || !net.HasVelocity) return;
        for (int i = 0; i < names.Length; i++)
            if (contents.Tensors.TryGetValue("velocity." + names[i], out var v) && v.Length == net.Parameters[i].Velocity!.Length)
                net.Backend.Upload(v, net.Parameters[i].Velocity!);
    }
}
