namespace NativeNet.Onnx;

/// <summary>
/// Decodes the ONNX messages of <see cref="OnnxModel"/> from protobuf bytes. Sizes are checked before anything is
/// allocated: the file against <see cref="MaxFileBytes"/>, every length against the bytes left in its message, every
/// tensor's element count against <see cref="MaxTensorElements"/> and its raw data against that count. Nothing is
/// nested more than a fixed depth (subgraphs and non-tensor types are skipped, not decoded), so memory stays within a
/// small multiple of the file's size and no input can recurse deeply.
/// </summary>
internal static class OnnxModelReader
{
    /// <summary>Files larger than this are refused before being read (NativeNet's largest networks are a few MiB).</summary>
    public const int MaxFileBytes = 1 << 30;

    /// <summary>Tensors with more elements than this are refused.</summary>
    public const long MaxTensorElements = 1L << 28;

    /// <summary>Tensors with more dimensions than this are refused.</summary>
    public const int MaxRank = 8;

    public static OnnxModel Read(Stream stream, string file)
    {
        byte[] bytes;
        if (stream.CanSeek)
        {
            long length = stream.Length - stream.Position;
            if (length > MaxFileBytes) throw new OnnxFormatException(file, 0, $"the file is {length} bytes; at most {MaxFileBytes} are read");
            bytes = new byte[length];
            stream.ReadExactly(bytes);
        }
        else
        {
            using var copy = new MemoryStream();
            var chunk = new byte[81920];
            for (int n; (n = stream.Read(chunk)) > 0;)
            {
                if (copy.Length + n > MaxFileBytes) throw new OnnxFormatException(file, copy.Length, $"the stream is longer than {MaxFileBytes} bytes");
                copy.Write(chunk, 0, n);
            }
            bytes = copy.ToArray();
        }
        return Read(bytes, file);
    }

    public static OnnxModel Read(byte[] bytes, string file)
    {
        if (bytes.Length == 0) throw new OnnxFormatException(file, 0, "the file is empty; expected an ONNX ModelProto");
        var r = new ProtoReader(bytes, 0, bytes.Length, file);
        var model = new OnnxModel();
        while (!r.AtEnd)
        {
            var (field, type) = r.ReadTag();
            switch (field)
            {
                case 1: r.Expect(type, WireType.Varint, "ModelProto.ir_version"); model.IrVersion = r.ReadInt64(); break;
                case 2: r.Expect(type, WireType.LengthDelimited, "ModelProto.producer_name"); model.ProducerName = r.ReadString(); break;
                case 3: r.Expect(type, WireType.LengthDelimited, "ModelProto.producer_version"); model.ProducerVersion = r.ReadString(); break;
                case 7:
                    r.Expect(type, WireType.LengthDelimited, "ModelProto.graph");
                    if (model.Graph is not null) throw r.Error("the model has two graphs");
                    var g = r.ReadMessage();
                    model.Graph = ReadGraph(ref g);
                    break;
                case 8:
                    r.Expect(type, WireType.LengthDelimited, "ModelProto.opset_import");
                    var o = r.ReadMessage();
                    var (domain, version) = ReadOpset(ref o);
                    model.Opsets[domain] = version;
                    break;
                case 14:
                    r.Expect(type, WireType.LengthDelimited, "ModelProto.metadata_props");
                    var m = r.ReadMessage();
                    var (key, value) = ReadStringPair(ref m);
                    model.Metadata[key] = value;
                    break;
                case 20 or 25: model.HasFunctions = true; r.Skip(type); break;
                default: r.Skip(type); break;
            }
        }
        return model;
    }

    private static (string, long) ReadOpset(ref ProtoReader r)
    {
        string domain = "";
        long version = 0;
        while (!r.AtEnd)
        {
            var (field, type) = r.ReadTag();
            if (field == 1 && type == WireType.LengthDelimited) domain = r.ReadString();
            else if (field == 2 && type == WireType.Varint) version = r.ReadInt64();
            else r.Skip(type);
        }
        return (domain, version);
    }

