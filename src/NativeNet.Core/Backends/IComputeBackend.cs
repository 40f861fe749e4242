
namespace NativeNet.Core.Backends;

/// <summary>
/// The closed set of primitives a network needs. Layers are written once against it; the CPU backend runs
/// the SIMD kernels of NativeNet.Core, the OpenCL backend runs device kernels on device-resident buffers.
/// <para>
/// Contract: every tensor argument is bound and belongs to this backend; matrices are row-major and tight
/// (leading dimension = columns) unless stated; counts (rows, cols, length) may be smaller than a tensor's
/// length, so a tensor sized for a full batch serves a partial one. Only <see cref="Upload"/>,
/// <see cref="Download"/> and the methods returning a number move data to or from the host.
/// Calls on distinct tensors from different threads are safe.
/// </para>
/// </summary>
public interface IComputeBackend : IDisposable
{
    /// <summary>A short name, e.g. "cpu (avx512, 2 threads)" or "opencl: pthread-cpu".</summary>
    string Name { get; }

    /// <summary>A new zero-filled buffer of <paramref name="length"/> floats on this backend; the caller disposes it.</summary>
    /// <param name="length">Capacity in floats (0 or more).</param>
    DeviceBuffer Allocate(int length);

    /// <summary>Host to backend: dst[offset .. offset + source.Length) = source.</summary>
    /// <param name="source">The host values.</param>
    /// <param name="destination">The tensor written.</param>
    /// <param name="offset">First element of <paramref name="destination"/> written.</param>
    void Upload(ReadOnlySpan<float> source, Tensor destination, int offset = 0);

    /// <summary>Backend to host: destination = src[offset .. offset + destination.Length).</summary>
    /// <param name="source">The tensor read.</param>
    /// <param name="destination">The host span filled, all of it.</param>
    /// <param name="offset">First element of <paramref name="source"/> read.</param>
    void Download(Tensor source, Span<float> destination, int offset = 0);

    /// <summary>t[0 .. length) = value.</summary>
    /// <param name="t">The tensor written.</param>
    /// <param name="value">The value every element gets.</param>
    /// <param name="length">Elements written from the start.</param>
    void Fill(Tensor t, float value, int length);

    /// <summary>destination[0 .. length) = source[0 .. length); overlapping regions of one buffer copy as memmove does.</summary>
    /// <param name="source">The tensor read.</param>
    /// <param name="destination">The tensor written.</param>
    /// <param name="length">Elements copied from the start of each.</param>
    void Copy(Tensor source, Tensor destination, int length);

    /// <summary>C[m x n] = alpha op(A) op(B) + beta C; beta == 0 never reads C.</summary>
    /// <param name="transA">op(A) = A^T: A is stored [k x m] instead of [m x k].</param>
    /// <param name="transB">op(B) = B^T: B is stored [n x k] instead of [k x n].</param>
    /// <param name="m">Rows of op(A) and C.</param>
    /// <param name="n">Columns of op(B) and C.</param>
    /// <param name="k">Columns of op(A), rows of op(B).</param>
    /// <param name="alpha">Scale of the product.</param>
    /// <param name="a">A, row-major.</param>
    /// <param name="b">B, row-major.</param>
    /// <param name="beta">Scale of the C already there (0: C is overwritten).</param>
    /// <param name="c">C [m x n], row-major.</param>
    void Gemm(bool transA, bool transB, int m, int n, int k, float alpha, Tensor a, Tensor b, float beta, Tensor c);

    /// <summary>
    /// A dense layer's backward through its weights with the SGD step folded in: dx [rows x inputs] = dz [rows x units] W
    /// [units x inputs] with W before the step, then W = beta W + alpha dz^T x (x [rows x inputs]). The default is those two
    /// GEMMs; the CPU backend does both in one pass over W.
    /// </summary>
    /// <param name="rows">Examples in the batch.</param>
    /// <param name="units">Outputs of the layer (rows of W).</param>
    /// <param name="inputs">Inputs of the layer (columns of W).</param>
    /// <param name="alpha">Scale of the weight gradient dz^T x (minus the learning rate over the batch size for SGD).</param>
    /// <param name="dz">The layer's output error [rows x units].</param>
    /// <param name="x">The layer's input [rows x inputs].</param>
    /// <param name="beta">Scale of W before the gradient is added (the L2 weight decay factor, 1 without it).</param>
    /// <param name="w">The weights [units x inputs], updated in place.</param>
    /// <param name="dx">The error propagated to the input [rows x inputs] (overwritten).</param>
    void DenseBackwardStep(int rows, int units, int inputs, float alpha, Tensor dz, Tensor x, float beta, Tensor w, Tensor dx)
    {
        Gemm(false, false, rows, inputs, units, 1f, dz, w, 0f, dx);
        Gemm(true, false, units, inputs, rows, alpha, dz, x, beta, w);
    }

