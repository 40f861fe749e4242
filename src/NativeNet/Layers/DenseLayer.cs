using NativeNet.Core.Backends;
using NativeNet.Core.Kernels;

namespace NativeNet.Layers;

/// <summary>
/// A fully connected layer: z = x W^T + b, a = f(z), with W [units x inputs] (the book's w_jk: row j feeds neuron j).
/// Optional dropout on the input, as in the book's chapter-6 code: in training each input is kept with probability
/// 1 - p and left unscaled; at inference the product is scaled by (1 - p) ("halve the weights" for p = 0.5).
/// As an output layer, <see cref="Cost"/> fixes the activation: sigmoid, softmax or linear.
/// </summary>
public sealed class DenseLayer : Layer
{
    private Parameter _w = null!, _b = null!;

    /// <summary>A layer of <paramref name="units"/> neurons; its input size is set when it is added to a network.</summary>
    /// <param name="units">Neurons (outputs), at least 1.</param>
    /// <param name="activation">The nonlinearity of a hidden layer; ignored when <paramref name="cost"/> is set.</param>
    /// <param name="dropout">Probability in [0, 1) of dropping each input in training.</param>
    /// <param name="cost">Set for the output layer: the cost, which fixes the activation.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="units"/> is below 1 or <paramref name="dropout"/> outside [0, 1).</exception>
    public DenseLayer(int units, Activation activation, float dropout = 0f, OutputCost? cost = null)
    {
        if (units < 1) throw new ArgumentOutOfRangeException(nameof(units), units, "A dense layer needs at least one unit.");
        if (dropout < 0f || dropout >= 1f) throw new ArgumentOutOfRangeException(nameof(dropout), dropout, "Dropout probability must be in [0, 1).");
        Units = units;
        Dropout = dropout;
        Cost = cost;
        Activation = cost switch
        {
            OutputCost.SigmoidQuadratic or OutputCost.SigmoidCrossEntropy => Activation.Sigmoid,
            OutputCost.LinearQuadratic => Activation.Identity,
            OutputCost.SoftmaxLogLikelihood => Activation.Identity, // softmax is applied after the bias
            _ => activation,
        };
    }

    /// <summary>Neurons, the layer's output size.</summary>
    public int Units { get; }
    /// <summary>The activation applied after the bias (Identity for a softmax or linear output layer).</summary>
    public Activation Activation { get; }
    /// <summary>Probability of dropping each input in training (0: no dropout).</summary>
    public float Dropout { get; }
    /// <summary>Set for the output layer: the cost whose delta the network feeds into <see cref="Backward"/>.</summary>
    public OutputCost? Cost { get; }
    /// <summary>Whether this is a softmax output layer (<see cref="OutputCost.SoftmaxLogLikelihood"/>).</summary>
    public bool IsSoftmax => Cost == OutputCost.SoftmaxLogLikelihood;

    internal Parameter Weights => _w;
    internal Parameter Biases => _b;

    /// <inheritdoc/>
    protected override FeatureShape ComputeOutput(FeatureShape input)
    {
        if ((long)Units * input.Size > int.MaxValue)
            throw new ArgumentException($"Dense {Units} on {input.Size} inputs needs {(long)Units * input.Size} weights, more than one tensor holds ({int.MaxValue}).");
        return new(Units, 1, 1);
    }

    /// <inheritdoc/>
    public override long MacsPerExample => (long)Input.Size * Units;

    /// <summary>For example "Dense 30 sigmoid" or "Dense 10 softmax + log-likelihood, dropout 0.5 on input".</summary>
    public override string Describe()
    {
        string act = Cost switch
        {
            OutputCost.SigmoidQuadratic => "sigmoid + quadratic cost",
            OutputCost.SigmoidCrossEntropy => "sigmoid + cross-entropy",
            OutputCost.SoftmaxLogLikelihood => "softmax + log-likelihood",
            OutputCost.LinearQuadratic => "linear + quadratic cost",
            _ => Activation.ToString().ToLowerInvariant(),
        };
        return $"Dense {Units} {act}" + (Dropout > 0 ? $", dropout {Dropout} on input" : "");
    }

    internal override void DeclareParameters(TensorArena values, TensorArena gradients, bool withVelocity)
    {
        int n = Input.Size;
        _w = AddParameter(values, gradients, withVelocity, "W", isWeight: true, fanIn: n, fanOut: Units, Units, n);
        _b = AddParameter(values, gradients, withVelocity, "b", isWeight: false, fanIn: n, fanOut: Units, Units);
    }

    internal override void Initialize(IComputeBackend backend, WeightInit rule, Random rng)
        => Init.Parameters(backend, Parameters, rule, rng, zeroForChapter6: IsSoftmax);

    private bool NeedsLayoutChange => Input.ChannelMajor && Input.Channels > 1;

