using NativeNet.Core.Backends;
using NativeNet.Core.Kernels;

namespace NativeNet.Layers;

/// <summary>
/// A 2-D convolution with shared weights W [filters x (channels * k * k)] and one bias per filter, followed by the
/// activation. Activations are channel-major, [C, N, H, W], so forward is one im2col plus one GEMM for the
/// whole batch: z [F, N*OH*OW] = W cols + b, a = f(z). Where the backend has a direct kernel for the geometry, inference
/// and training convolve directly instead (training then unfolds the input in backward, a chunk of images at a time,
/// for the weight gradient).
/// </summary>
public sealed class ConvLayer : Layer
{
    private Parameter _w = null!, _b = null!;

    /// <summary>A convolution with square kernels; its input shape is set when it is added to a network.</summary>
    /// <param name="filters">Output feature maps, at least 1.</param>
    /// <param name="kernel">The side of each square kernel, at least 1.</param>
    /// <param name="activation">The nonlinearity applied after the bias.</param>
    /// <param name="stride">The step between neighbouring windows, at least 1.</param>
    /// <param name="padding">Zero pixels added on every side of the input, 0 or more.</param>
    /// <param name="poolAreaForInit">The area of the pool window that follows (1 when none), for <see cref="WeightInit.Chapter6"/>.</param>
    /// <exception cref="ArgumentOutOfRangeException">filters, kernel or stride is below 1, or padding is negative.</exception>
    public ConvLayer(int filters, int kernel, Activation activation, int stride = 1, int padding = 0, int poolAreaForInit = 1)
    {
        if (filters < 1 || kernel < 1 || stride < 1 || padding < 0)
            throw new ArgumentOutOfRangeException(nameof(filters), $"Convolution needs filters, kernel and stride >= 1 and padding >= 0 (got {filters}, {kernel}, {stride}, {padding}).");
        Filters = filters; Kernel = kernel; Activation = activation; Stride = stride; Padding = padding;
        PoolAreaForInit = poolAreaForInit;
    }

    /// <summary>Output feature maps.</summary>
    public int Filters { get; }
    /// <summary>The side of each square kernel.</summary>
    public int Kernel { get; }
    /// <summary>The step between neighbouring windows.</summary>
    public int Stride { get; }
    /// <summary>Zero pixels added on every side of the input.</summary>
    public int Padding { get; }
    /// <summary>The nonlinearity applied after the bias.</summary>
    public Activation Activation { get; }
    /// <summary>The following pool's window area: chapter-6 initialization uses n_out = filters * k^2 / pool area.</summary>
    public int PoolAreaForInit { get; }

    internal Parameter Weights => _w;
    internal Parameter Biases => _b;

    /// <summary>
    /// The max pool that follows (<see cref="PoolLayer.ApplyActivationOf"/>), or null: in inference that pool adds this
    /// layer's bias and applies its activation to the pooled maps, a quarter of the elements for a 2x2 pool, and this
    /// layer's Forward leaves z bare.
    /// </summary>
    internal PoolLayer? PooledBy { get; set; }

    private bool ActivationAfterPool => PooledBy is not null;

    /// <summary>
    /// Whether an inference workspace on <paramref name="backend"/> pools inside this convolution: a 2x2 max pool (stride
    /// 2) follows and the backend's direct kernel can pool in its units (<see cref="IPoolingConvolution"/>). Then this
    /// layer's output holds the pooled maps, and the pool layer only adds the bias and applies the activation.
    /// </summary>
    internal bool PoolsInside(IComputeBackend backend) =>
        PooledBy is { Window: 2, Stride: 2 } && backend is IPoolingConvolution p && p.SupportsConvolveMaxPool2(Geometry(Input, 1));

    /// <inheritdoc/>
    protected override FeatureShape ComputeOutput(FeatureShape input)
    {
        if ((long)input.Height + 2L * Padding > int.MaxValue || (long)input.Width + 2L * Padding > int.MaxValue
            || (long)Filters * input.Channels * Kernel * Kernel > int.MaxValue)
            throw new ArgumentException($"Conv {Filters} x {Kernel}x{Kernel} pad {Padding} on {input} is too large for one tensor.");
        var g = Geometry(input, 1);
        g.Validate();
        return new FeatureShape(Filters, g.OutHeight, g.OutWidth, ChannelMajor: true);
    }