    private static (string, string) ReadStringPair(ref ProtoReader r)
    {
        string key = "", value = "";
        while (!r.AtEnd)
        {
            var (field, type) = r.ReadTag();
            if (field == 1 && type == WireType.LengthDelimited) key = r.ReadString();
            else if (field == 2 && type == WireType.LengthDelimited) value = r.ReadString();
            else r.Skip(type);
        }
        return (key, value);
    }

    private static OnnxGraph ReadGraph(ref ProtoReader r)
    {
        var graph = new OnnxGraph();
        while (!r.AtEnd)
        {
            var (field, type) = r.ReadTag();
            if (field is 1 or 5 or 11 or 12) r.Expect(type, WireType.LengthDelimited, $"GraphProto field {field}");
            switch (field)
            {
                case 1:
                    var n = r.ReadMessage();
                    var node = ReadNode(ref n);
                    node.Index = graph.Nodes.Count;
                    graph.Nodes.Add(node);
                    break;
                case 2 when type == WireType.LengthDelimited: graph.Name = r.ReadString(); break;
                case 5: var t = r.ReadMessage(); graph.Initializers.Add(ReadTensor(ref t)); break;
                case 11: var i = r.ReadMessage(); graph.Inputs.Add(ReadValueInfo(ref i)); break;
                case 12: var o = r.ReadMessage(); graph.Outputs.Add(ReadValueInfo(ref o)); break;
                case 15: graph.SparseInitializers++; r.Skip(type); break;
                default: r.Skip(type); break;
            }
        }
        return graph;
    }

    private static OnnxNode ReadNode(ref ProtoReader r)
    {
        var node = new OnnxNode();
        while (!r.AtEnd)
        {
            var (field, type) = r.ReadTag();
            if (field is 1 or 2 or 3 or 4 or 5 or 7) r.Expect(type, WireType.LengthDelimited, $"NodeProto field {field}");
            switch (field)
            {
                case 1: node.Inputs.Add(r.ReadString()); break;
                case 2: node.Outputs.Add(r.ReadString()); break;
                case 3: node.Name = r.ReadString(); break;
                case 4: node.OpType = r.ReadString(); break;
                case 5: var a = r.ReadMessage(); node.Attributes.Add(ReadAttribute(ref a)); break;
                case 7: node.Domain = r.ReadString(); break;
                default: r.Skip(type); break;
            }
        }
        return node;
    }

    private static OnnxAttribute ReadAttribute(ref ProtoReader r)
    {
        var a = new OnnxAttribute();
        while (!r.AtEnd)
        {
            var (field, type) = r.ReadTag();
            switch (field)
            {
                case 1: r.Expect(type, WireType.LengthDelimited, "AttributeProto.name"); a.Name = r.ReadString(); break;
                case 20: r.Expect(type, WireType.Varint, "AttributeProto.type"); a.Type = (OnnxAttributeType)r.ReadInt32(); break;
                case 2: r.Expect(type, WireType.Fixed32, "AttributeProto.f"); a.F = r.ReadFloat(); break;
                case 3: r.Expect(type, WireType.Varint, "AttributeProto.i"); a.I = r.ReadInt64(); break;
                case 4: r.Expect(type, WireType.LengthDelimited, "AttributeProto.s"); a.S = r.ReadString(); break;
                case 5:
                    r.Expect(type, WireType.LengthDelimited, "AttributeProto.t");
                    var t = r.ReadMessage();
                    a.T = ReadTensor(ref t);
                    break;
                case 7: r.ReadFloats(type, a.Floats); break;
                case 8: r.ReadInt64s(type, a.Ints); break;
                default: r.Skip(type); break;   // subgraphs, strings, tensors lists, sparse tensors, types: never used by the ops NativeNet imports
            }
        }
        return a;
    }

