using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace NativeNet.Onnx;

// The subset of ONNX's protobuf messages (onnx.proto) that NativeNet reads and writes. Field numbers are given where
// each message is decoded (OnnxModelReader) and encoded (OnnxModelWriter); fields not listed are skipped on reading.

/// <summary>TensorProto.DataType values NativeNet meets.</summary>
internal static class OnnxDataType
{
    public const int Float = 1;
    public const int Int32 = 6;
    public const int Int64 = 7;

    /// <summary>Bytes per element of the fixed-size types, 0 for strings and unknown codes.</summary>
    public static int Size(int type) => type switch
    {
        1 or 6 or 12 => 4,       // float, int32, uint32
        2 or 3 or 9 => 1,        // uint8, int8, bool
        4 or 5 or 10 or 16 => 2, // uint16, int16, float16, bfloat16
        7 or 11 or 13 or 14 => 8,// int64, double, uint64, complex64
        15 => 16,                // complex128
        _ => 0,
    };

    public static string Name(int type) => type switch
    {
        1 => "FLOAT", 2 => "UINT8", 3 => "INT8", 4 => "UINT16", 5 => "INT16", 6 => "INT32", 7 => "INT64", 8 => "STRING",
        9 => "BOOL", 10 => "FLOAT16", 11 => "DOUBLE", 12 => "UINT32", 13 => "UINT64", 16 => "BFLOAT16",
        _ => $"type {type}",
    };
}

/// <summary>A TensorProto: dims, element type and data (raw little-endian bytes, or the typed repeated fields).</summary>
internal sealed class OnnxTensor
{
    public string Name { get; set; } = "";
    public int DataType { get; set; }
    public long[] Dims { get; set; } = [];
    /// <summary>Element count, checked at decoding to be at most <see cref="OnnxModelReader.MaxTensorElements"/>.</summary>
    public long ElementCount { get; set; } = 1;
    public ArraySegment<byte>? Raw { get; set; }
    public List<float>? FloatData { get; set; }
    public List<long>? Int64Data { get; set; }
    public List<long>? Int32Data { get; set; }
    /// <summary>data_location = EXTERNAL: the values live in another file, which NativeNet does not read.</summary>
    public bool External { get; set; }

    public string Shape => "[" + string.Join(", ", Dims) + "]";

    /// <summary>The values of a FLOAT tensor; null with <paramref name="problem"/> set when it is another type or incomplete.</summary>
    public float[]? Floats(out string? problem)
    {
        problem = Check(OnnxDataType.Float);
        if (problem is not null) return null;
        if (Raw is { } raw) return BitConverter.IsLittleEndian ? MemoryMarshal.Cast<byte, float>(raw.AsSpan()).ToArray() : Swap(raw);
        var data = FloatData ?? [];
        if (data.Count != ElementCount) { problem = $"holds {data.Count} floats but its shape {Shape} needs {ElementCount}"; return null; }
        return data.ToArray();
    }

    /// <summary>The values of an INT64 (or INT32) tensor, e.g. a Reshape's target shape.</summary>
    public long[]? Integers(out string? problem)
    {
        problem = DataType is OnnxDataType.Int64 or OnnxDataType.Int32 ? Check(DataType) : $"has element type {OnnxDataType.Name(DataType)}, expected INT64";
        if (problem is not null) return null;
        var values = new long[ElementCount];
        if (Raw is { } raw)
        {
            for (int i = 0; i < values.Length; i++)
                values[i] = DataType == OnnxDataType.Int64
                    ? BinaryPrimitives.ReadInt64LittleEndian(raw.AsSpan(i * 8, 8))
                    : BinaryPrimitives.ReadInt32LittleEndian(raw.AsSpan(i * 4, 4));
            return values;
        }
        var data = (DataType == OnnxDataType.Int64 ? Int64Data : Int32Data) ?? [];
        if (data.Count != ElementCount) { problem = $"holds {data.Count} integers but its shape {Shape} needs {ElementCount}"; return null; }
        return data.ToArray();
    }