    /// <inheritdoc/>
    public override long MacsPerExample => (long)Filters * Input.Channels * Kernel * Kernel * Output.Height * Output.Width;

    private ConvGeometry Geometry(FeatureShape input, int batch) => new(input.Channels, batch, input.Height, input.Width, Kernel, Kernel, Stride, Padding);

    /// <summary>For example "Conv 20 x 5x5 relu" (stride and padding named when not 1 and 0).</summary>
    public override string Describe() => $"Conv {Filters} x {Kernel}x{Kernel}" + (Stride > 1 ? $" stride {Stride}" : "") + (Padding > 0 ? $" pad {Padding}" : "") + $" {Activation.ToString().ToLowerInvariant()}";

    internal override void DeclareParameters(TensorArena values, TensorArena gradients, bool withVelocity)
    {
        int fanIn = Input.Channels * Kernel * Kernel;
        int fanOut = Filters * Kernel * Kernel / PoolAreaForInit;
        _w = AddParameter(values, gradients, withVelocity, "W", true, fanIn, fanOut, Filters, fanIn);
        _b = AddParameter(values, gradients, withVelocity, "b", false, fanIn, fanOut, Filters);
    }

    internal override void Initialize(IComputeBackend backend, WeightInit rule, Random rng) => Init.Parameters(backend, Parameters, rule, rng);


    /// <summary>A batch-major multi-channel input ([N, C*H*W], e.g. colour images) is permuted to [C, N, H, W] first.</summary>
    private bool NeedsLayoutChange => !Input.ChannelMajor && Input.Channels > 1;

    private sealed class State(Tensor output, Tensor? gradOutput, Tensor? cols, Tensor? gradCols, Tensor? permuted, Tensor? gradPermuted, bool activated,
        bool direct, bool poolsInside) : LayerState(output, gradOutput)
    {
        /// <summary>Inference that pools inside the convolution (<see cref="PoolsInside"/>): <see cref="LayerState.Output"/> holds the pooled maps.</summary>
        public bool PoolsInside { get; } = poolsInside;
        /// <summary>
        /// Whether forward runs the backend's direct kernel for this geometry (then a training step unfolds the input in
        /// backward, just before the weight gradient reads the copy, so the product finds it in cache), or unfolds and
        /// multiplies.
        /// </summary>
        public bool Direct { get; } = direct;
        /// <summary>False in an inference workspace whose next layer applies the bias and activation (<see cref="ActivationAfterPool"/>).</summary>
        public bool Activated { get; } = activated;
        public Tensor? Permuted { get; } = permuted;
        public Tensor? GradPermuted { get; } = gradPermuted;
        /// <summary>
        /// The unfolded input [C*k*k, N*OH*OW] where forward unfolds; in a training workspace that convolves directly,
        /// the backend's gradient scratch; null in an inference workspace that convolves directly.
        /// </summary>
        public Tensor? Cols { get; } = cols;
        /// <summary>
        /// The backend's scratch for the input gradient (<see cref="IComputeBackend.ConvolutionGradientScratch"/>): the
        /// same buffer as <see cref="Cols"/>, free by then (backward takes the weight gradient first); null in inference.
        /// </summary>
        public Tensor? GradCols { get; } = gradCols;
    }

    internal override LayerState CreateState(TensorArena arena, int batch, bool training)
    {
        var g = Geometry(Input, batch);
        string p = $"L{Index}";
        // The forward pass takes the backend's direct kernel where it has one; inference then needs no unfolded copy of
        // the input, and training only the backend's scratch for the backward products (on the CPU a chunk of images,
        // not the whole batch, and none where its gradients read the images directly; backward still gets a tensor).
        // Without a direct kernel, forward unfolds the whole batch.
        bool direct = arena.Backend.SupportsDirectConvolution(g);
        long scratch = training ? Math.Max(1, arena.Backend.ConvolutionGradientScratch(g, Filters)) : 0;
        long colsLength = direct ? scratch : Math.Max(scratch, (long)g.ColRows * g.ColCols);
        var cols = colsLength > 0 ? arena.Allocate($"{p}.cols", checked((int)colsLength)) : null;
        bool poolsInside = !training && PoolsInside(arena.Backend);
        return new State(
            poolsInside
                ? arena.Allocate($"{p}.pooled", Filters, batch, Output.Height / 2, Output.Width / 2)
                : arena.Allocate($"{p}.a", Filters, batch, Output.Height, Output.Width),
            training ? arena.Allocate($"{p}.grad", Filters, batch, Output.Height, Output.Width) : null,
            cols,
            training ? cols : null,
            NeedsLayoutChange ? arena.Allocate($"{p}.in", g.InputLength) : null,
            NeedsLayoutChange && training ? arena.Allocate($"{p}.gradIn", g.InputLength) : null,
            activated: training || !ActivationAfterPool,
            direct, poolsInside);
    }

