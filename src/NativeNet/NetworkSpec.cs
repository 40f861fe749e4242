using System.Globalization;
using System.Text;
using NativeNet.Core.Backends;
using NativeNet.Core.Kernels;
using NativeNet.Layers;

namespace NativeNet;

/// <summary>
/// A network architecture as text, used by presets, the command line and model files:
/// <c>input 1x28x28 | conv 20 5 relu | maxpool 2 | dense 100 relu dropout=0.5 | output 10 softmax</c>.
/// Layers: <c>input N</c> or <c>input CxHxW</c>; <c>dense UNITS ACT [dropout=P]</c>; <c>conv FILTERS K ACT [stride=S] [pad=P]</c>;
/// <c>maxpool W</c> / <c>avgpool W</c> / <c>l2pool W</c> [stride=S]; <c>output UNITS sigmoid-quadratic|sigmoid-ce|softmax|linear [dropout=P]</c>.
/// ACT is sigmoid, tanh, relu or linear. A conv directly followed by a pool uses that pool's window for chapter-6 initialization.
/// Every token must be understood: an unknown word, a misspelt or repeated option, or a value out of range is a
/// <see cref="FormatException"/> naming it. Parsing checks every layer's shape without allocating any tensor.
/// </summary>
public sealed class NetworkSpec
{
    /// <summary>The most layers (input and output included) a spec may have; real networks have a handful.</summary>
    internal const int MaxLayers = 1000;

    /// <summary>The largest integer a spec may give (units, filters, kernel, window, stride, padding, an input dimension).</summary>
    internal const int MaxArgument = 1 << 24;

    private NetworkSpec(string text, IReadOnlyList<string[]> layers) { Text = text; Layers = layers; }

    /// <summary>The architecture in its normal form: tokens separated by one space, layers by " | ".</summary>
    public string Text { get; }
    private IReadOnlyList<string[]> Layers { get; }

    /// <inheritdoc/>
    public override string ToString() => Text;

