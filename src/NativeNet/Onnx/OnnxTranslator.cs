using NativeNet.Core.Kernels;

namespace NativeNet.Onnx;

/// <summary>
/// Interprets a validated <see cref="OnnxChain"/> node by node as NativeNet layers, tracking each example's shape
/// ([C, H, W] or [features]) and checking every weight's shape against it. A node that NativeNet cannot compute exactly
/// as ONNX defines it is refused, never approximated.
/// </summary>
internal sealed class OnnxTranslator(OnnxChain chain, IReadOnlyDictionary<string, string> metadata, string file)
{
    private abstract class Item
    {
        public required OnnxNode Node { get; init; }
    }

    private sealed class Conv : Item
    {
        public int Filters, Kernel, Stride, Padding;
        public Activation Activation;
        public bool Activated;
        public required float[] Weights, Biases;
    }

    private sealed class Pool : Item
    {
        public PoolKind Kind;
        public int Window, Stride;
    }

    private sealed class Dense : Item
    {
        public int Units;
        public float Dropout;
        public Activation Activation;
        public bool Activated, BiasPending, Softmax, LogSoftmax;
        public OnnxNode? ActivationNode;
        public required float[] Weights, Biases;
    }

    private readonly List<Item> _items = [];
    // The current example shape: four-dimensional [C, H, W] or flat [features] (then Channels is the feature count).
    private bool _fourD;
    private int _channels, _height, _width;
    private int Features => _fourD ? _channels * _height * _width : _channels;

    private static readonly Dictionary<string, string[]> KnownAttributes = new()
    {
        ["Conv"] = ["auto_pad", "dilations", "group", "kernel_shape", "pads", "strides"],
        ["MaxPool"] = ["auto_pad", "ceil_mode", "dilations", "kernel_shape", "pads", "storage_order", "strides"],
        ["AveragePool"] = ["auto_pad", "ceil_mode", "count_include_pad", "dilations", "kernel_shape", "pads", "strides"],
        ["LpPool"] = ["auto_pad", "ceil_mode", "dilations", "kernel_shape", "p", "pads", "strides"],
        ["Gemm"] = ["alpha", "beta", "transA", "transB"],
        ["MatMul"] = [], ["Add"] = [], ["Relu"] = [], ["Sigmoid"] = [], ["Tanh"] = [], ["Identity"] = [],
        ["Softmax"] = ["axis"], ["LogSoftmax"] = ["axis"], ["Flatten"] = ["axis"], ["Reshape"] = ["allowzero"],
        ["Dropout"] = ["seed", "ratio", "is_test"],
    };

    public (NetworkSpec Spec, float[][] Parameters, bool LogSoftmax) Translate()
    {
        var dims = chain.Input.Dims!;
        _fourD = dims.Count == 4;
        _channels = (int)dims[1].Value!.Value;
        if (_fourD) { _height = (int)dims[2].Value!.Value; _width = (int)dims[3].Value!.Value; }
        string inputText = _fourD ? $"input {_channels}x{_height}x{_width}" : $"input {_channels}";

        foreach (var node in chain.Nodes)
        {
            if (!KnownAttributes.TryGetValue(node.OpType, out var known))
                throw At(node, $"op type {node.OpType} is not one NativeNet imports (Conv, MaxPool, AveragePool, LpPool, Gemm, MatMul, Add, Relu, Sigmoid, Tanh, Softmax, LogSoftmax, Flatten, Reshape, Dropout, Identity)");
            foreach (var a in node.Attributes)
                if (!known.Contains(a.Name)) throw At(node, $"attribute '{a.Name}' is not one NativeNet understands for {node.OpType}");
            if (_items.LastOrDefault() is Dense { Softmax: true } previous)
                throw At(node, $"follows the {(previous.LogSoftmax ? "LogSoftmax" : "Softmax")} output; NativeNet's softmax must end the network");
            switch (node.OpType)
            {
                case "Conv": AddConv(node); break;
                case "MaxPool": AddPool(node, PoolKind.Max); break;
                case "AveragePool": AddPool(node, PoolKind.Average); break;
                case "LpPool": AddPool(node, PoolKind.L2); break;
                case "Flatten": Flatten(node); break;
                case "Reshape": Reshape(node); break;
                case "Gemm": AddGemm(node); break;
                case "MatMul": AddMatMul(node); break;
                case "Add": AddBias(node); break;
                case "Relu": Activate(node, Activation.ReLU); break;
                case "Sigmoid": Activate(node, Activation.Sigmoid); break;
                case "Tanh": Activate(node, Activation.Tanh); break;
                case "Softmax" or "LogSoftmax": Softmax(node); break;
                case "Dropout": CheckDropout(node); break;
                case "Identity": break;
            }
        }
        return Assemble(inputText);
    }

