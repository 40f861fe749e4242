using System.Globalization;
using NativeNet.Core.Kernels;
using NativeNet.Layers;
using NativeNet.Persistence;

namespace NativeNet.Onnx;

/// <summary>
/// Writes a <see cref="Network"/> as an ONNX model (opset 13, IR version 7) that ONNX Runtime and the ONNX checker
/// accept and that computes what <see cref="Network.Predict"/> computes:
/// <list type="bullet">
/// <item>input "input": [N, C, H, W] for an image network, [N, features] for a flat one; output "output" [N, classes].</item>
/// <item>conv: Conv with weights [F, C, k, k] (NativeNet's [F, C·k·k] rows are the same floats in the same order),
/// bias [F], strides and symmetric pads, then Relu / Sigmoid / Tanh.</item>
/// <item>pools: MaxPool, AveragePool, LpPool with p = 2 (NativeNet's L2 pool is sqrt of the window's sum of squares,
/// which is LpPool's (sum |x|^2)^(1/2)); no padding and floor division, as in NativeNet.</item>
/// <item>dense: Gemm(x, W [units, inputs], b, transB = 1) then the activation. Dropout's inference scaling is Gemm's
/// alpha = 1 - p, the same product NativeNet scales (z = (1 - p) x W^T + b).</item>
/// <item>a Flatten(axis 1) where a dense layer follows a convolution or pool: NativeNet flattens each example's
/// [C, H, W] maps channel by channel, which is ONNX's NCHW flatten order.</item>
/// <item>outputs: Softmax(axis 1), Sigmoid, or nothing for a linear output.</item>
/// </list>
/// Metadata "nativenet.architecture" records the network as <see cref="NetworkSpec"/> text and "nativenet.cost" the
/// output's cost, which the graph alone cannot say (sigmoid with quadratic or cross-entropy cost).
/// </summary>
public static class OnnxExporter
{
    /// <summary>The ONNX operator set the exported graphs use.</summary>
    public const int Opset = 13;

    /// <summary>The ONNX IR version written (the one that goes with opset 13).</summary>
    public const int IrVersion = 7;

    /// <summary>Name of the graph's input value.</summary>
    public const string InputName = "input";

    /// <summary>Name of the graph's output value.</summary>
    public const string OutputName = "output";

    /// <summary>Writes <paramref name="network"/> to <paramref name="path"/> atomically (temporary file, then rename).</summary>
    /// <param name="network">The network to export.</param>
    /// <param name="path">The .onnx file; its folder is created if needed.</param>
    public static void Export(Network network, string path) => AtomicFile.WriteAllBytes(path, ToBytes(network));

    /// <summary>Writes <paramref name="network"/> as ONNX to <paramref name="stream"/>.</summary>
    /// <param name="network">The network to export.</param>
    /// <param name="stream">Where to write, from its current position; left open.</param>
    public static void Export(Network network, Stream stream) => stream.Write(ToBytes(network));

    /// <summary>The ONNX model's bytes.</summary>
    /// <param name="network">The network to export.</param>
    public static byte[] ToBytes(Network network) => OnnxModelWriter.Write(Build(network));

    /// <summary>
    /// The shape of the exported graph's input for a batch of <paramref name="batch"/> examples: [batch, C, H, W] for
    /// an image network, [batch, features] for a flat one. The examples' floats are in the order <see cref="Network.Predict"/> takes.
    /// </summary>
    /// <param name="network">The exported network.</param>
    /// <param name="batch">Examples in the batch.</param>
    public static long[] InputShape(Network network, int batch)
    {
        var s = network.InputShape;
        return IsImage(network) ? [batch, s.Channels, s.Height, s.Width] : [batch, s.Size];
    }

    /// <summary>The network as <see cref="NetworkSpec"/> text, e.g. "input 784 | dense 30 sigmoid | output 10 sigmoid-ce".</summary>
    /// <param name="network">The network.</param>
    public static string SpecText(Network network) => NetworkSpec.CanonicalText(network.InputShape, network.Layers);

    private static bool IsImage(Network network) => network.InputShape.Height > 1 || network.InputShape.Width > 1;

