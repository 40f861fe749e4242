using NativeNet.Core.Backends;
using NativeNet.Layers;

namespace NativeNet.Onnx;

/// <summary>
/// An ONNX model translated into NativeNet terms: the architecture as <see cref="NetworkSpec"/> and the parameters in
/// <see cref="Network.Parameters"/> order and NativeNet's layouts (conv weights [F, C·k·k], dense weights [units, inputs]).
/// </summary>
/// <param name="Spec">The architecture.</param>
/// <param name="Parameters">Weights and biases, layer by layer.</param>
/// <param name="Metadata">The ONNX file's metadata_props plus "onnx.producer" and "onnx.opset".</param>
/// <param name="OutputIsLogSoftmax">The graph ended in LogSoftmax: the imported network outputs the probabilities, exp of the graph's output.</param>
public sealed record ImportedModel(NetworkSpec Spec, IReadOnlyList<float[]> Parameters, IReadOnlyDictionary<string, string> Metadata, bool OutputIsLogSoftmax)
{
    /// <summary>Builds the network on <paramref name="backend"/> (the CPU when null) and loads the parameters.</summary>
    /// <param name="backend">Where the network runs; null for the CPU.</param>
    public Network Build(IComputeBackend? backend = null)
    {
        var net = Spec.BuildUninitialized(backend);   // every parameter comes from the graph
        try
        {
            net.ImportParameters(Parameters);
            return net;
        }
        catch
        {
            net.Dispose();
            throw;
        }
    }
}

/// <summary>
/// Reads ONNX models whose graph NativeNet's layers express: one chain of Conv (square kernels, equal strides,
/// symmetric padding), MaxPool / AveragePool / LpPool (p = 2, no padding), Flatten or a flattening Reshape,
/// Gemm or MatMul + Add, Relu / Sigmoid / Tanh, and a final Softmax / LogSoftmax / Sigmoid or nothing; Dropout and
/// Identity are inference no-ops. Anything else is refused with an <see cref="OnnxGraphException"/> naming the node,
/// its op type and why; malformed bytes with an <see cref="OnnxFormatException"/>. A model written by
/// <see cref="OnnxExporter"/> imports to the same architecture and the same floats, so it predicts bit for bit the same.
/// </summary>
public static class OnnxImporter
{
    /// <summary>Imports the file at <paramref name="path"/> into a network on <paramref name="backend"/> (the CPU when null).</summary>
    /// <param name="path">The .onnx file.</param>
    /// <param name="backend">Where the network runs; null for the CPU.</param>
    /// <exception cref="OnnxFormatException">The bytes are not a well-formed ONNX model.</exception>
    /// <exception cref="OnnxGraphException">The graph is not one NativeNet's layers express.</exception>
    public static Network Import(string path, IComputeBackend? backend = null) => Read(path).Build(backend);

    /// <summary>Imports an ONNX model from a stream; <paramref name="sourceName"/> names it in errors.</summary>
    /// <param name="stream">The model's bytes, read from its position to its end.</param>
    /// <param name="sourceName">The name errors give for the source.</param>
    /// <param name="backend">Where the network runs; null for the CPU.</param>
    /// <exception cref="OnnxFormatException">The bytes are not a well-formed ONNX model.</exception>
    /// <exception cref="OnnxGraphException">The graph is not one NativeNet's layers express.</exception>
    public static Network Import(Stream stream, string sourceName, IComputeBackend? backend = null) => Read(stream, sourceName).Build(backend);

    /// <summary>Reads and translates the file without building a network.</summary>
    /// <param name="path">The .onnx file.</param>
    /// <exception cref="OnnxFormatException">The bytes are not a well-formed ONNX model.</exception>
    /// <exception cref="OnnxGraphException">The graph is not one NativeNet's layers express.</exception>
    public static ImportedModel Read(string path)
    {
        using var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        return Read(fs, path);
    }

    /// <summary>Reads and translates an ONNX model from a stream; <paramref name="sourceName"/> names it in errors.</summary>
    /// <param name="stream">The model's bytes, read from its position to its end.</param>
    /// <param name="sourceName">The name errors give for the source.</param>
    /// <exception cref="OnnxFormatException">The bytes are not a well-formed ONNX model.</exception>
    /// <exception cref="OnnxGraphException">The graph is not one NativeNet's layers express.</exception>
    public static ImportedModel Read(Stream stream, string sourceName)
    {
        var model = OnnxModelReader.Read(stream, sourceName);
        var chain = OnnxGraphValidator.Validate(model, sourceName);
        var (spec, parameters, logSoftmax) = new OnnxTranslator(chain, model.Metadata, sourceName).Translate();
        var metadata = new Dictionary<string, string>(model.Metadata)
        {
            ["onnx.producer"] = (model.ProducerName + " " + model.ProducerVersion).Trim(),
            ["onnx.opset"] = chain.Opset.ToString(System.Globalization.CultureInfo.InvariantCulture),
        };
        return new ImportedModel(spec, parameters, metadata, logSoftmax);
    }
}