    private string? Check(int type)
    {
        if (External) return "keeps its data in an external file, which NativeNet does not read";
        if (DataType != type) return $"has element type {OnnxDataType.Name(DataType)}, expected {OnnxDataType.Name(type)}";
        if (Raw is { } raw && raw.Count != ElementCount * OnnxDataType.Size(type))
            return $"has {raw.Count} bytes of raw data but its shape {Shape} needs {ElementCount * OnnxDataType.Size(type)}";
        return null;
    }

    private static float[] Swap(ArraySegment<byte> raw)
    {
        var f = new float[raw.Count / 4];
        for (int i = 0; i < f.Length; i++) f[i] = BinaryPrimitives.ReadSingleLittleEndian(raw.AsSpan(i * 4, 4));
        return f;
    }
}

/// <summary>The attribute kinds of AttributeProto.AttributeType that NativeNet's ops use.</summary>
internal enum OnnxAttributeType
{
    Undefined = 0, Float = 1, Int = 2, String = 3, Tensor = 4, Graph = 5, Floats = 6, Ints = 7, Strings = 8,
    Tensors = 9, Graphs = 10, SparseTensor = 11, SparseTensors = 12, TypeProto = 13, TypeProtos = 14,
}

/// <summary>An AttributeProto: a name and one value of the kind <see cref="Type"/> says.</summary>
internal sealed class OnnxAttribute
{
    public string Name { get; set; } = "";
    public OnnxAttributeType Type { get; set; }
    public float F { get; set; }
    public long I { get; set; }
    public string S { get; set; } = "";
    public OnnxTensor? T { get; set; }
    public List<float> Floats { get; } = [];
    public List<long> Ints { get; } = [];
}

/// <summary>A NodeProto: one op applied to named values.</summary>
internal sealed class OnnxNode
{
    public string Name { get; set; } = "";
    public string OpType { get; set; } = "";
    public string Domain { get; set; } = "";
    public List<string> Inputs { get; } = [];
    public List<string> Outputs { get; } = [];
    public List<OnnxAttribute> Attributes { get; } = [];
    /// <summary>Position in the graph's node list, to name an unnamed node.</summary>
    public int Index { get; set; }

    /// <summary>The node's name, or "#index" when the file gave it none.</summary>
    public string Display => Name.Length > 0 ? Name : $"#{Index}";

    public OnnxAttribute? Attribute(string name) => Attributes.Find(a => a.Name == name);
}

/// <summary>One dimension of a declared shape: a number, a symbolic name (a free batch size), or unknown.</summary>
internal readonly record struct OnnxDim(long? Value, string? Param)
{
    public override string ToString() => Value?.ToString() ?? Param ?? "?";
}

/// <summary>A ValueInfoProto: a graph input's or output's name, element type and (when declared) shape.</summary>
internal sealed class OnnxValueInfo
{
    public string Name { get; set; } = "";
    /// <summary>The tensor element type, or 0 when the type is missing or is not a tensor.</summary>
    public int ElemType { get; set; }
    public bool IsTensor { get; set; }
    /// <summary>Null when no shape is declared.</summary>
    public List<OnnxDim>? Dims { get; set; }
}

/// <summary>A GraphProto: nodes, initializers (constant tensors), inputs and outputs.</summary>
internal sealed class OnnxGraph
{
    public string Name { get; set; } = "";
    public List<OnnxNode> Nodes { get; } = [];
    public List<OnnxTensor> Initializers { get; } = [];
    public int SparseInitializers { get; set; }
    public List<OnnxValueInfo> Inputs { get; } = [];
    public List<OnnxValueInfo> Outputs { get; } = [];
}

/// <summary>A ModelProto: the IR version, the opsets it imports, the graph and free-form metadata.</summary>
internal sealed class OnnxModel
{
    public long IrVersion { get; set; }
    /// <summary>Opset version per domain ("" is the default ONNX domain).</summary>
    public Dictionary<string, long> Opsets { get; } = [];
    public string ProducerName { get; set; } = "";
    public string ProducerVersion { get; set; } = "";
    public OnnxGraph? Graph { get; set; }
    public Dictionary<string, string> Metadata { get; } = [];
    /// <summary>Whether the file has training-info or model-local functions (NativeNet uses neither).</summary>
    public bool HasFunctions { get; set; }
}