    private (NetworkSpec, float[][], bool) Assemble(string inputText)
    {
        if (_items.LastOrDefault() is not Dense last)
            throw Graph(_items.Count == 0 ? "the graph has no layers" : $"the graph ends with node '{_items[^1].Node.Display}' ({_items[^1].Node.OpType}); NativeNet networks end with a fully connected output layer (Gemm or MatMul)");
        if (chain.Output.Dims is { } outDims && (outDims.Count != 2 || outDims[1].Value is long k && k != last.Units))
            throw Graph($"output '{chain.Output.Name}' is declared [{string.Join(", ", outDims)}] but the last layer has {last.Units} units");
        string cost = last.Softmax ? "softmax" : last.Activation switch
        {
            Activation.Identity => "linear",
            Activation.Sigmoid => metadata.TryGetValue("nativenet.cost", out var c) && c is "sigmoid-quadratic" or "sigmoid-ce" ? c : "sigmoid-ce",
            _ => throw At(last.ActivationNode!, $"a {last.Activation} output is not a NativeNet output layer (softmax, sigmoid or none)"),
        };
        var parts = new List<string> { inputText };
        var parameters = new List<float[]>();
        foreach (var item in _items)
        {
            switch (item)
            {
                case Conv c:
                    parts.Add(NetworkSpec.ConvText(c.Filters, c.Kernel, c.Activation, c.Stride, c.Padding));
                    parameters.Add(c.Weights); parameters.Add(c.Biases);
                    break;
                case Pool p:
                    parts.Add(NetworkSpec.PoolText(p.Kind, p.Window, p.Stride));
                    break;
                case Dense d:
                    parts.Add(ReferenceEquals(d, last)
                        ? NetworkSpec.OutputText(d.Units, cost, d.Dropout)
                        : NetworkSpec.DenseText(d.Units, d.Activation, d.Dropout));
                    parameters.Add(d.Weights); parameters.Add(d.Biases);
                    break;
            }
        }
        string text = string.Join(" | ", parts);
        NetworkSpec spec;
        try { spec = NetworkSpec.Parse(text); }
        catch (Exception e) when (e is FormatException or ArgumentException or InvalidOperationException)
        { throw Graph($"the layers '{text}' do not form a NativeNet network: {e.Message}"); }
        return (spec, parameters.ToArray(), last.LogSoftmax);
    }

    private void AddConv(OnnxNode node)
    {
        if (!_fourD) throw At(node, "needs a [N, C, H, W] input but the value here is [N, features]");
        var w = ConstantFloats(node, 1, "weights", out var wt);
        if (wt.Dims.Length != 4 || wt.Dims[1] != _channels || wt.Dims[2] != wt.Dims[3])
            throw At(node, $"weights have shape {wt.Shape}; expected [F, {_channels}, k, k] (square kernels over the {_channels} input channels)");
        int filters = (int)wt.Dims[0], k = (int)wt.Dims[2];
        if (Ints(node, "kernel_shape") is { } ks && (ks.Length != 2 || ks[0] != k || ks[1] != k))
            throw At(node, $"kernel_shape [{string.Join(", ", ks)}] disagrees with the weights' {k}x{k}");
        if (Int(node, "group", 1) != 1) throw At(node, "grouped convolution (group != 1) is not supported");
        CheckNoDilation(node);
        int stride = Stride(node);
        int pad = Padding(node);
        var bias = node.Inputs.Count > 2 && node.Inputs[2].Length > 0 ? ConstantFloats(node, 2, "bias", out _) : new float[filters];
        if (bias.Length != filters) throw At(node, $"bias has {bias.Length} values; expected one per filter ({filters})");
        if (k > _height + 2 * pad || k > _width + 2 * pad) throw At(node, $"a {k}x{k} kernel does not fit the padded {_height + 2 * pad}x{_width + 2 * pad} input");
        _items.Add(new Conv { Node = node, Filters = filters, Kernel = k, Stride = stride, Padding = pad, Weights = w, Biases = bias });
        (_channels, _height, _width) = (filters, (_height + 2 * pad - k) / stride + 1, (_width + 2 * pad - k) / stride + 1);
        if ((long)_channels * _height * _width > OnnxModelReader.MaxTensorElements)
            throw At(node, $"its output would have {(long)_channels * _height * _width} values per example; at most {OnnxModelReader.MaxTensorElements} are supported");
    }

