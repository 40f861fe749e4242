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
/// </summary>
public sealed class NetworkSpec
{
    private NetworkSpec(string text, IReadOnlyList<string[]> layers) { Text = text; Layers = layers; }

    public string Text { get; }
    private IReadOnlyList<string[]> Layers { get; }

    public override string ToString() => Text;

    public static NetworkSpec Parse(string text)
    {
        var layers = text.Split('|', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
            .Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)).ToList();
        if (layers.Count < 2 || layers[0][0] != "input")
            throw new FormatException($"Network spec '{text}' must start with 'input ...' and have at least an output layer.");
        var spec = new NetworkSpec(string.Join(" | ", layers.Select(l => string.Join(' ', l))), layers);
        using var probe = spec.ToBuilder().Build(backend: ProbeBackend.Value); // validates every shape once
        return spec;
    }

    private static readonly Lazy<IComputeBackend> ProbeBackend = new(() => new CpuBackend(1));

    public NetworkBuilder ToBuilder()
    {
        NetworkBuilder? b = null;
        for (int i = 0; i < Layers.Count; i++)
        {
            var l = Layers[i];
            string Arg(int k) => k < l.Length ? l[k] : throw new FormatException($"Layer '{string.Join(' ', l)}' is missing argument {k}.");
            int Int(int k) => int.TryParse(Arg(k), NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) && v > 0 ? v : throw new FormatException($"Layer '{string.Join(' ', l)}': '{Arg(k)}' is not a positive integer.");
            float Option(string name, float fallback)
            {
                var o = l.FirstOrDefault(x => x.StartsWith(name + "=", StringComparison.Ordinal));
                if (o is null) return fallback;
                return float.TryParse(o[(name.Length + 1)..], NumberStyles.Float, CultureInfo.InvariantCulture, out float v) ? v : throw new FormatException($"Layer '{string.Join(' ', l)}': bad {name}.");
            }
            if (i == 0)
            {
                var dims = Arg(1).Split('x');
                b = dims.Length switch
                {
                    1 => NetworkBuilder.ForInput(Int(1)),
                    3 => NetworkBuilder.ForImages(ParseDim(dims[0]), ParseDim(dims[1]), ParseDim(dims[2])),
                    _ => throw new FormatException($"Input '{Arg(1)}' must be N or CxHxW."),
                };
                continue;
            }
            int nextPool = i + 1 < Layers.Count && Layers[i + 1][0].EndsWith("pool", StringComparison.Ordinal) && Layers[i + 1].Length > 1 && int.TryParse(Layers[i + 1][1], out int pw) ? pw : 1;
            b = l[0] switch
            {
                "dense" => b!.Dense(Int(1), ParseActivation(Arg(2)), Option("dropout", 0f)),
                "conv" => b!.Conv(Int(1), Int(2), ParseActivation(Arg(3)), (int)Option("stride", 1), (int)Option("pad", 0), nextPool),
                "maxpool" => b!.Pool(PoolKind.Max, Int(1), OptionalInt(Option("stride", 0))),
                "avgpool" => b!.Pool(PoolKind.Average, Int(1), OptionalInt(Option("stride", 0))),
                "l2pool" => b!.Pool(PoolKind.L2, Int(1), OptionalInt(Option("stride", 0))),
                "output" => b!.Output(Int(1), ParseCost(Arg(2)), Option("dropout", 0f)),
                _ => throw new FormatException($"Unknown layer kind '{l[0]}' (dense, conv, maxpool, avgpool, l2pool, output)."),
            };
        }
        return b!;
    }

    /// <summary>Builds the network on a backend with the given initialization.</summary>
    public Network Build(int seed, WeightInit init, IComputeBackend? backend = null, bool withMomentum = false)
        => ToBuilder().Build(seed, init, backend, withMomentum);

    private static int? OptionalInt(float v) => v > 0 ? (int)v : null;

    private static int ParseDim(string s) => int.TryParse(s, out int v) && v > 0 ? v : throw new FormatException($"'{s}' is not a positive dimension.");

    public static Activation ParseActivation(string s) => s switch
    {
        "sigmoid" => Activation.Sigmoid,
        "tanh" => Activation.Tanh,
        "relu" => Activation.ReLU,
        "linear" or "identity" => Activation.Identity,
        _ => throw new FormatException($"Unknown activation '{s}' (sigmoid, tanh, relu, linear)."),
    };

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
    public NetworkSpec WithDropout(float p)
    {
        if (p < 0 || p >= 1) throw new ArgumentOutOfRangeException(nameof(p), p, "Dropout probability must be in [0, 1).");
        var layers = Layers.Select((l, i) =>
        {
            if (i < 2 || l[0] is not ("dense" or "output")) return string.Join(' ', l);
            var kept = l.Where(t => !t.StartsWith("dropout=", StringComparison.Ordinal));
            return string.Join(' ', p > 0 ? kept.Append(string.Create(CultureInfo.InvariantCulture, $"dropout={p}")) : kept);
        });
        return Parse(string.Join(" | ", layers));
    }

    /// <summary>The spec of a fully connected network [sizes...] with one hidden activation and an output kind.</summary>
    public static NetworkSpec FullyConnected(int[] sizes, string hidden, string output, float dropout = 0f)
    {
        var sb = new StringBuilder($"input {sizes[0]}");
        for (int i = 1; i < sizes.Length - 1; i++) sb.Append($" | dense {sizes[i]} {hidden}");
        sb.Append($" | output {sizes[^1]} {output}");
        if (dropout > 0) sb.Append(CultureInfo.InvariantCulture, $" dropout={dropout}");
        return Parse(sb.ToString());
    }
}
