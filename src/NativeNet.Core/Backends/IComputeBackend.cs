using NativeNet.Core.Kernels;

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

    DeviceBuffer Allocate(int length);

    /// <summary>Host to backend: dst[offset .. offset + source.Length) = source.</summary>
    void Upload(ReadOnlySpan<float> source, Tensor destination, int offset = 0);

    /// <summary>Backend to host: destination = src[offset .. offset + destination.Length).</summary>
    void Download(Tensor source, Span<float> destination, int offset = 0);

    void Fill(Tensor t, float value, int length);

    void Copy(Tensor source, Tensor destination, int length);

    /// <summary>C[m x n] = alpha op(A) op(B) + beta C; beta == 0 never reads C.</summary>
    void Gemm(bool transA, bool transB, int m, int n, int k, float alpha, Tensor a, Tensor b, float beta, Tensor c);

    /// <summary>
    /// A dense layer's backward through its weights with the SGD step folded in: dx [rows x inputs] = dz [rows x units] W
    /// [units x inputs] with W before the step, then W = beta W + alpha dz^T x (x [rows x inputs]). The default is those two
    /// GEMMs; the CPU backend does both in one pass over W.
    /// </summary>
    void DenseBackwardStep(int rows, int units, int inputs, float alpha, Tensor dz, Tensor x, float beta, Tensor w, Tensor dx)
    {
        Gemm(false, false, rows, inputs, units, 1f, dz, w, 0f, dx);
        Gemm(true, false, units, inputs, rows, alpha, dz, x, beta, w);
    }

    /// <summary>z += bias along <paramref name="axis"/>, then a = f(z) (a may be z).</summary>
    void BiasActivation(Tensor z, Tensor bias, Tensor a, int rows, int cols, BiasAxis axis, Activation f);

    /// <summary>a = softmax of each row of z (a may be z).</summary>
    void Softmax(Tensor z, Tensor a, int rows, int cols);

    /// <summary>gradZ = gradA * f'(z), f' taken from the outputs a; gradZ may be gradA.</summary>
    void ActivationBackward(Tensor a, Tensor gradA, Tensor gradZ, int length, Activation f);

    /// <summary>gradBias = beta gradBias + sums of gradZ along the bias axis.</summary>
    void BiasGradient(Tensor gradZ, Tensor gradBias, int rows, int cols, BiasAxis axis, float beta);

    /// <summary>delta = dC/dz for the output pairing.</summary>
    void OutputDelta(OutputCost cost, Tensor a, Tensor y, Tensor delta, int length);

    /// <summary>Sum of the cost over the first <paramref name="length"/> outputs (a reduction read back to the host).</summary>
    double Cost(OutputCost cost, Tensor a, Tensor y, int length);

    /// <summary>Sum of squares (squares = true) or of absolute values (false) of the first length elements, read back to the host.</summary>
    double Sum(Tensor x, int length, bool squares);

    /// <summary>dst = x * y elementwise (dst may alias either).</summary>
    void Multiply(Tensor x, Tensor y, Tensor dst, int length);

    /// <summary>x *= s.</summary>
    void Scale(Tensor x, float s, int length);

    /// <summary>Counter-based dropout mask: 1 with probability keep, a pure function of (seed, stream, index).</summary>
    void DropoutMask(Tensor mask, int length, float keep, ulong seed, ulong stream);

    void Im2Col(Tensor input, Tensor cols, in ConvGeometry g);

    /// <summary>
    /// Whether <see cref="Convolve"/> has a direct kernel for this geometry. Optional: the default has none, and callers
    /// then unfold with <see cref="Im2Col"/> and multiply.
    /// </summary>
    bool SupportsDirectConvolution(in ConvGeometry g) => false;

    /// <summary>
    /// z [F, N, OH, OW] = weights [F, C*KH*KW] applied to input [C, N, H, W] without unfolding it (no bias, no activation),
    /// for a geometry <see cref="SupportsDirectConvolution"/> accepts.
    /// </summary>
    void Convolve(Tensor input, Tensor weights, Tensor output, int filters, in ConvGeometry g)
        => throw new NotSupportedException($"{Name} has no direct convolution kernel; unfold with Im2Col and multiply.");

    void Col2Im(Tensor cols, Tensor gradInput, in ConvGeometry g);

    void PoolForward(PoolKind kind, Tensor input, Tensor output, Tensor argmax, in PoolGeometry g);

    void PoolBackward(PoolKind kind, Tensor input, Tensor output, Tensor argmax, Tensor gradOutput, Tensor gradInput, in PoolGeometry g);

    /// <summary>[C, N, P] to [N, C*P] (or back, with inverse).</summary>
    void ChannelMajorToBatchMajor(Tensor source, Tensor destination, int channels, int batch, int pixels, bool inverse);

    /// <summary>One optimizer step on w (length elements) with its gradient and, for momentum, velocity.</summary>
    void Update(Tensor w, Tensor grad, Tensor? velocity, int length, in UpdateRule rule);

    /// <summary>Waits until all queued work is done (a no-op on the CPU).</summary>
    void Synchronize();
}