    internal override void Forward(IComputeBackend b, LayerState ls, Tensor input, in StepContext step)
    {
        var s = (State)ls;
        var g = Geometry(Input, step.Batch);
        if (s.Permuted is not null)
        {
            b.ChannelMajorToBatchMajor(input, s.Permuted, Input.Channels, step.Batch, Input.Height * Input.Width, inverse: true);
            input = s.Permuted;
        }
        // The workspace's kernels run on a backend of the same kind as its arena's (a CPU backend or a view of it), so one
        // that pools inside here pools inside there.
        if (s.PoolsInside) ((IPoolingConvolution)b).ConvolveMaxPool2(input, _w.Value, s.Output, Filters, g);
        else if (s.Direct) b.Convolve(input, _w.Value, s.Output, Filters, g);
        else
        {
            var cols = s.Cols!;   // the whole batch unfolded (see CreateState)
            b.Im2Col(input, cols, g);
            // z [F, N*P] = W [F, CKK] x cols [CKK, N*P]
            b.Gemm(false, false, Filters, g.ColCols, g.ColRows, 1f, _w.Value, cols, 0f, s.Output);
        }
        if (s.Activated)
            b.BiasActivation(s.Output, _b.Value, s.Output, Filters, g.ColCols, BiasAxis.PerRow, Activation);
    }

    internal override void Backward(IComputeBackend b, LayerState ls, Tensor input, Tensor? gradInput, in StepContext step)
    {
        var s = (State)ls;
        var g = Geometry(Input, step.Batch);
        var dz = s.GradOutput!;
        b.ActivationBackward(s.Output, dz, dz, Filters * g.ColCols, Activation);
        // dW [F, CKK] = dz [F, N*P] x cols^T: unfolded here when forward convolved directly (the backend may do it a few
        // images at a time), else from forward's cols.  db [F] = row sums of dz
        if (s.Direct) b.ConvolutionWeightGradient(s.Permuted ?? input, dz, s.Cols!, s.Gradients[0], Filters, g, step.GradientBeta);
        else b.Gemm(false, true, Filters, g.ColRows, g.ColCols, 1f, dz, s.Cols!, step.GradientBeta, s.Gradients[0]);
        b.BiasGradient(dz, s.Gradients[1], Filters, g.ColCols, BiasAxis.PerRow, step.GradientBeta);
        if (gradInput is null) return;
        // dcols [CKK, N*P] = W^T x dz, folded back onto the input pixels
        b.ConvolutionInputGradient(_w.Value, dz, s.GradCols!, s.GradPermuted ?? gradInput, Filters, g);
        if (s.GradPermuted is not null)
            b.ChannelMajorToBatchMajor(s.GradPermuted, gradInput, Input.Channels, step.Batch, Input.Height * Input.Width, inverse: false);
    }
}

/// <summary>
/// 2-D pooling of each map (max, average or the book's L2). Placed after an activated convolution it forms the
/// book's ConvPoolLayer: the book computes f(maxpool(conv) + b); because adding one bias per map commutes with
/// max and f is monotone, f(maxpool(conv + b)) = maxpool(f(conv + b)), which is what conv-then-pool computes in training
/// (backward needs the activated maps). Inference after a convolution computes the book's order, f(maxpool(conv) + b):
/// the same values (adding a bias and every activation here are monotone, in floating point too), with the bias and f
/// on a quarter of the elements for a 2x2 pool.
/// </summary>
public sealed class PoolLayer : Layer
{
    // The convolution whose bias and activation this pool applies in inference (max pooling right after it), else null.
    private ConvLayer? _activationOf;