    /// <summary>z += bias along <paramref name="axis"/>, then a = f(z) (a may be z).</summary>
    /// <param name="z">The weighted inputs [rows x cols], biased in place.</param>
    /// <param name="bias">The bias: cols values for <see cref="BiasAxis.PerColumn"/>, rows for <see cref="BiasAxis.PerRow"/>.</param>
    /// <param name="a">The activations [rows x cols].</param>
    /// <param name="rows">Rows of z and a.</param>
    /// <param name="cols">Columns of z and a.</param>
    /// <param name="axis">Which axis the bias runs along.</param>
    /// <param name="f">The activation function.</param>
    void BiasActivation(Tensor z, Tensor bias, Tensor a, int rows, int cols, BiasAxis axis, Activation f);

    /// <summary>a = softmax of each row of z (a may be z).</summary>
    /// <param name="z">The weighted inputs [rows x cols].</param>
    /// <param name="a">The outputs [rows x cols]; each row sums to 1.</param>
    /// <param name="rows">Rows (examples).</param>
    /// <param name="cols">Columns (classes).</param>
    void Softmax(Tensor z, Tensor a, int rows, int cols);

    /// <summary>gradZ = gradA * f'(z), f' taken from the outputs a; gradZ may be gradA.</summary>
    /// <param name="a">The activations f(z) of the forward pass.</param>
    /// <param name="gradA">The cost's gradient with respect to a.</param>
    /// <param name="gradZ">The cost's gradient with respect to z (written).</param>
    /// <param name="length">Elements of each tensor used.</param>
    /// <param name="f">The activation function of the forward pass.</param>
    void ActivationBackward(Tensor a, Tensor gradA, Tensor gradZ, int length, Activation f);

    /// <summary>gradBias = beta gradBias + sums of gradZ along the bias axis.</summary>
    /// <param name="gradZ">The error [rows x cols].</param>
    /// <param name="gradBias">The bias gradient: cols values for <see cref="BiasAxis.PerColumn"/>, rows for <see cref="BiasAxis.PerRow"/>.</param>
    /// <param name="rows">Rows of gradZ.</param>
    /// <param name="cols">Columns of gradZ.</param>
    /// <param name="axis">Which axis the bias runs along.</param>
    /// <param name="beta">Scale of the gradient already there (0: overwritten).</param>
    void BiasGradient(Tensor gradZ, Tensor gradBias, int rows, int cols, BiasAxis axis, float beta);

    /// <summary>delta = dC/dz for the output pairing.</summary>
    /// <param name="cost">The pairing of output activation and cost.</param>
    /// <param name="a">The network's outputs.</param>
    /// <param name="y">The targets (one-hot for classification).</param>
    /// <param name="delta">The output error (written).</param>
    /// <param name="length">Elements of each tensor used (examples times outputs).</param>
    void OutputDelta(OutputCost cost, Tensor a, Tensor y, Tensor delta, int length);

    /// <summary>Sum of the cost over the first <paramref name="length"/> outputs (a reduction read back to the host).</summary>
    /// <param name="cost">The pairing of output activation and cost.</param>
    /// <param name="a">The network's outputs.</param>
    /// <param name="y">The targets.</param>
    /// <param name="length">Elements of each tensor summed over (examples times outputs).</param>
    double Cost(OutputCost cost, Tensor a, Tensor y, int length);

    /// <summary>Sum of squares (squares = true) or of absolute values (false) of the first length elements, read back to the host.</summary>
    /// <param name="x">The tensor read.</param>
    /// <param name="length">Elements summed from the start.</param>
    /// <param name="squares">True for the sum of squares, false for the sum of absolute values.</param>
    double Sum(Tensor x, int length, bool squares);

    /// <summary>dst = x * y elementwise (dst may alias either).</summary>
    /// <param name="x">The first factor.</param>
    /// <param name="y">The second factor.</param>
    /// <param name="dst">The product (written).</param>
    /// <param name="length">Elements of each tensor used.</param>
    void Multiply(Tensor x, Tensor y, Tensor dst, int length);

    /// <summary>x *= s.</summary>
    /// <param name="x">The tensor scaled in place.</param>
    /// <param name="s">The factor.</param>
    /// <param name="length">Elements scaled from the start.</param>
    void Scale(Tensor x, float s, int length);