    private static OnnxTensor ReadTensor(ref ProtoReader r)
    {
        var t = new OnnxTensor();
        var dims = new List<long>();
        int start = r.Position;
        while (!r.AtEnd)
        {
            var (field, type) = r.ReadTag();
            switch (field)
            {
                case 1: r.ReadInt64s(type, dims); break;
                case 2: r.Expect(type, WireType.Varint, "TensorProto.data_type"); t.DataType = r.ReadInt32(); break;
                case 4: r.ReadFloats(type, t.FloatData ??= []); break;
                case 5: r.ReadInt64s(type, t.Int32Data ??= []); break;
                case 7: r.ReadInt64s(type, t.Int64Data ??= []); break;
                case 8: r.Expect(type, WireType.LengthDelimited, "TensorProto.name"); t.Name = r.ReadString(); break;
                case 9: r.Expect(type, WireType.LengthDelimited, "TensorProto.raw_data"); t.Raw = r.ReadBytes(); break;
                case 14: r.Expect(type, WireType.Varint, "TensorProto.data_location"); t.External = r.ReadInt64() == 1; break;
                default: r.Skip(type); break;
            }
        }
        if (dims.Count > MaxRank) throw r.Error($"tensor '{t.Name}' has {dims.Count} dimensions; at most {MaxRank} are supported", start);
        long count = 1;
        foreach (long d in dims)
        {
            if (d < 0) throw r.Error($"tensor '{t.Name}' has a negative dimension {d}", start);
            count = d == 0 ? 0 : count > MaxTensorElements / d ? MaxTensorElements + 1 : count * d;
        }
        if (count > MaxTensorElements) throw r.Error($"tensor '{t.Name}' has more than {MaxTensorElements} elements", start);
        t.Dims = dims.ToArray();
        t.ElementCount = count;
        int size = OnnxDataType.Size(t.DataType);
        if (t.Raw is { } raw && size > 0 && raw.Count != count * size)
            throw r.Error($"tensor '{t.Name}' of shape {t.Shape} and type {OnnxDataType.Name(t.DataType)} needs {count * size} bytes of raw data, not {raw.Count}", start);
        return t;
    }

    private static OnnxValueInfo ReadValueInfo(ref ProtoReader r)
    {
        var v = new OnnxValueInfo();
        while (!r.AtEnd)
        {
            var (field, type) = r.ReadTag();
            if (field == 1 && type == WireType.LengthDelimited) v.Name = r.ReadString();
            else if (field == 2 && type == WireType.LengthDelimited)
            {
                var t = r.ReadMessage();   // TypeProto: only tensor_type (1) is decoded
                while (!t.AtEnd)
                {
                    var (tf, tt) = t.ReadTag();
                    if (tf == 1 && tt == WireType.LengthDelimited) { v.IsTensor = true; var tensor = t.ReadMessage(); ReadTensorType(ref tensor, v); }
                    else t.Skip(tt);
                }
            }
            else r.Skip(type);
        }
        return v;
    }

    private static void ReadTensorType(ref ProtoReader r, OnnxValueInfo v)
    {
        while (!r.AtEnd)
        {
            var (field, type) = r.ReadTag();
            if (field == 1 && type == WireType.Varint) v.ElemType = r.ReadInt32();
            else if (field == 2 && type == WireType.LengthDelimited)
            {
                var shape = r.ReadMessage();
                v.Dims = [];
                while (!shape.AtEnd)
                {
                    var (sf, st) = shape.ReadTag();
                    if (sf != 1 || st != WireType.LengthDelimited) { shape.Skip(st); continue; }
                    if (v.Dims.Count >= MaxRank) throw shape.Error($"value '{v.Name}' declares more than {MaxRank} dimensions");
                    var dim = shape.ReadMessage();
                    long? value = null;
                    string? param = null;
                    while (!dim.AtEnd)
                    {
                        var (df, dt) = dim.ReadTag();
                        if (df == 1 && dt == WireType.Varint) value = dim.ReadInt64();
                        else if (df == 2 && dt == WireType.LengthDelimited) param = dim.ReadString();
                        else dim.Skip(dt);
                    }
                    v.Dims.Add(new OnnxDim(value, param));
                }
            }
            else r.Skip(type);
        }
    }
}
