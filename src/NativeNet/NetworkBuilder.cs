using NativeNet.Core.Backends;
using NativeNet.Core.Kernels;
using NativeNet.Layers;

namespace NativeNet;

/// <summary>
/// Describes a network in a few lines:
/// <code>
/// using var net = NetworkBuilder.ForInput(784).Dense(30, Activation.Sigmoid).Output(10, OutputCost.SigmoidQuadratic).Build(seed: 1);
/// using var cnn = NetworkBuilder.ForImages(1, 28, 28).Conv(20, 5, Activation.ReLU).MaxPool(2).Conv(40, 5, Activation.ReLU).MaxPool(2)
///     .Dense(100, Activation.ReLU).Output(10, OutputCost.SoftmaxLogLikelihood).Build(seed: 1, init: WeightInit.Chapter6);
/// </code>
/// </summary>
public sealed class NetworkBuilder
{
    private readonly FeatureShape _input;
    private readonly List<Layer> _layers = [];
    private FeatureShape _current;
    private bool _built;

    private NetworkBuilder(FeatureShape input) { _input = input; _current = input; }

    /// <summary>The layers added so far, attached (their shapes known) but without tensors until <see cref="Build"/>.</summary>
    internal IReadOnlyList<Layer> Layers => _layers;

    /// <summary>A network whose examples are flat vectors of <paramref name="features"/> floats.</summary>
    /// <param name="features">Floats per example, at least 1.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="features"/> is below 1.</exception>
    public static NetworkBuilder ForInput(int features)
    {
        if (features < 1) throw new ArgumentOutOfRangeException(nameof(features), features, "Input size must be positive.");
        return new(new FeatureShape(features, 1, 1));
    }

    /// <summary>A network whose examples are images, stored per example as [channels, height, width].</summary>
    /// <param name="channels">Channels per image (1 for grey).</param>
    /// <param name="height">Rows per image.</param>
    /// <param name="width">Columns per image.</param>
    /// <exception cref="ArgumentOutOfRangeException">A size is below 1, or the image has more than int.MaxValue values.</exception>
    public static NetworkBuilder ForImages(int channels, int height, int width)
    {
        if (channels < 1 || height < 1 || width < 1) throw new ArgumentOutOfRangeException(nameof(channels), $"Image shape {channels}x{height}x{width} must be positive.");
        if ((long)channels * height * width > int.MaxValue) throw new ArgumentOutOfRangeException(nameof(channels), $"Image shape {channels}x{height}x{width} has more than {int.MaxValue} values.");
        return new(new FeatureShape(channels, height, width));
    }

    /// <summary>Appends a layer (one of <see cref="DenseLayer"/>, <see cref="ConvLayer"/>, <see cref="PoolLayer"/>); its shapes are checked now.</summary>
    /// <param name="layer">A new layer, not yet in any network.</param>
    /// <exception cref="InvalidOperationException">An output layer was already added.</exception>
    /// <exception cref="ArgumentException">The layer cannot take the current shape, or its output is too large.</exception>
    public NetworkBuilder Add(Layer layer)
    {
        ArgumentNullException.ThrowIfNull(layer);
        if (_layers.Count > 0 && _layers[^1] is DenseLayer { Cost: not null })
            throw new InvalidOperationException("The output layer must be the last layer.");
        layer.Attach(_layers.Count, _current);
        if ((long)layer.Output.Channels * layer.Output.Height * layer.Output.Width > int.MaxValue)
            throw new ArgumentException($"{layer.Describe()} would output {layer.Output} = more than {int.MaxValue} values per example.", nameof(layer));
        _layers.Add(layer);
        _current = layer.Output;
        return this;
    }

    /// <summary>A hidden fully connected layer; <paramref name="dropout"/> drops its inputs with that probability in training.</summary>
    /// <param name="units">Neurons, at least 1.</param>
    /// <param name="activation">The nonlinearity.</param>
    /// <param name="dropout">Probability in [0, 1) of dropping each input in training.</param>
    public NetworkBuilder Dense(int units, Activation activation, float dropout = 0f) => Add(new DenseLayer(units, activation, dropout));

