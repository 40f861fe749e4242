using NativeNet.Core.Backends;
using NativeNet.Layers;

using NativeNet.Persistence;

namespace NativeNet;

/// <summary>What a model file holds besides the weights.</summary>
/// <param name="Spec">The architecture the file declares.</param>
/// <param name="Tensors">Every tensor by name, as flat row-major floats.</param>
/// <param name="Metadata">The header's <c>__metadata__</c> strings.</param>
public sealed record ModelContents(NetworkSpec Spec, IReadOnlyDictionary<string, float[]> Tensors, IReadOnlyDictionary<string, string> Metadata)
{
    /// <summary>The format version the file was written in (1 or 2).</summary>
    internal int Version { get; init; } = ModelFile.Version;

    /// <summary>The file path or source name the contents came from.</summary>
    internal string Source { get; init; } = "";

    /// <summary>Where each metadata value starts in the file, for errors that name a field.</summary>
    internal IReadOnlyDictionary<string, long> MetadataOffsets { get; init; } = new Dictionary<string, long>();
}

/// <summary>
/// NativeNet model files are safetensors files, readable by any safetensors tool: an 8-byte little-endian header
/// length, a JSON header naming each F32 tensor's dtype, shape and byte range, then the raw little-endian data.
/// <para>
/// Tensors: <c>layers.{i}.weight</c> and <c>layers.{i}.bias</c> for each layer i with parameters (i counts the layers
/// after the input, pools included); a dense layer's weight is [units, inputs], a convolution's [filters, channels, k, k]
/// (version 1 wrote [filters, channels·k·k]: the same floats in the same order); a checkpoint adds
/// <c>velocity.layers.{i}.weight</c>, ... of the same shapes when it trained with momentum.
/// </para>
/// <para>
/// <c>__metadata__</c> (all strings): <c>format</c> = <c>nativenet</c>, <c>version</c> = <c>2</c>, <c>architecture</c>
/// (the <see cref="NetworkSpec"/> text), <c>layers</c> (a JSON array with one object per layer: kind, input and output
/// shapes, units / filters / kernel / stride / padding / window, activation, dropout, and the names of its weight and
/// bias), <c>layout</c> (the conventions in words: flatten order [channels, height, width], cross-correlation, inference
/// dropout scaling by 1 - p), and <c>sha256</c>: the SHA-256 of the whole file with these 64 hexadecimal digits read as
/// 64 '0' characters (version 1: of the data section only). A training checkpoint adds its progress and options.
/// </para>
/// <para>
/// Loading runs no code and trusts nothing: the architecture is checked without building a network, every tensor must
/// be one that architecture has, with its exact shape (an unknown, duplicate or missing tensor, or a transposed or
/// flattened shape, is refused), the tensors must tile the data the source really holds, the checksum must match and
/// every value must be finite, all before a network is built; memory stays proportional to the file's size. Every
/// problem is a <see cref="ModelFormatException"/> naming the source, the byte offset, the field and what was expected.
/// Saving to a path is atomic (temporary file, flush, rename).
/// </para>
/// </summary>
public static class ModelFile
{
    /// <summary>The <c>format</c> metadata of a NativeNet model.</summary>
    public const string FormatName = "nativenet";

    /// <summary>The format version this build writes; it reads this one and version 1.</summary>
    public const int Version = 2;

    /// <summary>Headers larger than this are refused before being read (a model's is a few KiB, a long run's checkpoint some more).</summary>
    public const int MaxHeaderBytes = 16 << 20;

    /// <summary>Parameter tensor names of a network, in <see cref="Network.Parameters"/> order.</summary>
    /// <param name="net">The network, e.g. ["layers.0.weight", "layers.0.bias", ...].</param>
    internal static string[] ParameterNames(Network net) =>
        net.Layers.SelectMany(l => l.Parameters.Select(p => $"layers.{l.Index}.{(p.IsWeight ? "weight" : "bias")}")).ToArray();

    /// <summary>Saves a network (however it was built: its <see cref="Network.Architecture"/> is recorded) atomically to a file.</summary>
    /// <param name="path">The file to write; its folder is created if needed.</param>
    /// <param name="network">The network to save.</param>
    /// <param name="metadata">Extra metadata strings to store (the format's own keys take precedence).</param>
    public static void Save(string path, Network network, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(network);
        var (tensors, meta) = Contents(network, network.Architecture, metadata, includeVelocity: false);
        ModelWriter.WriteFile(path, tensors, meta);
    }

