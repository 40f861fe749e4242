using System.Runtime.InteropServices;

namespace NativeNet.Onnx;

/// <summary>
/// Encodes an <see cref="OnnxModel"/> as protobuf bytes: the fields NativeNet's exporter fills, with the field
/// numbers of onnx.proto. Tensors are written as raw little-endian data (field 9), repeated integers unpacked as
/// proto2 declares them.
/// </summary>
internal static class OnnxModelWriter
{
    public static byte[] Write(OnnxModel model)
    {
        var w = new ProtoWriter();
        w.WriteInt64(1, model.IrVersion);
        if (model.ProducerName.Length > 0) w.WriteString(2, model.ProducerName);
        if (model.ProducerVersion.Length > 0) w.WriteString(3, model.ProducerVersion);
        if (model.Graph is not null) w.WriteMessage(7, Graph(model.Graph));
        foreach (var (domain, version) in model.Opsets)
        {
            var o = new ProtoWriter();
            o.WriteString(1, domain);
            o.WriteInt64(2, version);
            w.WriteMessage(8, o);
        }
        foreach (var (key, value) in model.Metadata)
        {
            var p = new ProtoWriter();
            p.WriteString(1, key);
            p.WriteString(2, value);
            w.WriteMessage(14, p);
        }
        return w.ToArray();
    }

    private static ProtoWriter Graph(OnnxGraph g)
    {
        var w = new ProtoWriter();
        foreach (var n in g.Nodes) w.WriteMessage(1, Node(n));
        w.WriteString(2, g.Name);
        foreach (var t in g.Initializers) w.WriteMessage(5, Tensor(t));
        foreach (var i in g.Inputs) w.WriteMessage(11, ValueInfo(i));
        foreach (var o in g.Outputs) w.WriteMessage(12, ValueInfo(o));
        return w;
    }

    private static ProtoWriter Node(OnnxNode n)
    {
        var w = new ProtoWriter();
        foreach (var i in n.Inputs) w.WriteString(1, i);
        foreach (var o in n.Outputs) w.WriteString(2, o);
        if (n.Name.Length > 0) w.WriteString(3, n.Name);
        w.WriteString(4, n.OpType);
        foreach (var a in n.Attributes) w.WriteMessage(5, Attribute(a));
        if (n.Domain.Length > 0) w.WriteString(7, n.Domain);
        return w;
    }

    private static ProtoWriter Attribute(OnnxAttribute a)
    {
        var w = new ProtoWriter();
        w.WriteString(1, a.Name);
        switch (a.Type)
        {
            case OnnxAttributeType.Float: w.WriteFloat(2, a.F); break;
            case OnnxAttributeType.Int: w.WriteInt64(3, a.I); break;
            case OnnxAttributeType.String: w.WriteString(4, a.S); break;
            case OnnxAttributeType.Tensor: w.WriteMessage(5, Tensor(a.T!)); break;
            case OnnxAttributeType.Ints: foreach (long i in a.Ints) w.WriteInt64(8, i); break;
            case OnnxAttributeType.Floats: foreach (float f in a.Floats) w.WriteFloat(7, f); break;
            default: throw new NotSupportedException($"attribute type {a.Type} is not written by NativeNet");
        }
        w.WriteInt64(20, (long)a.Type);
        return w;
    }

    private static ProtoWriter Tensor(OnnxTensor t)
    {
        var w = new ProtoWriter();
        foreach (long d in t.Dims) w.WriteInt64(1, d);
        w.WriteInt64(2, t.DataType);
        w.WriteString(8, t.Name);
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("ONNX raw tensor data is little-endian.");
        if (t.Raw is { } raw) w.WriteBytes(9, raw);
        else if (t.FloatData is not null) w.WriteBytes(9, MemoryMarshal.AsBytes(CollectionsMarshal.AsSpan(t.FloatData)));
        else if (t.Int64Data is not null) w.WriteBytes(9, MemoryMarshal.AsBytes(CollectionsMarshal.AsSpan(t.Int64Data)));
        return w;
    }

    private static ProtoWriter ValueInfo(OnnxValueInfo v)
    {
        var shape = new ProtoWriter();
        foreach (var d in v.Dims ?? [])
        {
            var dim = new ProtoWriter();
            if (d.Value is long value) dim.WriteInt64(1, value);
            else if (d.Param is string param) dim.WriteString(2, param);
            shape.WriteMessage(1, dim);
        }
        var tensor = new ProtoWriter();
        tensor.WriteInt64(1, v.ElemType);
        if (v.Dims is not null) tensor.WriteMessage(2, shape);
        var type = new ProtoWriter();
        type.WriteMessage(1, tensor);
        var w = new ProtoWriter();
        w.WriteString(1, v.Name);
        w.WriteMessage(2, type);
        return w;
    }
}