    /// <summary>The output layer: its activation follows from the cost (sigmoid, softmax or linear).</summary>
    /// <param name="units">Outputs (classes), at least 1.</param>
    /// <param name="cost">The cost, which fixes the activation.</param>
    /// <param name="dropout">Probability in [0, 1) of dropping each input in training.</param>
    public NetworkBuilder Output(int units, OutputCost cost, float dropout = 0f) => Add(new DenseLayer(units, Activation.Identity, dropout, cost));

    /// <summary>A convolution; when a pool follows, say its window so chapter-6 initialization can use the book's n_out.</summary>
    /// <param name="filters">Output feature maps, at least 1.</param>
    /// <param name="kernel">The side of each square kernel, at least 1.</param>
    /// <param name="activation">The nonlinearity applied after the bias.</param>
    /// <param name="stride">The step between neighbouring windows, at least 1.</param>
    /// <param name="padding">Zero pixels added on every side of the input.</param>
    /// <param name="poolWindowForInit">The side of the pool window that follows (1 when none).</param>
    public NetworkBuilder Conv(int filters, int kernel, Activation activation, int stride = 1, int padding = 0, int poolWindowForInit = 1)
        => Add(new ConvLayer(filters, kernel, activation, stride, padding, poolWindowForInit * poolWindowForInit));

    /// <summary>Max-pooling over square windows.</summary>
    /// <param name="window">The side of each window, at least 1.</param>
    /// <param name="stride">The step between windows; null for <paramref name="window"/>.</param>
    public NetworkBuilder MaxPool(int window, int? stride = null) => Add(new PoolLayer(window, PoolKind.Max, stride));

    /// <summary>Pooling of any kind over square windows.</summary>
    /// <param name="kind">Max, average or L2.</param>
    /// <param name="window">The side of each window, at least 1.</param>
    /// <param name="stride">The step between windows; null for <paramref name="window"/>.</param>
    public NetworkBuilder Pool(PoolKind kind, int window, int? stride = null) => Add(new PoolLayer(window, kind, stride));

    /// <summary>The book's ConvPoolLayer: convolution, activation, then max-pooling (see <see cref="PoolLayer"/> for the equivalence).</summary>
    /// <param name="filters">Output feature maps, at least 1.</param>
    /// <param name="kernel">The side of each square kernel.</param>
    /// <param name="activation">The nonlinearity.</param>
    /// <param name="pool">The side of the pool window (also its stride).</param>
    /// <param name="kind">The pooling.</param>
    public NetworkBuilder ConvPool(int filters, int kernel, Activation activation, int pool = 2, PoolKind kind = PoolKind.Max)
        => Conv(filters, kernel, activation, poolWindowForInit: pool).Pool(kind, pool);

    /// <summary>Makes the network on a backend (the CPU unless given) and initializes it from <paramref name="seed"/>.</summary>
    /// <param name="seed">Seeds the weight initialization.</param>
    /// <param name="init">How weights and biases are drawn.</param>
    /// <param name="backend">The backend the network lives on; null for a shared <see cref="CpuBackend"/>.</param>
    /// <param name="withMomentum">Reserve velocity buffers for momentum / Nesterov training.</param>
    /// <exception cref="InvalidOperationException">The builder already built a network, or the last layer is not an output layer.</exception>
    public Network Build(int seed = 0, WeightInit init = WeightInit.ScaledByFanIn, IComputeBackend? backend = null, bool withMomentum = false)
    {
        var net = BuildUninitialized(backend, withMomentum);
        net.Initialize(init, seed);
        return net;
    }

    /// <summary>Makes the network with every parameter zero, for a caller that fills them (a model being loaded).</summary>
    internal Network BuildUninitialized(IComputeBackend? backend, bool withMomentum = false)
    {
        if (_built) throw new InvalidOperationException("This builder already built a network; layers cannot be shared. Use a new builder.");
        if (_layers.Count == 0 || _layers[^1] is not DenseLayer { Cost: not null })
            throw new InvalidOperationException("A network must end with an output layer: call Output(units, cost).");
        var net = new Network(backend ?? DefaultBackend.Value, _input, _layers.ToArray(), withMomentum);
        _built = true;
        return net;
    }

    private static readonly Lazy<IComputeBackend> DefaultBackend = new(() => new CpuBackend());
}