    private void AddPool(OnnxNode node, PoolKind kind)
    {
        if (!_fourD) throw At(node, "needs a [N, C, H, W] input but the value here is [N, features]");
        var ks = Ints(node, "kernel_shape");
        if (ks is not { Length: 2 } || ks[0] != ks[1] || ks[0] < 1) throw At(node, $"kernel_shape must be a square [w, w], not [{string.Join(", ", ks ?? [])}]");
        int window = (int)ks[0];
        CheckNoDilation(node);
        int stride = Stride(node);
        if (Padding(node) != 0) throw At(node, "padded pooling is not supported");
        if (kind == PoolKind.L2 && Int(node, "p", 2) != 2) throw At(node, $"LpPool with p = {Int(node, "p", 2)}; NativeNet's L2 pool is p = 2");
        if (window > _height || window > _width) throw At(node, $"a {window}x{window} window does not fit the {_height}x{_width} maps");
        if (Int(node, "ceil_mode", 0) != 0 && ((_height - window) % stride != 0 || (_width - window) % stride != 0))
            throw At(node, "ceil_mode = 1 adds partial windows here; NativeNet pools whole windows only");
        _items.Add(new Pool { Node = node, Kind = kind, Window = window, Stride = stride });
        (_height, _width) = ((_height - window) / stride + 1, (_width - window) / stride + 1);
    }

    private void Flatten(OnnxNode node)
    {
        long axis = Int(node, "axis", 1);
        int rank = _fourD ? 4 : 2;
        if (axis != 1 && axis != 1 - rank) throw At(node, $"axis {axis} does not flatten each example; expected 1");
        ToFlat();
    }

    private void Reshape(OnnxNode node)
    {
        if (Int(node, "allowzero", 0) != 0) throw At(node, "allowzero = 1 is not supported");
        var shape = Constant(node, 1, "shape").Integers(out var problem) ?? throw At(node, $"shape {problem}");
        long batch = chain.Input.Dims![0].Value ?? -2;
        bool firstIsBatch = shape.Length == 2 && (shape[0] is 0 or -1 || shape[0] == batch);
        bool secondIsFeatures = shape.Length == 2 && (shape[1] == Features || (shape[1] == -1 && shape[0] != -1));
        if (!firstIsBatch || !secondIsFeatures)
            throw At(node, $"reshape to [{string.Join(", ", shape)}]; NativeNet reshapes only to [N, {Features}] (flattening each example)");
        ToFlat();
    }

    private void ToFlat()
    {
        _channels = Features;
        _fourD = false;
    }

    private void AddGemm(OnnxNode node)
    {
        if (_fourD) throw At(node, "needs a [N, features] input; the graph must flatten the maps first");
        if (chain.Constants.ContainsKey(node.Inputs[0])) throw At(node, "the data must be input A; here A is a constant");
        if (Int(node, "transA", 0) != 0) throw At(node, "transA = 1 (a transposed data input) is not a dense layer");
        float alpha = Float(node, "alpha", 1f), beta = Float(node, "beta", 1f);
        if (!(alpha > 0f && alpha <= 1f))
            throw At(node, $"alpha = {alpha}; NativeNet scales a dense layer's product only by 1 - dropout, in (0, 1]");
        var weights = DenseWeights(node, transposed: Int(node, "transB", 0) == 0, out int units);
        var bias = new float[units];
        if (node.Inputs.Count > 2 && node.Inputs[2].Length > 0)
        {
            var c = ConstantFloats(node, 2, "bias", out var ct);
            if (c.Length == 1) Array.Fill(bias, c[0]);
            else if (c.Length == units && (ct.Dims.Length == 1 || (ct.Dims.Length == 2 && ct.Dims[0] == 1))) bias = c;
            else throw At(node, $"bias has shape {ct.Shape}; expected [{units}] or [1, {units}]");
            if (beta != 1f) for (int i = 0; i < bias.Length; i++) bias[i] *= beta;
        }
        _items.Add(new Dense { Node = node, Units = units, Dropout = DropoutFor(alpha), Weights = weights, Biases = bias });
        _channels = units;
    }

