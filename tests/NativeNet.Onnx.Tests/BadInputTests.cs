using NativeNet.Layers;

namespace NativeNet.Onnx.Tests;

/// <summary>Graphs NativeNet cannot run are refused with a typed, one-line error naming the node, its op and why.</summary>
public class BadInputTests
{
    /// <summary>A valid exported model, decoded so a test can break one thing and encode it again.</summary>
    private static OnnxModel Model(string spec = "input 1x6x6 | conv 2 3 relu | maxpool 2 | dense 5 sigmoid | output 3 softmax")
    {
        using var net = NetworkSpec.Parse(spec).Build(1, WeightInit.ScaledByFanIn);
        return OnnxModelReader.Read(OnnxExporter.ToBytes(net), "seed");
    }

    private static OnnxGraphException Refused(OnnxModel model)
        => Assert.Throws<OnnxGraphException>(() => OnnxImporter.Read(new MemoryStream(OnnxModelWriter.Write(model)), "bad.onnx"));

    private static OnnxNode Node(OnnxModel m, string op) => m.Graph!.Nodes.First(n => n.OpType == op);

    [Fact]
    public void UnsupportedOp_NamesTheNodeAndOp()
    {
        var m = Model();
        Node(m, "Relu").OpType = "Elu";
        var e = Refused(m);
        Assert.Equal("layers.0.act", e.NodeName);
        Assert.Equal("Elu", e.OpType);
        Assert.Contains("op type Elu is not one NativeNet imports", e.Message);
        Assert.Contains("bad.onnx", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void MissingInitializer_IsNamed()
    {
        var m = Model();
        m.Graph!.Initializers.RemoveAll(t => t.Name == "layers.3.weight");
        var e = Refused(m);
        Assert.Equal("Gemm", e.OpType);
        Assert.Contains("input 'layers.3.weight' is neither an initializer", e.Message);
    }

    [Fact]
    public void MismatchedWeightShape_SaysWhatWasExpected()
    {
        var m = Model();
        var w = m.Graph!.Initializers.First(t => t.Name == "layers.3.weight");
        w.Dims = [5, 3];   // the same 15 floats, stored [inputs, units] while transB = 1 says [units, inputs]
        var e = Refused(m);
        Assert.Equal("layers.3.gemm", e.NodeName);
        Assert.Contains("expected [units, 5]", e.Message);
    }

    [Fact]
    public void Cycle_IsRefused()
    {
        var m = Model();
        // layers.0.conv reads the pool's output instead of the input: conv -> relu -> pool -> conv.
        Node(m, "Conv").Inputs[0] = "layers.1.pool";
        var e = Refused(m);
        Assert.Contains("cycle", e.Message);
    }

    [Fact]
    public void Branch_IsRefused()
    {
        var m = Model();
        var extra = new OnnxNode { Name = "side", OpType = "Relu", Index = 99 };
        extra.Inputs.Add("input");
        extra.Outputs.Add("side_out");
        m.Graph!.Nodes.Add(extra);
        var e = Refused(m);
        Assert.Contains("feeds 2 nodes", e.Message);
        Assert.Contains("one chain", e.Message);
    }

    [Theory]
    [InlineData("strides", new long[] { 2, 1 }, "one stride for both axes")]
    [InlineData("dilations", new long[] { 2, 2 }, "dilations")]
    [InlineData("pads", new long[] { 1, 0, 1, 0 }, "pads all four sides equally")]
    public void UnsupportedConvAttributes_AreRefused(string attribute, long[] values, string why)
    {
        var m = Model();
        var a = Node(m, "Conv").Attribute(attribute)!;
        a.Ints.Clear();
        a.Ints.AddRange(values);
        var e = Refused(m);
        Assert.Equal("Conv", e.OpType);
        Assert.Contains(why, e.Message);
    }

    [Fact]
    public void UnknownAttribute_IsRefused_NotIgnored()
    {
        var m = Model();
        Node(m, "MaxPool").Attributes.Add(new OnnxAttribute { Name = "frobnicate", Type = OnnxAttributeType.Int, I = 1 });
        Assert.Contains("attribute 'frobnicate'", Refused(m).Message);
    }

    [Fact]
    public void ReluOutput_IsNotAnOutputLayer()
    {
        var m = Model("input 4 | dense 3 relu | output 2 linear");
        var relu = new OnnxNode { Name = "final_relu", OpType = "Relu", Index = 9 };
        relu.Inputs.Add("output");
        relu.Outputs.Add("relu_out");
        m.Graph!.Nodes.Add(relu);
        m.Graph.Outputs[0].Name = "relu_out";
        var e = Refused(m);
        Assert.Equal("final_relu", e.NodeName);
        Assert.Contains("not a NativeNet output layer", e.Message);
    }

    [Fact]
    public void TruncatedFile_IsAFormatErrorWithTheOffset()
    {
        using var net = NetworkSpec.Parse("input 4 | dense 3 relu | output 2 softmax").Build(1, WeightInit.ScaledByFanIn);
        var bytes = OnnxExporter.ToBytes(net);
        var e = Assert.Throws<OnnxFormatException>(() => OnnxImporter.Read(new MemoryStream(bytes[..(bytes.Length - 7)]), "cut.onnx"));
        Assert.Contains("cut.onnx", e.Message);
        Assert.InRange(e.Offset, 0, bytes.Length);
        Assert.Throws<OnnxFormatException>(() => OnnxImporter.Read(new MemoryStream([]), "empty.onnx"));
    }

    [Fact]
    public void HugeDeclaredLength_IsRefusedBeforeAllocating()
    {
        // ModelProto.graph (field 7, length-delimited) claiming 2^62 bytes.
        byte[] bytes = [0x3A, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x40, 0x00];
        var e = Assert.Throws<OnnxFormatException>(() => OnnxImporter.Read(new MemoryStream(bytes), "huge.onnx"));
        Assert.Contains("claims", e.Message);
    }
}
