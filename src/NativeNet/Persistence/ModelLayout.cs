using System.Buffers;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using NativeNet.Layers;

namespace NativeNet.Persistence;

/// <summary>One tensor a model file holds: its name, the shape the file declares and its element count.</summary>
internal sealed record TensorInfo(string Name, int[] Shape, long Count)
{
    public string ShapeText => "[" + string.Join(", ", Shape) + "]";
}

/// <summary>
/// What a model file of an architecture must hold, worked out from the <see cref="NetworkSpec"/> alone, without
/// allocating any tensor: every parameter tensor's name and declared shape (in <see cref="Network.Parameters"/>
/// order), and, from format version 2, the <c>layers</c> metadata that describes each layer to other programs.
/// A reader compares a file's header against this before it reads or allocates anything the header asks for.
/// </summary>
internal sealed class ModelLayout
{
    /// <summary>The prefix of a checkpoint's momentum tensors: <c>velocity.layers.{i}.weight</c> has the shape of <c>layers.{i}.weight</c>.</summary>
    public const string VelocityPrefix = "velocity.";

    private ModelLayout(List<TensorInfo> parameters, string layersJson)
    {
        Parameters = parameters;
        LayersJson = layersJson;
        foreach (var p in parameters)
        {
            _byName[p.Name] = p;
            _byName[VelocityPrefix + p.Name] = p with { Name = VelocityPrefix + p.Name };
        }
    }

    private readonly Dictionary<string, TensorInfo> _byName = new(StringComparer.Ordinal);

    /// <summary>The parameter tensors in <see cref="Network.Parameters"/> order (weights before biases, layer by layer).</summary>
    public IReadOnlyList<TensorInfo> Parameters { get; }

    /// <summary>The <c>layers</c> metadata of a version-2 file: one JSON object per layer (see <see cref="ModelFile"/>).</summary>
    public string LayersJson { get; }

    /// <summary>A tensor this architecture's model or checkpoint may hold (a parameter or its velocity), or null.</summary>
    public TensorInfo? Find(string name) => _byName.GetValueOrDefault(name);

    /// <summary>The layout of <paramref name="spec"/> in format <paramref name="version"/>: version 1 declares a convolution's
    /// weights [filters, channels * k * k], version 2 [filters, channels, k, k]; the data are the same floats either way.</summary>
    public static ModelLayout Of(NetworkSpec spec, int version)
    {
        var builder = spec.ToBuilder();
        var parameters = new List<TensorInfo>();
        var buffer = new ArrayBufferWriter<byte>();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartArray();
            foreach (var layer in builder.Layers)
            {
                json.WriteStartObject();
                json.WriteNumber("index", layer.Index);
                switch (layer)
                {
                    case DenseLayer d:
                        json.WriteString("kind", d.Cost is null ? "dense" : "output");
                        WriteShapes(json, layer);
                        json.WriteNumber("units", d.Units);
                        json.WriteString("activation", d.Cost switch
                        {
                            null => NetworkSpec.ActivationName(d.Activation),
                            OutputCost.SoftmaxLogLikelihood => "softmax",
                            OutputCost.LinearQuadratic => "linear",
                            _ => "sigmoid",
                        });
                        if (d.Cost is { } cost) json.WriteString("cost", NetworkSpec.CostName(cost));
                        json.WriteNumber("dropout", d.Dropout);
                        AddParameters(json, parameters, layer, [d.Units, d.Input.Size], d.Units);
                        break;
                    case ConvLayer c:
                        json.WriteString("kind", "conv");
                        WriteShapes(json, layer);
                        json.WriteNumber("filters", c.Filters);
                        json.WriteNumber("kernel", c.Kernel);
                        json.WriteNumber("stride", c.Stride);
                        json.WriteNumber("padding", c.Padding);
                        json.WriteString("activation", NetworkSpec.ActivationName(c.Activation));
                        int[] weight = version >= 2 ? [c.Filters, c.Input.Channels, c.Kernel, c.Kernel] : [c.Filters, c.Input.Channels * c.Kernel * c.Kernel];
                        AddParameters(json, parameters, layer, weight, c.Filters);
                        break;
                    case PoolLayer p:
                        json.WriteString("kind", NetworkSpec.PoolName(p.Kind));
                        WriteShapes(json, layer);
                        json.WriteNumber("window", p.Window);
                        json.WriteNumber("stride", p.Stride);
                        break;
                    default:
                        throw new InvalidOperationException($"No file layout for layer {layer.Describe()}.");
                }
                json.WriteEndObject();
            }
            json.WriteEndArray();
        }
        return new ModelLayout(parameters, Encoding.UTF8.GetString(buffer.WrittenSpan));
    }

    private static void WriteShapes(Utf8JsonWriter json, Layer layer)
    {
        WriteShape(json, "input", layer.Input);
        WriteShape(json, "output", layer.Output);
    }

    /// <summary>[units] for a flat shape, [channels, height, width] for maps (the order a dense layer flattens them in).</summary>
    private static void WriteShape(Utf8JsonWriter json, string name, FeatureShape shape)
    {
        json.WriteStartArray(name);
        json.WriteNumberValue(shape.Channels);
        if (shape.Height != 1 || shape.Width != 1)
        {
            json.WriteNumberValue(shape.Height);
            json.WriteNumberValue(shape.Width);
        }
        json.WriteEndArray();
    }

    private static void AddParameters(Utf8JsonWriter json, List<TensorInfo> parameters, Layer layer, int[] weightShape, int biasLength)
    {
        string weight = $"layers.{layer.Index}.weight", bias = $"layers.{layer.Index}.bias";
        json.WriteString("weight", weight);
        json.WriteString("bias", bias);
        parameters.Add(new TensorInfo(weight, weightShape, weightShape.Aggregate(1L, (n, d) => n * d)));
        parameters.Add(new TensorInfo(bias, [biasLength], biasLength));
    }

    /// <summary>The <c>layout</c> metadata: how another program turns the tensors and <c>layers</c> into the forward pass.</summary>
    public const string Description =
        "Tensors are F32, little-endian, row-major. layers.{i}.weight and layers.{i}.bias belong to entry i of the 'layers' metadata " +
        "(the i-th layer after the input). An example is [channels, height, width] (or [units]); a dense or output layer reads its input " +
        "flattened in that order. dense/output: y = act((1 - dropout) * (weight @ x) + bias) at inference, weight [units, inputs], " +
        "bias [units]; dropout=0 means none. conv: cross-correlation (no kernel flip) of the zero-padded input ('padding' on each side) " +
        "every 'stride' pixels, weight [filters, channels, kernel, kernel], then + bias [filters] per map and act. " +
        "maxpool/avgpool/l2pool: 'window' x 'window' windows every 'stride' pixels, no padding, windows past the edge dropped; " +
        "l2pool is sqrt(sum of squares). act: sigmoid, tanh, relu, linear (identity), softmax (over the output units). " +
        "sha256: SHA-256 of the whole file with these 64 hex digits read as 64 '0' characters.";
}