    /// <summary>Counter-based dropout mask: 1 with probability keep, a pure function of (seed, stream, index).</summary>
    /// <param name="mask">The mask (written with 0 and 1).</param>
    /// <param name="length">Elements written from the start.</param>
    /// <param name="keep">Probability of a 1, in (0, 1].</param>
    /// <param name="seed">The run's seed.</param>
    /// <param name="stream">Which mask of the run (e.g. the step and layer), so masks differ between calls.</param>
    void DropoutMask(Tensor mask, int length, float keep, ulong seed, ulong stream);

    /// <summary>
    /// Unfolds input [C, N, H, W] into cols [C*KH*KW, N*OH*OW]: row (c, kh, kw), column (n, oh, ow) holds
    /// input[c, n, oh*stride - pad + kh, ow*stride - pad + kw], or 0 outside the image.
    /// </summary>
    /// <param name="input">The images, channel-major [C, N, H, W].</param>
    /// <param name="cols">The unfolded matrix [<see cref="ConvGeometry.ColRows"/> x <see cref="ConvGeometry.ColCols"/>] (written).</param>
    /// <param name="g">The convolution's shape.</param>
    void Im2Col(Tensor input, Tensor cols, in ConvGeometry g);

    /// <summary>
    /// Whether <see cref="Convolve"/> has a direct kernel for this geometry. Optional: the default has none, and callers
    /// then unfold with <see cref="Im2Col"/> and multiply.
    /// </summary>
    /// <param name="g">The convolution's shape.</param>
    bool SupportsDirectConvolution(in ConvGeometry g) => false;

    /// <summary>
    /// z [F, N, OH, OW] = weights [F, C*KH*KW] applied to input [C, N, H, W] without unfolding it (no bias, no activation),
    /// for a geometry <see cref="SupportsDirectConvolution"/> accepts.
    /// </summary>
    /// <param name="input">The images, channel-major [C, N, H, W].</param>
    /// <param name="weights">The filters [F, C*KH*KW], row-major.</param>
    /// <param name="output">The feature maps [F, N, OH, OW] (written).</param>
    /// <param name="filters">F, the number of filters.</param>
    /// <param name="g">The convolution's shape.</param>
    /// <exception cref="NotSupportedException">The backend has no direct kernel for <paramref name="g"/>.</exception>
    void Convolve(Tensor input, Tensor weights, Tensor output, int filters, in ConvGeometry g)
        => throw new NotSupportedException($"{Name} has no direct convolution kernel; unfold with Im2Col and multiply.");

    /// <summary>
    /// The adjoint of <see cref="Im2Col"/>: gradInput [C, N, H, W] = the sum of the cols entries onto the pixels they
    /// came from (overwrites gradInput).
    /// </summary>
    /// <param name="cols">The gradient of the unfolded matrix [<see cref="ConvGeometry.ColRows"/> x <see cref="ConvGeometry.ColCols"/>].</param>
    /// <param name="gradInput">The gradient of the images [C, N, H, W] (written).</param>
    /// <param name="g">The convolution's shape.</param>
    void Col2Im(Tensor cols, Tensor gradInput, in ConvGeometry g);

    /// <summary>
    /// Floats of scratch <see cref="ConvolutionWeightGradient"/> and <see cref="ConvolutionInputGradient"/> need for
    /// <paramref name="g"/>: the whole unfolded batch, C*KH*KW x N*OH*OW, by default; a chunk of it on the CPU, or none
    /// where both gradients read the images directly. It must never shrink as g's batch grows: a layer sizes the scratch
    /// once for its largest batch and uses it for every smaller one.
    /// </summary>
    /// <param name="g">The convolution's shape.</param>
    /// <param name="filters">F, the number of filters.</param>
    long ConvolutionGradientScratch(in ConvGeometry g, int filters) => (long)g.ColRows * g.ColCols;

    /// <summary>
    /// A convolution's weight gradient from its input: gradWeights [F, C*KH*KW] = beta gradWeights + dz [F, N*OH*OW] x
    /// im2col(input)^T. The default unfolds the whole batch into <paramref name="cols"/> and multiplies; the CPU backend
    /// unfolds and multiplies a few images at a time, so the unfolded copy stays in cache.
    /// </summary>
    /// <param name="input">The images, channel-major [C, N, H, W].</param>
    /// <param name="dz">The error at the convolution's output [F, N*OH*OW].</param>
    /// <param name="cols">Scratch of at least <see cref="ConvolutionGradientScratch"/> floats (overwritten).</param>
    /// <param name="gradWeights">The weight gradient [F, C*KH*KW] (written).</param>
    /// <param name="filters">F, the number of filters.</param>
    /// <param name="g">The convolution's shape.</param>
    /// <param name="beta">0 overwrites <paramref name="gradWeights"/> (never reading it); 1 adds to it (a batch's gradient summed over passes).</param>
    void ConvolutionWeightGradient(Tensor input, Tensor dz, Tensor cols, Tensor gradWeights, int filters, in ConvGeometry g, float beta)
    {
        Im2Col(input, cols, g);
        Gemm(false, true, filters, g.ColRows, g.ColCols, 1f, dz, cols, beta, gradWeights);
    }