    /// <summary>Parses and checks an architecture; throws <see cref="FormatException"/> naming the first thing it does not understand.</summary>
    /// <param name="text">Layers separated by "|", e.g. "input 784 | dense 30 sigmoid | output 10 sigmoid-quadratic".</param>
    /// <exception cref="FormatException">A word, option or value is not understood, or a layer cannot take its input's shape.</exception>
    public static NetworkSpec Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var parts = text.Split('|', StringSplitOptions.TrimEntries);
        if (parts.Length > MaxLayers)
            throw new FormatException($"Network spec has {parts.Length} layers; at most {MaxLayers} are supported.");
        var layers = new List<string[]>(parts.Length);
        for (int i = 0; i < parts.Length; i++)
        {
            var tokens = parts[i].Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            if (tokens.Length == 0)
                throw new FormatException($"Network spec '{text}': layer {i + 1} is empty (layers are separated by single '|').");
            layers.Add(tokens);
        }
        if (layers[0][0] != "input")
            throw new FormatException($"Network spec '{text}' must start with 'input N' or 'input CxHxW'.");
        if (layers.Count < 2 || layers[^1][0] != "output")
            throw new FormatException($"Network spec '{text}' must end with an output layer ('output UNITS COST').");
        var spec = new NetworkSpec(string.Join(" | ", layers.Select(l => string.Join(' ', l))), layers);
        spec.ToBuilder(); // checks every token and every layer's shape; allocates no tensor
        return spec;
    }

    /// <summary>A builder holding this architecture's layers (attached, with their shapes known, nothing allocated yet).</summary>
    public NetworkBuilder ToBuilder()
    {
        var l = new LayerTokens(Layers[0]);
        var b = Input(l);
        for (int i = 1; i < Layers.Count; i++)
        {
            l = new LayerTokens(Layers[i]);
            try
            {
                b = Add(b, l, last: i == Layers.Count - 1, nextPool: PoolWindow(i + 1));
            }
            catch (Exception e) when (e is ArgumentException or InvalidOperationException)
            {
                throw l.Error(e.Message.TrimEnd('.'));
            }
        }
        return b;
    }

    private static NetworkBuilder Add(NetworkBuilder b, LayerTokens l, bool last, int nextPool)
    {
        switch (l.Kind)
        {
            case "dense":
                l.Expect("dense UNITS ACT [dropout=P]", 2, "dropout");
                return b.Dense(l.Int(1), l.Activation(2), l.Probability("dropout"));
            case "conv":
                l.Expect("conv FILTERS K ACT [stride=S] [pad=P]", 3, "stride", "pad");
                return b.Conv(l.Int(1), l.Int(2), l.Activation(3), l.OptionalInt("stride", 1) ?? 1, l.OptionalInt("pad", 0) ?? 0, nextPool);
            case "maxpool" or "avgpool" or "l2pool":
                l.Expect($"{l.Kind} W [stride=S]", 1, "stride");
                var kind = l.Kind switch { "maxpool" => PoolKind.Max, "avgpool" => PoolKind.Average, _ => PoolKind.L2 };
                return b.Pool(kind, l.Int(1), l.OptionalInt("stride", 1));
            case "output":
                if (!last) throw l.Error("'output' must be the last layer");
                l.Expect("output UNITS COST [dropout=P]", 2, "dropout");
                return b.Output(l.Int(1), l.Cost(2), l.Probability("dropout"));
            case "input":
                throw l.Error("'input' may only be the first layer");
            default:
                throw l.Error($"unknown layer kind '{l.Kind}' (input, dense, conv, maxpool, avgpool, l2pool, output)");
        }
    }

    /// <summary>The window of the pool at layer <paramref name="i"/>, or 1 when that layer is not a pool (chapter-6 initialization of the conv before it).</summary>
    private int PoolWindow(int i) =>
        i < Layers.Count && Layers[i][0] is ("maxpool" or "avgpool" or "l2pool") && Layers[i].Length > 1
        && int.TryParse(Layers[i][1], NumberStyles.None, CultureInfo.InvariantCulture, out int w) && w is > 0 and <= MaxArgument ? w : 1;

    private static NetworkBuilder Input(LayerTokens l)
    {
        l.Expect("input N | input CxHxW", 1);
        var dims = l.Word(1, "size").Split('x');
        if (dims.Length == 1) return NetworkBuilder.ForInput(l.Int(1));
        if (dims.Length != 3) throw l.Error($"'{l.Word(1, "size")}' must be N or CxHxW");
        int c = l.Dimension(dims[0]), h = l.Dimension(dims[1]), w = l.Dimension(dims[2]);
        if ((long)c * h * w > int.MaxValue) throw l.Error($"{c}x{h}x{w} has more than {int.MaxValue} values");
        return NetworkBuilder.ForImages(c, h, w);
    }

    /// <summary>One layer's tokens: the kind, positional arguments, then name=value options, each checked once.</summary>
    private readonly struct LayerTokens(string[] tokens)
    {
        public string Kind => tokens[0];

        public FormatException Error(string problem) => new($"Layer '{string.Join(' ', tokens)}': {problem}.");

        /// <summary>Checks the token count and that every token after the positional ones is a known, unrepeated option.</summary>
        public LayerTokens Expect(string usage, int positional, params string[] options)
        {
            for (int k = 1; k <= positional; k++)
                if (k >= tokens.Length || tokens[k].Contains('='))
                    throw Error($"missing argument {k} (expected '{usage}')");
            var seen = new HashSet<string>();
            for (int k = positional + 1; k < tokens.Length; k++)
            {
                int eq = tokens[k].IndexOf('=');
                if (eq < 0)
                    throw Error($"unexpected '{tokens[k]}' (expected '{usage}'; options are written name=value with no spaces)");
                string name = tokens[k][..eq];
                if (Array.IndexOf(options, name) < 0)
                    throw Error($"unknown option '{name}' (expected '{usage}')");
                if (!seen.Add(name)) throw Error($"option '{name}' is given twice");
            }
            return this;
        }

        public string Word(int k, string what) => k < tokens.Length ? tokens[k] : throw Error($"missing the {what}");

        public Activation Activation(int k)
        {
            try { return ParseActivation(Word(k, "activation")); }
            catch (FormatException e) { throw Error(e.Message.TrimEnd('.')); }
        }

        public OutputCost Cost(int k)
        {
            try { return ParseCost(Word(k, "cost")); }
            catch (FormatException e) { throw Error(e.Message.TrimEnd('.')); }
        }

        /// <summary>A positive whole number of at most <see cref="MaxArgument"/>, digits only.</summary>
        public int Int(int k) => Positive(Word(k, $"argument {k}"), $"argument {k}");

        public int Dimension(string s) => Positive(s, "dimension");

        private int Positive(string s, string what) =>
            int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out int v) && v is > 0 and <= MaxArgument
                ? v : throw Error($"{what} '{s}' is not a whole number from 1 to {MaxArgument}");

        private string? Option(string name)
        {
            foreach (var t in tokens)
                if (t.Length > name.Length && t[name.Length] == '=' && t.StartsWith(name, StringComparison.Ordinal)) return t[(name.Length + 1)..];
            return null;
        }

        /// <summary>An optional integer option of at least <paramref name="min"/>; null when absent.</summary>
        public int? OptionalInt(string name, int min)
        {
            if (Option(name) is not string s) return null;
            return int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out int v) && v >= min && v <= MaxArgument
                ? v : throw Error($"{name}={s} is not a whole number from {min} to {MaxArgument}");
        }

        /// <summary>An optional probability option in [0, 1); 0 when absent.</summary>
        public float Probability(string name)
        {
            if (Option(name) is not string s) return 0f;
            return float.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out float v) && v >= 0f && v < 1f
                ? v : throw Error($"{name}={s} is not a probability in [0, 1)");
        }
    }

    /// <summary>Builds the network on a backend with the given initialization; its <see cref="Network.Architecture"/> is this spec.</summary>
    /// <param name="seed">Seeds the weight initialization.</param>
    /// <param name="init">How weights and biases are drawn.</param>
    /// <param name="backend">The backend the network lives on; null for a shared CPU backend.</param>
    /// <param name="withMomentum">Reserve velocity buffers for momentum / Nesterov training.</param>
    public Network Build(int seed, WeightInit init, IComputeBackend? backend = null, bool withMomentum = false)
    {
        var net = ToBuilder().Build(seed, init, backend, withMomentum);
        net.Architecture = this;
        return net;
    }

    /// <summary>Builds the network with every parameter zero, for a caller that fills them (a model being loaded).</summary>
    internal Network BuildUninitialized(IComputeBackend? backend)
    {
        var net = ToBuilder().BuildUninitialized(backend);
        net.Architecture = this;
        return net;
    }

    /// <summary>The spec of layers built by a <see cref="NetworkBuilder"/> (the text <see cref="Parse"/> reads back to the same layers).</summary>
    internal static NetworkSpec Describe(FeatureShape input, IReadOnlyList<Layer> layers) => Parse(CanonicalText(input, layers));

    /// <summary>
    /// The canonical spec text of an input shape and layers, e.g. "input 784 | dense 30 sigmoid | output 10 sigmoid-ce":
    /// what model files, ONNX metadata and <c>nativenet export</c> record, whatever words the network was first written in.
    /// </summary>
    internal static string CanonicalText(FeatureShape input, IEnumerable<Layer> layers)
    {
        var parts = new List<string> { input.Height == 1 && input.Width == 1 ? $"input {input.Channels}" : $"input {input.Channels}x{input.Height}x{input.Width}" };
        foreach (var layer in layers)
            parts.Add(layer switch
            {
                DenseLayer { Cost: OutputCost cost } d => OutputText(d.Units, CostName(cost), d.Dropout),
                DenseLayer d => DenseText(d.Units, d.Activation, d.Dropout),
                ConvLayer c => ConvText(c.Filters, c.Kernel, c.Activation, c.Stride, c.Padding),
                PoolLayer p => PoolText(p.Kind, p.Window, p.Stride),
                _ => throw new InvalidOperationException($"Layer {layer.Describe()} has no spec form."),
            });
        return string.Join(" | ", parts);
    }

    /// <summary>A convolution's spec text: "conv F K act", with " stride=S" and " pad=P" when not 1 and 0.</summary>
    internal static string ConvText(int filters, int kernel, Activation activation, int stride, int padding) =>
        string.Create(CultureInfo.InvariantCulture, $"conv {filters} {kernel} {ActivationName(activation)}")
        + (stride != 1 ? string.Create(CultureInfo.InvariantCulture, $" stride={stride}") : "")
        + (padding != 0 ? string.Create(CultureInfo.InvariantCulture, $" pad={padding}") : "");

    /// <summary>A pooling layer's spec text: "maxpool W", with " stride=S" when the windows do not tile.</summary>
    internal static string PoolText(PoolKind kind, int window, int stride) =>
        string.Create(CultureInfo.InvariantCulture, $"{PoolName(kind)} {window}") + (stride != window ? string.Create(CultureInfo.InvariantCulture, $" stride={stride}") : "");

    /// <summary>A hidden fully connected layer's spec text: "dense U act", with " dropout=P" when it drops.</summary>
    internal static string DenseText(int units, Activation activation, float dropout) =>
        string.Create(CultureInfo.InvariantCulture, $"dense {units} {ActivationName(activation)}") + DropoutText(dropout);

    /// <summary>The output layer's spec text: "output U cost", with " dropout=P" when it drops.</summary>
    internal static string OutputText(int units, string costWord, float dropout) =>
        string.Create(CultureInfo.InvariantCulture, $"output {units} {costWord}") + DropoutText(dropout);

    /// <summary>" dropout=P" with P written so that parsing gives back the same float, or "" for none.</summary>
    private static string DropoutText(float p) => p > 0 ? " dropout=" + p.ToString("R", CultureInfo.InvariantCulture) : "";

    /// <summary>The spec word of an activation (sigmoid, tanh, relu, linear).</summary>
    internal static string ActivationName(Activation a) => a switch
    {
        Activation.Sigmoid => "sigmoid",
        Activation.Tanh => "tanh",
        Activation.ReLU => "relu",
        Activation.Identity => "linear",
        _ => throw new ArgumentOutOfRangeException(nameof(a), a, "No spec word for this activation."),
    };

    /// <summary>The spec word of an output cost.</summary>
    internal static string CostName(OutputCost c) => c switch
    {
        OutputCost.SigmoidQuadratic => "sigmoid-quadratic",
        OutputCost.SigmoidCrossEntropy => "sigmoid-ce",
        OutputCost.SoftmaxLogLikelihood => "softmax",
        OutputCost.LinearQuadratic => "linear",
        _ => throw new ArgumentOutOfRangeException(nameof(c), c, "No spec word for this cost."),
    };

    /// <summary>The spec word of a pooling kind.</summary>
    internal static string PoolName(PoolKind k) => k switch
    {
        PoolKind.Max => "maxpool",
        PoolKind.Average => "avgpool",
        PoolKind.L2 => "l2pool",
        _ => throw new ArgumentOutOfRangeException(nameof(k), k, "No spec word for this pooling."),
    };

    /// <summary>Reads an activation word: sigmoid, tanh, relu, linear (or identity).</summary>
    /// <param name="s">The word, lower case.</param>
    /// <exception cref="FormatException"><paramref name="s"/> is not one of the words.</exception>
    public static Activation ParseActivation(string s) => s switch
    {
        "sigmoid" => Activation.Sigmoid,
        "tanh" => Activation.Tanh,
        "relu" => Activation.ReLU,
        "linear" or "identity" => Activation.Identity,
        _ => throw new FormatException($"Unknown activation '{s}' (sigmoid, tanh, relu, linear)."),
    };

    /// <summary>Reads an output word: sigmoid-quadratic, sigmoid-ce (or cross-entropy), softmax, linear.</summary>
    /// <param name="s">The word, lower case.</param>
    /// <exception cref="FormatException"><paramref name="s"/> is not one of the words.</exception>
    public static OutputCost ParseCost(string s) => s switch
    {
        "sigmoid-quadratic" => OutputCost.SigmoidQuadratic,
        "sigmoid-ce" or "cross-entropy" => OutputCost.SigmoidCrossEntropy,
        "softmax" => OutputCost.SoftmaxLogLikelihood,
        "linear" => OutputCost.LinearQuadratic,
        _ => throw new FormatException($"Unknown output '{s}' (sigmoid-quadratic, sigmoid-ce, softmax, linear)."),
    };

    /// <summary>
    /// The same architecture with dropout probability <paramref name="p"/> on the input of every fully connected layer
    /// that follows a hidden layer (the book's chapter-6 placement: never on the raw pixels). 0 removes it.
    /// </summary>
    /// <param name="p">The probability of dropping each input, in [0, 1).</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="p"/> is outside [0, 1).</exception>
    public NetworkSpec WithDropout(float p)
    {
        if (!(p >= 0 && p < 1)) throw new ArgumentOutOfRangeException(nameof(p), p, "Dropout probability must be in [0, 1).");
        var layers = Layers.Select((l, i) =>
        {
            if (i < 2 || l[0] is not ("dense" or "output")) return string.Join(' ', l);
            var kept = l.Where(t => !t.StartsWith("dropout=", StringComparison.Ordinal));
            return string.Join(' ', p > 0 ? kept.Append(string.Create(CultureInfo.InvariantCulture, $"dropout={p}")) : kept);
        });
        return Parse(string.Join(" | ", layers));
    }

    /// <summary>The spec of a fully connected network [sizes...] with one hidden activation and an output kind.</summary>
    /// <param name="sizes">Layer sizes: inputs, each hidden layer's units, outputs (the book's [784, 30, 10]).</param>
    /// <param name="hidden">The hidden layers' activation word, e.g. "sigmoid".</param>
    /// <param name="output">The output word, e.g. "sigmoid-quadratic" or "softmax".</param>
    /// <param name="dropout">Dropout probability on the output layer's input (0: none).</param>
    /// <exception cref="FormatException">A size or word is not valid.</exception>
    public static NetworkSpec FullyConnected(int[] sizes, string hidden, string output, float dropout = 0f)
    {
        var sb = new StringBuilder($"input {sizes[0]}");
        for (int i = 1; i < sizes.Length - 1; i++) sb.Append($" | dense {sizes[i]} {hidden}");
        sb.Append($" | output {sizes[^1]} {output}");
        if (dropout > 0) sb.Append(CultureInfo.InvariantCulture, $" dropout={dropout}");
        return Parse(sb.ToString());
    }
}