    private void AddMatMul(OnnxNode node)
    {
        if (_fourD) throw At(node, "needs a [N, features] input; the graph must flatten the maps first");
        if (chain.Constants.ContainsKey(node.Inputs[0])) throw At(node, "multiplies the data from the right (W x); a dense layer is x W");
        var weights = DenseWeights(node, transposed: true, out int units);
        _items.Add(new Dense { Node = node, Units = units, Weights = weights, Biases = new float[units], BiasPending = true });
        _channels = units;
    }

    /// <summary>Add after MatMul: the layer's bias.</summary>
    private void AddBias(OnnxNode node)
    {
        if (_items.LastOrDefault() is not Dense { BiasPending: true } dense)
            throw At(node, "Add is imported only as the bias right after a MatMul");
        int at = chain.Constants.ContainsKey(node.Inputs[0]) ? 0 : 1;
        var b = ConstantFloats(node, at, "bias", out var bt);
        if (b.Length != dense.Units || bt.Dims.Length > 2 || (bt.Dims.Length == 2 && bt.Dims[0] != 1))
            throw At(node, $"bias has shape {bt.Shape}; expected [{dense.Units}] or [1, {dense.Units}]");
        b.CopyTo(dense.Biases, 0);
        dense.BiasPending = false;
    }

    private void Activate(OnnxNode node, Activation activation)
    {
        switch (_items.LastOrDefault())
        {
            case Conv { Activated: false } conv:
                (conv.Activation, conv.Activated) = (activation, true);
                break;
            case Dense { Activated: false } dense:
                (dense.Activation, dense.Activated, dense.BiasPending, dense.ActivationNode) = (activation, true, false, node);
                break;
            // f(maxpool(z)) = maxpool(f(z)) for the monotone activations: move it before the pool, into the convolution.
            case Pool { Kind: PoolKind.Max } when _items.Count > 1 && _items[^2] is Conv { Activated: false } conv:
                (conv.Activation, conv.Activated) = (activation, true);
                break;
            default:
                throw At(node, "NativeNet applies an activation only right after a convolution or dense layer (or after a max pool that follows a convolution)");
        }
    }

    private void Softmax(OnnxNode node)
    {
        if (_items.LastOrDefault() is not Dense { Activated: false } dense)
            throw At(node, "NativeNet's softmax follows a dense layer directly");
        long axis = Int(node, "axis", chain.Opset >= 13 ? -1 : 1);
        if (axis is not (1 or -1)) throw At(node, $"axis {axis} is not the class axis of [N, classes]");
        (dense.Softmax, dense.LogSoftmax, dense.Activated, dense.BiasPending) = (true, node.OpType == "LogSoftmax", true, false);
    }

    private void CheckDropout(OnnxNode node)
    {
        if (Int(node, "is_test", 1) == 0) throw At(node, "is_test = 0 asks for training-mode dropout; only inference (a no-op) is imported");
        if (node.Inputs.Count > 2 && node.Inputs[2].Length > 0)
        {
            var mode = Constant(node, 2, "training_mode");
            var raw = mode.Raw is { } r ? r.AsSpan() : default;
            bool training = mode.Int32Data is { Count: > 0 } i32 ? i32[0] != 0 : raw.Length > 0 && raw.IndexOfAnyExcept((byte)0) >= 0;
            if (training) throw At(node, "training_mode = true; only inference dropout (a no-op) is imported");
        }
    }