    /// <summary>
    /// A convolution's input gradient: gradInput [C, N, H, W] = col2im(weights^T x dz) (overwritten). The default
    /// multiplies into <paramref name="gradCols"/> for the whole batch and folds; the CPU backend does both a few images at
    /// a time.
    /// </summary>
    /// <param name="weights">The filters [F, C*KH*KW].</param>
    /// <param name="dz">The error at the convolution's output [F, N*OH*OW].</param>
    /// <param name="gradCols">Scratch of at least <see cref="ConvolutionGradientScratch"/> floats (overwritten).</param>
    /// <param name="gradInput">The gradient of the images [C, N, H, W] (written).</param>
    /// <param name="filters">F, the number of filters.</param>
    /// <param name="g">The convolution's shape.</param>
    void ConvolutionInputGradient(Tensor weights, Tensor dz, Tensor gradCols, Tensor gradInput, int filters, in ConvGeometry g)
    {
        Gemm(true, false, g.ColRows, g.ColCols, filters, 1f, weights, dz, 0f, gradCols);
        Col2Im(gradCols, gradInput, g);
    }

    /// <summary>
    /// Pools each window of input [Planes, H, W] into output [Planes, OH, OW]. Max pooling also writes, into argmax, the
    /// in-plane index of each window's maximum (first on ties) as a float; other kinds leave argmax untouched.
    /// </summary>
    /// <param name="kind">How a window becomes one value.</param>
    /// <param name="input">The planes [Planes, H, W].</param>
    /// <param name="output">The pooled planes [Planes, OH, OW] (written).</param>
    /// <param name="argmax">For <see cref="PoolKind.Max"/>, the index of each maximum [Planes, OH, OW] (written).</param>
    /// <param name="g">The pooling's shape.</param>
    void PoolForward(PoolKind kind, Tensor input, Tensor output, Tensor argmax, in PoolGeometry g);

    /// <summary>
    /// gradInput [Planes, H, W] from gradOutput [Planes, OH, OW] (overwrites). Max routes each gradient to its argmax;
    /// average spreads it evenly over the window; L2 scales it by input / output (0 where the output is 0).
    /// </summary>
    /// <param name="kind">The pooling of the forward pass.</param>
    /// <param name="input">The forward pass's input [Planes, H, W].</param>
    /// <param name="output">The forward pass's output [Planes, OH, OW].</param>
    /// <param name="argmax">The forward pass's argmax (max pooling).</param>
    /// <param name="gradOutput">The gradient with respect to the output [Planes, OH, OW].</param>
    /// <param name="gradInput">The gradient with respect to the input [Planes, H, W] (written).</param>
    /// <param name="g">The pooling's shape.</param>
    void PoolBackward(PoolKind kind, Tensor input, Tensor output, Tensor argmax, Tensor gradOutput, Tensor gradInput, in PoolGeometry g);

    /// <summary>[C, N, P] to [N, C*P] (or back, with inverse): dst[n, c*P + p] = src[c, n, p].</summary>
    /// <param name="source">The tensor read: [C, N, P], or [N, C*P] with <paramref name="inverse"/>.</param>
    /// <param name="destination">The tensor written, in the other layout.</param>
    /// <param name="channels">C, the feature maps.</param>
    /// <param name="batch">N, the examples.</param>
    /// <param name="pixels">P, the pixels of one map.</param>
    /// <param name="inverse">Go from [N, C*P] back to [C, N, P].</param>
    void ChannelMajorToBatchMajor(Tensor source, Tensor destination, int channels, int batch, int pixels, bool inverse);

    /// <summary>One optimizer step on w (length elements) with its gradient and, for momentum, velocity.</summary>
    /// <param name="w">The parameters, updated in place.</param>
    /// <param name="grad">Their gradient (summed over the batch; <see cref="UpdateRule.GradientScale"/> scales it).</param>
    /// <param name="velocity">The momentum velocity, updated in place; null when <see cref="UpdateRule.UsesVelocity"/> is false.</param>
    /// <param name="length">Elements of each tensor used.</param>
    /// <param name="rule">Learning rate, regularization and momentum of the step.</param>
    void Update(Tensor w, Tensor grad, Tensor? velocity, int length, in UpdateRule rule);

    /// <summary>Waits until all queued work is done (a no-op on the CPU).</summary>
    void Synchronize();
}
