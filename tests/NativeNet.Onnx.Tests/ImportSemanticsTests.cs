using Microsoft.ML.OnnxRuntime;

namespace NativeNet.Onnx.Tests;

/// <summary>
/// Graphs written by hand in forms NativeNet's exporter never writes (a bias-free Conv, an activation after the max pool,
/// a Constant-fed Reshape, Gemm with weights [inputs, units] and beta, MatMul + Add, Identity, LogSoftmax): the
/// importer's network computes what ONNX Runtime computes on the same file. And the protobuf reader accepts repeated
/// integers packed or not, as protobuf parsers must.
/// </summary>
public class ImportSemanticsTests
{
    private static OnnxTensor Floats(string name, long[] dims, Random rng)
    {
        long count = dims.Aggregate(1L, (a, d) => a * d);
        var data = new List<float>();
        for (long i = 0; i < count; i++) data.Add(rng.NextSingle() - 0.5f);
        return new OnnxTensor { Name = name, DataType = OnnxDataType.Float, Dims = dims, ElementCount = count, FloatData = data };
    }

    private static OnnxNode Node(string op, string name, string[] inputs, params OnnxAttribute[] attributes)
    {
        var n = new OnnxNode { Name = name, OpType = op };
        n.Inputs.AddRange(inputs);
        n.Outputs.Add(name);
        n.Attributes.AddRange(attributes);
        return n;
    }

    private static OnnxAttribute Ints(string name, params long[] v) { var a = new OnnxAttribute { Name = name, Type = OnnxAttributeType.Ints }; a.Ints.AddRange(v); return a; }

    private static OnnxValueInfo Value(string name, params long?[] dims)
        => new() { Name = name, ElemType = OnnxDataType.Float, IsTensor = true, Dims = dims.Select(d => new OnnxDim(d, d is null ? "N" : null)).ToList() };

    private static byte[] HandWrittenModel()
    {
        var rng = new Random(3);
        var g = new OnnxGraph { Name = "hand" };
        g.Inputs.Add(Value("x", null, 2, 10, 10));
        g.Initializers.AddRange([Floats("cw", [3, 2, 3, 3], rng), Floats("gw", [48, 6], rng), Floats("gb", [1, 6], rng), Floats("mw", [6, 4], rng), Floats("mb", [4], rng)]);
        var shape = new OnnxTensor { Name = "", DataType = OnnxDataType.Int64, Dims = [2], ElementCount = 2, Int64Data = [0, -1] };
        var constant = new OnnxNode { Name = "shape", OpType = "Constant" };
        constant.Outputs.Add("shape");
        constant.Attributes.Add(new OnnxAttribute { Name = "value", Type = OnnxAttributeType.Tensor, T = shape });
        g.Nodes.AddRange(
        [
            constant,
            Node("Conv", "conv", ["x", "cw"], Ints("kernel_shape", 3, 3)),                     // no bias; [N, 3, 8, 8]
            Node("MaxPool", "pool", ["conv"], Ints("kernel_shape", 2, 2), Ints("strides", 2, 2)), // [N, 3, 4, 4]
            Node("Tanh", "act", ["pool"]),                                                     // after the pool: commutes with max
            Node("Reshape", "flat", ["act", "shape"]),                                          // [N, 48]
            Node("Gemm", "gemm", ["flat", "gw", "gb"], new OnnxAttribute { Name = "beta", Type = OnnxAttributeType.Float, F = 0.5f }),
            Node("Relu", "relu", ["gemm"]),
            Node("Identity", "same", ["relu"]),
            Node("MatMul", "mm", ["same", "mw"]),
            Node("Add", "bias", ["mb", "mm"]),
            Node("LogSoftmax", "y", ["bias"], new OnnxAttribute { Name = "axis", Type = OnnxAttributeType.Int, I = 1 }),
        ]);
        for (int i = 0; i < g.Nodes.Count; i++) g.Nodes[i].Index = i;
        g.Outputs.Add(Value("y", null, 4));
        var model = new OnnxModel { IrVersion = 7, Graph = g };
        model.Opsets[""] = 13;
        return OnnxModelWriter.Write(model);
    }

    [Fact]
    public void HandWrittenGraph_ImportsToWhatOnnxRuntimeComputes()
    {
        var bytes = HandWrittenModel();
        var imported = OnnxImporter.Read(new MemoryStream(bytes), "hand.onnx");
        Assert.Equal("input 2x10x10 | conv 3 3 tanh | maxpool 2 | dense 6 relu | output 4 softmax", imported.Spec.Text);
        Assert.True(imported.OutputIsLogSoftmax);
        using var net = imported.Build();
        const int Count = 16;
        var rng = new Random(8);
        var x = new float[Count * 200];
        for (int i = 0; i < x.Length; i++) x[i] = rng.NextSingle();
        var ours = new float[Count * 4];
        net.PredictBatch(x, ours);

        using var session = new InferenceSession(bytes);
        using var input = OrtValue.CreateTensorValueFromMemory(x, [Count, 2, 10, 10]);
        var logProbabilities = new float[Count * 4];
        using var output = OrtValue.CreateTensorValueFromMemory(logProbabilities, [Count, 4]);
        using var run = new RunOptions();
        session.Run(run, ["x"], [input], ["y"], [output]);
        for (int i = 0; i < ours.Length; i++)
            Assert.True(Math.Abs(ours[i] - MathF.Exp(logProbabilities[i])) <= 1e-5, $"output {i}: NativeNet {ours[i]}, exp(ONNX Runtime) {MathF.Exp(logProbabilities[i])}");
    }

    [Fact]
    public void RepeatedIntegers_PackedOrNot_DecodeAlike()
    {
        // TensorProto { dims: 2, dims: 3 (unpacked) | dims: [2, 3] (packed); data_type: FLOAT; raw_data: 24 bytes }
        byte[] raw = new byte[24];
        byte[] Tensor(byte[] dims) => [.. dims, 0x10, 0x01, 0x4A, 24, .. raw];
        var unpacked = Tensor([0x08, 0x02, 0x08, 0x03]);
        var packed = Tensor([0x0A, 0x02, 0x02, 0x03]);
        foreach (var bytes in new[] { unpacked, packed })
        {
            // Wrap as ModelProto.graph.initializer and read through the public path's decoder.
            byte[] graph = [0x2A, (byte)bytes.Length, .. bytes];
            byte[] model = [0x3A, (byte)graph.Length, .. graph];
            var t = OnnxModelReader.Read(model, "m").Graph!.Initializers.Single();
            Assert.Equal([2L, 3L], t.Dims);
            Assert.Equal(6, t.ElementCount);
            Assert.Equal(6, t.Floats(out var problem)!.Length);
            Assert.Null(problem);
        }
    }

    [Fact]
    public void OverlongVarint_IsAFormatError()
    {
        byte[] model = [0x08, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01];
        var e = Assert.Throws<OnnxFormatException>(() => OnnxModelReader.Read(model, "m"));
        Assert.Contains("longer than 10 bytes", e.Message);
        Assert.Equal(1, e.Offset);
    }
}