    /// <summary>Takes over <paramref name="conv"/>'s bias and activation in inference; the network calls this for a max pool right after a convolution.</summary>
    internal void ApplyActivationOf(ConvLayer conv)
    {
        if (Kind != PoolKind.Max) throw new InvalidOperationException($"Only max pooling commutes with a bias and an activation, not {Kind} pooling.");
        _activationOf = conv;
        conv.PooledBy = this;
    }

    /// <summary>Pooling over square windows; its input shape is set when it is added to a network.</summary>
    /// <param name="window">The side of each window, at least 1.</param>
    /// <param name="kind">How a window becomes one value.</param>
    /// <param name="stride">The step between windows; null for <paramref name="window"/> (windows that tile the map).</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="window"/> is below 1.</exception>
    public PoolLayer(int window, PoolKind kind = PoolKind.Max, int? stride = null)
    {
        if (window < 1) throw new ArgumentOutOfRangeException(nameof(window), window, "Pooling window must be at least 1.");
        Window = window; Kind = kind; Stride = stride ?? window;
    }

    /// <summary>The side of each square window.</summary>
    public int Window { get; }
    /// <summary>The step between neighbouring windows.</summary>
    public int Stride { get; }
    /// <summary>How a window becomes one value.</summary>
    public PoolKind Kind { get; }

    private PoolGeometry Geometry(int batch) => new(Input.Channels * batch, Input.Height, Input.Width, Window, Stride);

    /// <inheritdoc/>
    protected override FeatureShape ComputeOutput(FeatureShape input)
    {
        var g = new PoolGeometry(input.Channels, input.Height, input.Width, Window, Stride);
        g.Validate();
        // Pooling works plane by plane, so the output keeps the input's layout: a batch-major multi-channel input (the
        // network's own input, [N, C, H, W]) gives batch-major output, which a following layer must permute as it would the input.
        return new FeatureShape(input.Channels, g.OutHeight, g.OutWidth, ChannelMajor: input.ChannelMajor || input.Channels == 1);
    }

    /// <summary>For example "MaxPool 2x2" (the stride named when it differs from the window).</summary>
    public override string Describe() => $"{Kind}Pool {Window}x{Window}" + (Stride != Window ? $" stride {Stride}" : "");

    private sealed class State(Tensor output, Tensor? gradOutput, Tensor? argmax, ConvLayer? activationOf, bool pooledInside) : LayerState(output, gradOutput)
    {
        /// <summary>Where each window's maximum came from, for backward; null where the convolution pools inside.</summary>
        public Tensor? Argmax { get; } = argmax;
        /// <summary>The convolution whose bias and activation this workspace applies after pooling (inference only), else null.</summary>
        public ConvLayer? ActivationOf { get; } = activationOf;
        /// <summary>The convolution before has pooled already (<see cref="ConvLayer.PoolsInside"/>): its output is this layer's z.</summary>
        public bool PooledInside { get; } = pooledInside;
    }

    internal override LayerState CreateState(TensorArena arena, int batch, bool training)
    {
        string p = $"L{Index}";
        bool pooledInside = !training && _activationOf is { } conv && conv.PoolsInside(arena.Backend);
        return new State(
            arena.Allocate($"{p}.a", Output.Channels, batch, Output.Height, Output.Width),
            training ? arena.Allocate($"{p}.grad", Output.Channels, batch, Output.Height, Output.Width) : null,
            pooledInside ? null : arena.Allocate($"{p}.argmax", Output.Channels, batch, Output.Height, Output.Width),
            training ? null : _activationOf, pooledInside);
    }

    internal override void Forward(IComputeBackend b, LayerState ls, Tensor input, in StepContext step)
    {
        var s = (State)ls;
        // Pooled inside the convolution, input is already this layer's z: only the bias and activation remain.
        if (!s.PooledInside) b.PoolForward(Kind, input, s.Output, s.Argmax!, Geometry(step.Batch));
        if (s.ActivationOf is { } conv)
            b.BiasActivation(s.PooledInside ? input : s.Output, conv.Biases.Value, s.Output, Output.Channels, step.Batch * Output.Height * Output.Width,
                BiasAxis.PerRow, conv.Activation);
    }

    internal override void Backward(IComputeBackend b, LayerState ls, Tensor input, Tensor? gradInput, in StepContext step)
    {
        if (gradInput is null) return;
        var s = (State)ls;
        b.PoolBackward(Kind, input, s.Output, s.Argmax!, s.GradOutput!, gradInput, Geometry(step.Batch));
    }
}
