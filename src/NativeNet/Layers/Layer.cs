using NativeNet.Core.Backends;

namespace NativeNet.Layers;

/// <summary>
/// The shape of one example as it flows between layers: Channels x Height x Width (a fully connected layer's
/// output is Units x 1 x 1). <see cref="ChannelMajor"/> tells how a batch of them is laid out in memory:
/// convolutional layers use [C, N, H, W] so one GEMM covers the batch; fully connected layers use [N, features].
/// With one channel the two layouts coincide.
/// </summary>
public readonly record struct FeatureShape(int Channels, int Height, int Width, bool ChannelMajor = false)
{
    public int Size => Channels * Height * Width;
    public override string ToString() => Height == 1 && Width == 1 ? $"{Channels}" : $"{Channels}x{Height}x{Width}";
}

/// <summary>
/// A plain SGD step folded into a layer's weight-gradient GEMM: W &lt;- Beta W + Alpha dW, with Alpha = -eta / m and
/// Beta = 1 - eta lambda / n (the book's L2 step). The weights are then read and written once, and the gradient
/// tensor is neither written nor read back.
/// </summary>
internal readonly record struct FusedSgd(float Alpha, float Beta);

/// <summary>The per-step scalars a layer needs beyond its tensors.</summary>
/// <param name="Worker">Which slice of a mini-batch split across workers this is (0 when not split); it keeps dropout masks independent between slices.</param>
internal readonly record struct StepContext(bool Training, int Batch, ulong Seed, ulong Step, int Worker = 0)
{
    /// <summary>When set, a layer with a <see cref="Layer.FusedWeight"/> updates that weight in Backward instead of writing its gradient.</summary>
    internal FusedSgd? WeightUpdate { get; init; }

    /// <summary>The counter-based generator's stream for one layer's dropout mask in this step.</summary>
    public ulong DropoutStream(int layer) => ((Step * 1024 + (ulong)layer) << 6) + (ulong)Worker;
}

/// <summary>
/// One layer: parameters live in the network's parameter arena and are shared by every workspace;
/// <see cref="LayerState"/> holds the per-workspace activations and gradients sized for a batch capacity.
/// Forward reads the previous layer's output; backward turns the gradient of this layer's output into parameter
/// gradients and (when asked) the gradient of its input.
/// </summary>
public abstract class Layer
{
    public FeatureShape Input { get; private set; }
    public FeatureShape Output { get; private set; }
    public int Index { get; private set; }

    /// <summary>Learnable tensors (weights first, then biases), their gradients and momentum buffers. Empty for parameter-free layers.</summary>
    internal IReadOnlyList<Parameter> Parameters => _parameters;
    private readonly List<Parameter> _parameters = [];

    internal void Attach(int index, FeatureShape input)
    {
        Index = index;
        Input = input;
        Output = ComputeOutput(input);
    }

    protected abstract FeatureShape ComputeOutput(FeatureShape input);

    /// <summary>Multiply-adds of this layer's forward GEMM for one example (0 for layers without one).</summary>
    public virtual long MacsPerExample => 0;

    /// <summary>
    /// The parameter whose update <see cref="Backward"/> applies itself when <see cref="StepContext.WeightUpdate"/> is set
    /// (null: none); the optimizer then updates only the other parameters, and that parameter's gradient is not written.
    /// </summary>
    internal virtual Parameter? FusedWeight => null;

    /// <summary>A one-line description such as "Dense 30 sigmoid".</summary>
    public abstract string Describe();

    /// <summary>Declares parameters in the network's parameter arena.</summary>
    internal virtual void DeclareParameters(TensorArena arena, bool withVelocity) { }

    private protected Parameter AddParameter(TensorArena arena, bool withVelocity, string name, bool isWeight, int fanIn, int fanOut, params int[] dims)
    {
        var p = new Parameter(
            arena.Allocate($"L{Index}.{name}", dims),
            arena.Allocate($"L{Index}.{name}.grad", dims),
            withVelocity ? arena.Allocate($"L{Index}.{name}.velocity", dims) : null,
            isWeight, fanIn, fanOut);
        _parameters.Add(p);
        return p;
    }

    /// <summary>Fills the parameters on the host by the rule and uploads them.</summary>
    internal virtual void Initialize(IComputeBackend backend, WeightInit rule, Random rng) { }

    /// <summary>Declares this layer's activations (and, for training, gradients) for a batch capacity.</summary>
    internal abstract LayerState CreateState(TensorArena arena, int batch, bool training);

    internal abstract void Forward(IComputeBackend b, LayerState s, Tensor input, in StepContext step);

    /// <summary>
    /// s.GradOutput holds dC/d(output); fills parameter gradients and, when <paramref name="gradInput"/> is not null, dC/d(input).
    /// For the output layer s.GradOutput already holds dC/dz (the network computed it from the cost).
    /// </summary>
    internal abstract void Backward(IComputeBackend b, LayerState s, Tensor input, Tensor? gradInput, in StepContext step);
}

/// <summary>A learnable tensor with its gradient and (for momentum) velocity, all on the backend.</summary>
internal sealed record Parameter(Tensor Value, Tensor Gradient, Tensor? Velocity, bool IsWeight, int FanIn, int FanOut);

/// <summary>A layer's tensors within one workspace: its output and the gradient of that output.</summary>
internal class LayerState(Tensor output, Tensor? gradOutput)
{
    public Tensor Output { get; } = output;
    public Tensor? GradOutput { get; } = gradOutput;
    /// <summary>Where backward writes the parameter gradients (same order as <see cref="Layer.Parameters"/>): the parameters' own gradient tensors, or a worker's private copies when a mini-batch is split.</summary>
    public Tensor[] Gradients { get; internal set; } = [];
}
