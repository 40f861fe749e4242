using NativeNet.Core.Backends;

namespace NativeNet.Layers;

/// <summary>
/// The shape of one example as it flows between layers: Channels x Height x Width (a fully connected layer's
/// output is Units x 1 x 1). <see cref="ChannelMajor"/> tells how a batch of them is laid out in memory:
/// convolutional layers use [C, N, H, W] so one GEMM covers the batch; fully connected layers use [N, features].
/// With one channel the two layouts coincide.
/// </summary>
/// <param name="Channels">Feature maps (1 for a grey image; the units of a fully connected layer).</param>
/// <param name="Height">Rows of each map (1 for a flat vector).</param>
/// <param name="Width">Columns of each map (1 for a flat vector).</param>
/// <param name="ChannelMajor">Whether a batch is stored [C, N, H, W] rather than [N, C, H, W].</param>
public readonly record struct FeatureShape(int Channels, int Height, int Width, bool ChannelMajor = false)
{
    /// <summary>Floats per example: Channels * Height * Width.</summary>
    public int Size => Channels * Height * Width;
    /// <summary>"C" for a flat vector, else "CxHxW", e.g. "20x24x24".</summary>
    public override string ToString() => Height == 1 && Width == 1 ? $"{Channels}" : $"{Channels}x{Height}x{Width}";
}

/// <summary>
/// A plain SGD step folded into a layer's weight-gradient GEMM: W &lt;- Beta W + Alpha dW, with Alpha = -eta / m and
/// Beta = 1 - eta lambda / n (the book's L2 step). The weights are then read and written once, and the gradient
/// tensor is neither written nor read back.
/// </summary>
internal readonly record struct FusedSgd(float Alpha, float Beta);

/// <summary>The per-step scalars a layer needs beyond its tensors.</summary>
/// <param name="Training">Whether this is a training step (dropout on, backward to follow).</param>
/// <param name="Batch">Examples in this step, at most the workspace's capacity.</param>
/// <param name="Seed">The run's seed, for dropout masks.</param>
/// <param name="Step">The step's number, so each step draws new masks.</param>
/// <param name="Worker">Which slice of a mini-batch split across workers this is (0 when not split); it keeps dropout masks independent between slices.</param>
internal readonly record struct StepContext(bool Training, int Batch, ulong Seed, ulong Step, int Worker = 0)
{
    /// <summary>When set, a layer with a <see cref="Layer.FusedWeight"/> updates that weight in Backward instead of writing its gradient.</summary>
    internal FusedSgd? WeightUpdate { get; init; }

    /// <summary>
    /// Which pass of the worker's share of the step this is, when a share larger than its workspace runs in several
    /// passes (0 for the first or only one). Backward in a later pass adds the parameters' gradients to the earlier
    /// passes' instead of overwriting them.
    /// </summary>
    internal int Pass { get; init; }

    /// <summary>The beta of the parameter-gradient products: 0 (overwrite) in a step's first pass, 1 (add) in later ones.</summary>
    internal float GradientBeta => Pass > 0 ? 1f : 0f;

    /// <summary>
    /// The counter-based generator's stream for one layer's dropout mask in this step: step, layer and worker, and from
    /// bit 44 the pass (below that bit for fewer than 2^28 steps, so passes never share a mask).
    /// </summary>
    public ulong DropoutStream(int layer) => ((Step * 1024 + (ulong)layer) << 6) + (ulong)Worker + ((ulong)Pass << 44);
}

/// <summary>
/// One layer: parameters live in the network's parameter arena and are shared by every workspace;
/// <see cref="LayerState"/> holds the per-workspace activations and gradients sized for a batch capacity.
/// Forward reads the previous layer's output; backward turns the gradient of this layer's output into parameter
/// gradients and (when asked) the gradient of its input.
/// </summary>
public abstract class Layer
{
    /// <summary>The shape of one example entering the layer; set when the layer is added to a network.</summary>
    public FeatureShape Input { get; private set; }
    /// <summary>The shape of one example leaving the layer; set when the layer is added to a network.</summary>
    public FeatureShape Output { get; private set; }
    /// <summary>The layer's position in its network, 0 for the first.</summary>
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

    /// <summary>The output shape for an input shape, checking that the layer can take it.</summary>
    /// <param name="input">The shape of one example entering the layer.</param>
    /// <exception cref="ArgumentException">The layer cannot take <paramref name="input"/> (too small, or too large for one tensor).</exception>
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

    /// <summary>
    /// Declares parameters: values (and velocities) in the network's parameter arena, gradients in its gradient arena,
    /// which gets storage only once the network is trained.
    /// </summary>
    internal virtual void DeclareParameters(TensorArena values, TensorArena gradients, bool withVelocity) { }

    private protected Parameter AddParameter(TensorArena values, TensorArena gradients, bool withVelocity, string name, bool isWeight, int fanIn, int fanOut,
        params int[] dims)
    {
        var p = new Parameter(
            values.Allocate($"L{Index}.{name}", dims),
            gradients.Allocate($"L{Index}.{name}.grad", dims),
            withVelocity ? values.Allocate($"L{Index}.{name}.velocity", dims) : null,
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