    private sealed class State(Tensor output, Tensor? gradOutput, Tensor? flat, Tensor? gradFlat, Tensor? mask, Tensor? masked) : LayerState(output, gradOutput)
    {
        /// <summary>[N, inputs] batch-major copy of a channel-major input.</summary>
        public Tensor? Flat { get; } = flat;
        public Tensor? GradFlat { get; } = gradFlat;
        /// <summary>[N, inputs] dropout mask and the masked input it produced.</summary>
        public Tensor? Mask { get; } = mask;
        public Tensor? Masked { get; } = masked;
    }

    internal override LayerState CreateState(TensorArena arena, int batch, bool training)
    {
        int n = Input.Size;
        string p = $"L{Index}";
        var output = arena.Allocate($"{p}.a", batch, Units);
        var grad = training ? arena.Allocate($"{p}.grad", batch, Units) : null;
        var flat = NeedsLayoutChange ? arena.Allocate($"{p}.flat", batch, n) : null;
        var gradFlat = NeedsLayoutChange && training ? arena.Allocate($"{p}.gradFlat", batch, n) : null;
        var mask = Dropout > 0 && training ? arena.Allocate($"{p}.mask", batch, n) : null;
        var masked = Dropout > 0 && training ? arena.Allocate($"{p}.masked", batch, n) : null;
        return new State(output, grad, flat, gradFlat, mask, masked);
    }

    // Forward, shapes per batch of N:
    //   x [N, n] (batch-major; permuted from [C, N, H*W] when the previous layer is convolutional)
    //   training with dropout: x <- x * mask, mask [N, n] in {0, 1}
    //   z [N, units] = alpha * x W^T + b, alpha = 1 in training, (1 - p) at inference
    //   a = f(z), or softmax(z) for the output layer
    internal override void Forward(IComputeBackend b, LayerState ls, Tensor input, in StepContext step)
    {
        var s = (State)ls;
        int batch = step.Batch, n = Input.Size;
        Tensor x = input;
        if (s.Flat is not null)
        {
            b.ChannelMajorToBatchMajor(input, s.Flat, Input.Channels, batch, Input.Height * Input.Width, inverse: false);
            x = s.Flat;
        }
        float alpha = 1f;
        if (Dropout > 0)
        {
            if (step.Training)
            {
                b.DropoutMask(s.Mask!, batch * n, 1f - Dropout, step.Seed, step.DropoutStream(Index));
                b.Multiply(x, s.Mask!, s.Masked!, batch * n);
                x = s.Masked!;
            }
            else alpha = 1f - Dropout;
        }
        b.Gemm(false, true, batch, Units, n, alpha, x, _w.Value, 0f, s.Output);
        b.BiasActivation(s.Output, _b.Value, s.Output, batch, Units, BiasAxis.PerColumn, Activation);
        if (IsSoftmax) b.Softmax(s.Output, s.Output, batch, Units);
    }

    // Backward: dz [N, units] = da * f'(a) (the output layer receives dz directly)
    //   db [units] = column sums of dz;  dx [N, n] = dz W (* mask);  dW [units, n] = dz^T x,
    //   or with a fused SGD step W <- beta W + alpha dz^T x, after dx has read the old W (both in one pass over W on
    //   the CPU: with AVX-512 for batches of at most 12, with AVX2 of at most 10).
    internal override Parameter? FusedWeight => _w;

    internal override void Backward(IComputeBackend b, LayerState ls, Tensor input, Tensor? gradInput, in StepContext step)
    {
        var s = (State)ls;
        int batch = step.Batch, n = Input.Size;
        var dz = s.GradOutput!;
        if (Cost is null) b.ActivationBackward(s.Output, dz, dz, batch * Units, Activation);
        Tensor x = Dropout > 0 ? s.Masked! : s.Flat ?? input;
        b.BiasGradient(dz, s.Gradients[1], batch, Units, BiasAxis.PerColumn, step.GradientBeta);
        var dx = gradInput is null ? null : s.GradFlat ?? gradInput;
        if (dx is not null && step.WeightUpdate is { } fused) b.DenseBackwardStep(batch, Units, n, fused.Alpha, dz, x, fused.Beta, _w.Value, dx);
        else
        {
            if (dx is not null) b.Gemm(false, false, batch, n, Units, 1f, dz, _w.Value, 0f, dx);   // before the update below changes W
            if (step.WeightUpdate is { } u) b.Gemm(true, false, Units, n, batch, u.Alpha, dz, x, u.Beta, _w.Value);
            else b.Gemm(true, false, Units, n, batch, 1f, dz, x, step.GradientBeta, s.Gradients[0]);
        }
        if (dx is null) return;                                            // no input gradient wanted (gradInput is null)
        if (Dropout > 0) b.Multiply(dx, s.Mask!, dx, batch * n);
        if (s.GradFlat is not null)
            b.ChannelMajorToBatchMajor(s.GradFlat, gradInput!, Input.Channels, batch, Input.Height * Input.Width, inverse: true);
    }
}