    private static OnnxModel Build(Network network)
    {
        var graph = new OnnxGraph { Name = "nativenet" };
        var input = network.InputShape;
        bool image = IsImage(network);
        graph.Inputs.Add(Value(InputName, image ? [input.Channels, input.Height, input.Width] : [input.Size]));
        var parameters = network.ExportParameters();
        int parameter = 0;
        string current = InputName;
        bool fourD = image;   // whether the current value is [N, C, H, W] (else [N, features])
        string Next(Layer layer, string what) => $"layers.{layer.Index}.{what}";

        foreach (var layer in network.Layers)
        {
            switch (layer)
            {
                case ConvLayer conv:
                {
                    if (!fourD) current = Reshape(graph, current, conv.Input, Next(conv, "reshape"));
                    var w = Tensor($"layers.{conv.Index}.weight", [conv.Filters, conv.Input.Channels, conv.Kernel, conv.Kernel], parameters[parameter++]);
                    var b = Tensor($"layers.{conv.Index}.bias", [conv.Filters], parameters[parameter++]);
                    graph.Initializers.AddRange([w, b]);
                    current = Add(graph, "Conv", Next(conv, "conv"), [current, w.Name, b.Name],
                        Ints("kernel_shape", conv.Kernel, conv.Kernel), Ints("strides", conv.Stride, conv.Stride),
                        Ints("pads", conv.Padding, conv.Padding, conv.Padding, conv.Padding), Ints("dilations", 1, 1), Int("group", 1));
                    current = Activate(graph, current, conv.Activation, Next(conv, "act"));
                    fourD = true;
                    break;
                }
                case PoolLayer pool:
                {
                    if (!fourD) current = Reshape(graph, current, pool.Input, Next(pool, "reshape"));
                    var attributes = new List<OnnxAttribute> { Ints("kernel_shape", pool.Window, pool.Window), Ints("strides", pool.Stride, pool.Stride), Ints("pads", 0, 0, 0, 0) };
                    if (pool.Kind == PoolKind.L2) attributes.Add(Int("p", 2));
                    string op = pool.Kind switch { PoolKind.Max => "MaxPool", PoolKind.Average => "AveragePool", _ => "LpPool" };
                    current = Add(graph, op, Next(pool, "pool"), [current], [.. attributes]);
                    fourD = true;
                    break;
                }
                case DenseLayer dense:
                {
                    if (fourD) current = Add(graph, "Flatten", Next(dense, "flatten"), [current], Int("axis", 1));
                    fourD = false;
                    var w = Tensor($"layers.{dense.Index}.weight", [dense.Units, dense.Input.Size], parameters[parameter++]);
                    var b = Tensor($"layers.{dense.Index}.bias", [dense.Units], parameters[parameter++]);
                    graph.Initializers.AddRange([w, b]);
                    var attributes = new List<OnnxAttribute> { Int("transB", 1) };
                    if (dense.Dropout > 0) attributes.Add(Float("alpha", 1f - dense.Dropout));   // the exact float NativeNet multiplies by
                    current = Add(graph, "Gemm", Next(dense, "gemm"), [current, w.Name, b.Name], [.. attributes]);
                    if (dense.Cost is null) current = Activate(graph, current, dense.Activation, Next(dense, "act"));
                    else if (dense.IsSoftmax) current = Add(graph, "Softmax", Next(dense, "softmax"), [current], Int("axis", 1));
                    else current = Activate(graph, current, dense.Activation, Next(dense, "act"));
                    break;
                }
                default: throw new NotSupportedException($"layer {layer.Describe()} has no ONNX form");
            }
        }
        // The last node writes the graph's output.
        var last = graph.Nodes[^1];
        last.Outputs[0] = OutputName;
        graph.Outputs.Add(Value(OutputName, [network.OutputSize]));

        var model = new OnnxModel
        {
            IrVersion = IrVersion, ProducerName = "NativeNet",
            ProducerVersion = typeof(OnnxExporter).Assembly.GetName().Version?.ToString() ?? "", Graph = graph,
        };
        model.Opsets[""] = Opset;
        model.Metadata["nativenet.architecture"] = SpecText(network);
        model.Metadata["nativenet.cost"] = NetworkSpec.CostName(network.Cost);
        return model;
    }

    private static string Reshape(OnnxGraph graph, string current, FeatureShape to, string name)
    {
        var shape = new OnnxTensor { Name = name + ".shape", DataType = OnnxDataType.Int64, Dims = [4], ElementCount = 4, Int64Data = [-1, to.Channels, to.Height, to.Width] };
        graph.Initializers.Add(shape);
        return Add(graph, "Reshape", name, [current, shape.Name]);
    }

    private static string Activate(OnnxGraph graph, string current, Activation activation, string name) => activation switch
    {
        Activation.ReLU => Add(graph, "Relu", name, [current]),
        Activation.Sigmoid => Add(graph, "Sigmoid", name, [current]),
        Activation.Tanh => Add(graph, "Tanh", name, [current]),
        _ => current,
    };

    /// <summary>Appends a node whose one output is named after it; returns that output's name.</summary>
    private static string Add(OnnxGraph graph, string op, string name, string[] inputs, params OnnxAttribute[] attributes)
    {
        var node = new OnnxNode { Name = name, OpType = op, Index = graph.Nodes.Count };
        node.Inputs.AddRange(inputs);
        node.Outputs.Add(name);
        node.Attributes.AddRange(attributes);
        graph.Nodes.Add(node);
        return name;
    }

    private static OnnxTensor Tensor(string name, long[] dims, float[] values)
        => new() { Name = name, DataType = OnnxDataType.Float, Dims = dims, ElementCount = values.Length, FloatData = [.. values] };

    private static OnnxValueInfo Value(string name, int[] perExample)
    {
        var dims = new List<OnnxDim> { new(null, "N") };
        foreach (int d in perExample) dims.Add(new OnnxDim(d, null));
        return new OnnxValueInfo { Name = name, ElemType = OnnxDataType.Float, IsTensor = true, Dims = dims };
    }

    private static OnnxAttribute Ints(string name, params long[] values)
    {
        var a = new OnnxAttribute { Name = name, Type = OnnxAttributeType.Ints };
        a.Ints.AddRange(values);
        return a;
    }

    private static OnnxAttribute Int(string name, long value) => new() { Name = name, Type = OnnxAttributeType.Int, I = value };

    private static OnnxAttribute Float(string name, float value) => new() { Name = name, Type = OnnxAttributeType.Float, F = value };
}