    /// <summary>Writes a network as a model to a stream (for a model kept in memory or sent elsewhere).</summary>
    /// <param name="stream">Where to write, from its current position.</param>
    /// <param name="network">The network to save.</param>
    /// <param name="metadata">Extra metadata strings to store (the format's own keys take precedence).</param>
    public static void Save(Stream stream, Network network, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(network);
        var (tensors, meta) = Contents(network, network.Architecture, metadata, includeVelocity: false);
        ModelWriter.Write(stream, tensors, meta);
    }

    /// <summary>Saves a network under a given architecture text (it must describe the network), optionally with its momentum velocities (a checkpoint).</summary>
    /// <param name="path">The file to write.</param>
    /// <param name="net">The network to save.</param>
    /// <param name="spec">The architecture to record; its tensors must match the network's.</param>
    /// <param name="metadata">Extra metadata strings to store.</param>
    /// <param name="includeVelocity">Also store the momentum velocities (for resuming training).</param>
    /// <exception cref="ArgumentException"><paramref name="spec"/> does not describe the network's tensors.</exception>
    public static void Save(string path, Network net, NetworkSpec spec, IReadOnlyDictionary<string, string>? metadata = null, bool includeVelocity = false)
    {
        ArgumentNullException.ThrowIfNull(net);
        ArgumentNullException.ThrowIfNull(spec);
        var (tensors, meta) = Contents(net, spec, metadata, includeVelocity);
        ModelWriter.WriteFile(path, tensors, meta);
    }

    private static (List<(string Name, int[] Shape, float[] Data)> Tensors, Dictionary<string, string> Metadata) Contents(
        Network net, NetworkSpec spec, IReadOnlyDictionary<string, string>? metadata, bool includeVelocity)
    {
        var layout = ModelLayout.Of(spec, Version);
        var parameters = net.ParameterArray;
        if (layout.Parameters.Count != parameters.Length || layout.Parameters.Where((t, i) => t.Count != parameters[i].Value.Length).Any())
            throw new ArgumentException($"Architecture '{spec}' does not describe this network ({net.Describe()}).", nameof(spec));
        var tensors = new List<(string Name, int[] Shape, float[] Data)>();
        var values = net.ExportParameters();
        for (int i = 0; i < values.Length; i++) tensors.Add((layout.Parameters[i].Name, layout.Parameters[i].Shape, values[i]));
        if (includeVelocity && net.HasVelocity)
            for (int i = 0; i < values.Length; i++)
            {
                var host = new float[parameters[i].Velocity!.Length];
                net.Backend.Download(parameters[i].Velocity!, host);
                tensors.Add((ModelLayout.VelocityPrefix + layout.Parameters[i].Name, layout.Parameters[i].Shape, host));
            }
        var meta = new Dictionary<string, string>(metadata ?? new Dictionary<string, string>(), StringComparer.Ordinal)
        {
            ["format"] = FormatName, ["version"] = Version.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["architecture"] = spec.Text, ["layers"] = layout.LayersJson, ["layout"] = ModelLayout.Description,
        };
        return (tensors, meta);
    }

    /// <summary>
    /// Writes tensors and metadata as a safetensors file, atomically: readers see the old file or the new one, never a
    /// torn one. Sets <c>metadata["sha256"]</c> to the checksum (of the data alone when <c>metadata["version"]</c> is "1",
    /// else of the whole file as described on <see cref="ModelFile"/>).
    /// </summary>
    /// <param name="path">The file to write.</param>
    /// <param name="tensors">Each tensor's name, shape and row-major values (the product of the shape).</param>
    /// <param name="metadata">The <c>__metadata__</c> strings; "sha256" is set here.</param>
    internal static void Write(string path, IReadOnlyList<(string Name, int[] Shape, float[] Data)> tensors, Dictionary<string, string> metadata)
        => ModelWriter.WriteFile(path, tensors, metadata);

    /// <summary>Reads and verifies a file: every problem is a <see cref="ModelFormatException"/> (a missing file: <see cref="FileNotFoundException"/>).</summary>
    /// <param name="path">The model or checkpoint file.</param>
    /// <exception cref="ModelFormatException">The file is not a valid model; the message names the offset and field.</exception>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    public static ModelContents Read(string path) => ModelReader.ReadFile(path);

    /// <summary>Loads a model file into a new network on <paramref name="backend"/> (the CPU when null).</summary>
    /// <param name="path">The model file.</param>
    /// <param name="backend">Where the network runs (the CPU when null).</param>
    /// <exception cref="ModelFormatException">The file is not a valid model; the message names the offset and field.</exception>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    public static Network Load(string path, IComputeBackend? backend = null) => Build(Read(path), backend);