    /// <summary>The weights of Gemm (input 1) or MatMul, as NativeNet's [units, inputs]; transposed when stored [inputs, units].</summary>
    private float[] DenseWeights(OnnxNode node, bool transposed, out int units)
    {
        var w = ConstantFloats(node, 1, "weights", out var wt);
        int n = Features;
        if (wt.Dims.Length != 2 || wt.Dims[transposed ? 0 : 1] != n)
            throw At(node, $"weights have shape {wt.Shape}; expected {(transposed ? $"[{n}, units]" : $"[units, {n}]")} for the {n} input features");
        units = (int)wt.Dims[transposed ? 1 : 0];
        if (units < 1) throw At(node, "weights have no units");
        if (!transposed) return w;
        var t = new float[w.Length];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < units; j++) t[j * n + i] = w[i * units + j];
        return t;
    }

    /// <summary>
    /// The dropout probability p whose 1f - p is exactly <paramref name="alpha"/> (NativeNet multiplies by 1f - p), so a
    /// model exported by NativeNet comes back with the same p; the nearest p when no float gives alpha exactly.
    /// </summary>
    private static float DropoutFor(float alpha)
    {
        float p = 1f - alpha;
        float candidate = p;
        for (int step = 0; step < 4; step++, candidate = MathF.BitDecrement(candidate))
            if (candidate >= 0 && 1f - candidate == alpha) return candidate;
        candidate = MathF.BitIncrement(p);
        for (int step = 0; step < 4; step++, candidate = MathF.BitIncrement(candidate))
            if (candidate < 1 && 1f - candidate == alpha) return candidate;
        return p;
    }

    private void CheckNoDilation(OnnxNode node)
    {
        if (Ints(node, "dilations") is { } d && d.Any(x => x != 1)) throw At(node, $"dilations [{string.Join(", ", d)}] are not supported");
    }

    private int Stride(OnnxNode node)
    {
        var s = Ints(node, "strides") ?? [1, 1];
        if (s.Length != 2 || s[0] != s[1] || s[0] < 1 || s[0] > 1024) throw At(node, $"strides [{string.Join(", ", s)}]: NativeNet uses one stride for both axes");
        return (int)s[0];
    }

    private int Padding(OnnxNode node)
    {
        string autoPad = String(node, "auto_pad", "NOTSET");
        var pads = Ints(node, "pads") ?? [0, 0, 0, 0];
        if (autoPad is not ("NOTSET" or "VALID")) throw At(node, $"auto_pad = {autoPad} is not supported; give explicit pads");
        if (autoPad == "VALID" && pads.Any(p => p != 0)) throw At(node, "auto_pad = VALID with non-zero pads");
        if (pads.Length != 4 || pads.Any(p => p != pads[0]) || pads[0] < 0 || pads[0] > 1024)
            throw At(node, $"pads [{string.Join(", ", pads)}]: NativeNet pads all four sides equally");
        return (int)pads[0];
    }

    private OnnxTensor Constant(OnnxNode node, int index, string what)
    {
        if (index >= node.Inputs.Count || node.Inputs[index].Length == 0) throw At(node, $"has no {what} input (input {index})");
        return chain.Constants.TryGetValue(node.Inputs[index], out var t) ? t : throw At(node, $"{what} '{node.Inputs[index]}' is not an initializer or Constant");
    }

    private float[] ConstantFloats(OnnxNode node, int index, string what, out OnnxTensor tensor)
    {
        tensor = Constant(node, index, what);
        return tensor.Floats(out var problem) ?? throw At(node, $"{what} '{tensor.Name}' {problem}");
    }

    private OnnxAttribute? Attr(OnnxNode node, string name, OnnxAttributeType type)
    {
        var a = node.Attribute(name);
        if (a is not null && a.Type != type && a.Type != OnnxAttributeType.Undefined)
            throw At(node, $"attribute '{name}' has type {a.Type}, expected {type}");
        return a;
    }

    private long Int(OnnxNode node, string name, long fallback) => Attr(node, name, OnnxAttributeType.Int)?.I ?? fallback;
    private float Float(OnnxNode node, string name, float fallback) => Attr(node, name, OnnxAttributeType.Float)?.F ?? fallback;
    private string String(OnnxNode node, string name, string fallback) => Attr(node, name, OnnxAttributeType.String)?.S ?? fallback;
    private long[]? Ints(OnnxNode node, string name) => Attr(node, name, OnnxAttributeType.Ints)?.Ints.ToArray();

    private OnnxGraphException At(OnnxNode node, string problem) => new(file, node.Display, node.OpType, problem);
    private OnnxGraphException Graph(string problem) => new(file, null, null, problem);
}