    /// <summary>
    /// Writes <paramref name="network"/> as an ONNX model (opset 13) that ONNX Runtime and other ONNX tools run with the
    /// same results (<see cref="Onnx.OnnxExporter"/>).
    /// </summary>
    public static void ExportOnnx(string path, Network network) => Onnx.OnnxExporter.Export(network, path);

    /// <summary>
    /// Reads an ONNX model into a new network on <paramref name="backend"/> (the CPU when null); a graph NativeNet's layers
    /// cannot express is refused with an error naming the node (<see cref="Onnx.OnnxImporter"/>).
    /// </summary>
    public static Network ImportOnnx(string path, IComputeBackend? backend = null) => Onnx.OnnxImporter.Import(path, backend);

    /// <summary>Loads a model from a stream (read from its position to its end) with the same checks as a file.</summary>
    /// <param name="stream">The model's bytes; it need not be seekable.</param>
    /// <param name="backend">Where the network runs (the CPU when null).</param>
    /// <param name="sourceName">The name errors give for the source (default: the file name of a <see cref="FileStream"/>, else "stream").</param>
    /// <exception cref="ModelFormatException">The bytes are not a valid model: truncated, oversized or malformed.</exception>
    public static Network Load(Stream stream, IComputeBackend? backend = null, string? sourceName = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        return Build(ModelReader.Read(stream, sourceName ?? (stream as FileStream)?.Name ?? "stream"), backend);
    }

    /// <summary>Loads a model from bytes in memory (for example an embedded resource) with the same checks as a file.</summary>
    /// <param name="bytes">The whole model file.</param>
    /// <param name="backend">Where the network runs (the CPU when null).</param>
    /// <param name="sourceName">The name errors give for the source (default: "in-memory model (N bytes)").</param>
    /// <exception cref="ModelFormatException">The bytes are not a valid model: truncated, oversized or malformed.</exception>
    public static unsafe Network Load(ReadOnlySpan<byte> bytes, IComputeBackend? backend = null, string? sourceName = null)
    {
        sourceName ??= $"in-memory model ({bytes.Length} bytes)";
        if (bytes.IsEmpty) return Build(ModelReader.Read(new MemoryStream([]), sourceName), backend);
        fixed (byte* p = bytes)
        {
            using var stream = new UnmanagedMemoryStream(p, bytes.Length);
            return Build(ModelReader.Read(stream, sourceName), backend);
        }
    }

    private static Network Build(ModelContents contents, IComputeBackend? backend)
    {
        var net = contents.Spec.BuildUninitialized(backend);
        try
        {
            Apply(contents.Source, net, contents, velocity: false);
            return net;
        }
        catch
        {
            net.Dispose();
            throw;
        }
    }

    /// <summary>Copies a file's tensors into a network of the same architecture (and the velocities, for a checkpoint and a network trained with momentum).</summary>
    /// <param name="path">The file the contents came from, for errors.</param>
    /// <param name="net">A network of the contents' architecture.</param>
    /// <param name="contents">What <see cref="Read"/> returned.</param>
    /// <param name="velocity">Also restore momentum velocities: required when the network has them.</param>
    /// <exception cref="ModelFormatException">A tensor the network needs is missing or has another size.</exception>
    public static void Apply(string path, Network net, ModelContents contents, bool velocity)
    {
        var names = ParameterNames(net);
        var values = new float[names.Length][];
        for (int i = 0; i < names.Length; i++)
        {
            if (!contents.Tensors.TryGetValue(names[i], out var t))
                throw new ModelFormatException(path, 8, $"tensor '{names[i]}' is missing for architecture '{contents.Spec}'.", names[i]);
            if (t.Length != net.Parameters[i].Value.Length)
                throw new ModelFormatException(path, 8, $"tensor '{names[i]}' has {t.Length} values; the network needs {net.Parameters[i].Value.Length}.", names[i]);
            values[i] = t;
        }
        if (velocity && net.HasVelocity)
            for (int i = 0; i < names.Length; i++)
            {
                string name = ModelLayout.VelocityPrefix + names[i];
                if (!contents.Tensors.TryGetValue(name, out var v))
                    throw new ModelFormatException(path, 8, $"tensor '{name}' is missing: training with momentum resumes from a checkpoint written with momentum.", name);
                if (v.Length != net.Parameters[i].Velocity!.Length)
                    throw new ModelFormatException(path, 8, $"tensor '{name}' has {v.Length} values; the network needs {net.Parameters[i].Velocity!.Length}.", name);
            }
        net.ImportParameters(values);
        if (!velocity || !net.HasVelocity) return;
        for (int i = 0; i < names.Length; i++)
            net.Backend.Upload(contents.Tensors[ModelLayout.VelocityPrefix + names[i]], net.Parameters[i].Velocity!);
    }
}
