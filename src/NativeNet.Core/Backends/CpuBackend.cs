using NativeNet.Core.Gemm;
using NativeNet.Core.Kernels;
using NativeNet.Core.Memory;
using NativeNet.Core.Threading;

namespace NativeNet.Core.Backends;

/// <summary>
/// The reference backend: host memory and the SIMD kernels of NativeNet.Core. GEMM, the direct convolution, and bias +
/// activation and pooling on large tensors (a batch of images in inference) are threaded over a <see cref="WorkerPool"/>;
/// each kernel splits its own output, so every element is computed as on one thread.
/// </summary>
public sealed class CpuBackend : IComputeBackend, IPoolingConvolution
{
    private readonly WorkerPool? _ownedPool;
    // A backend for single images runs on a claiming view of another backend's pool, which it does not own.
    private readonly WorkerPool? _view;

    /// <param name="threads">Worker threads for the kernels; null uses the shared pool.</param>
    /// <param name="cpu">The instruction level every kernel runs at; null for <see cref="CpuContext.Default"/> (tests pass each supported level).</param>
    public CpuBackend(int? threads = null, CpuContext? cpu = null)
    {
        if (threads is int t) _ownedPool = new WorkerPool(t);
        Cpu = cpu ?? CpuContext.Default;
    }

    /// <summary>
    /// A backend of the same CPU context with its own pool of <paramref name="threads"/> workers (1: the calling thread
    /// alone). It runs kernels on tensors of this backend too: CPU tensors are host memory whichever backend made them.
    /// </summary>
    /// <param name="threads">Workers of the new pool, the calling thread included.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="threads"/> is below 1 or above 4 x the processor count.</exception>
    public CpuBackend WithThreads(int threads) => new(threads, Cpu);

    /// <summary>
    /// A backend for one image at a time, on a claiming view of this backend's pool (<see cref="WorkerPool.ClaimingView"/>):
    /// the calling thread runs every kernel, and workers that are already running take a share of those big enough to
    /// split. A call is then never slower than on the calling thread alone by more than a few claims, whatever the
    /// scheduler does with the workers, and the results have the same bits.
    /// </summary>
    internal CpuBackend ForSingleImages() => new(Cpu, Pool.ClaimingView());

    private CpuBackend(CpuContext cpu, WorkerPool view)
    {
        Cpu = cpu;
        _view = view;
    }

    /// <summary>The CPU backend that runs <paramref name="backend"/>'s kernels, looking through a profiler; null for a device.</summary>
    internal static CpuBackend? Behind(IComputeBackend? backend) => backend as CpuBackend ?? (backend as ProfilingBackend)?.Inner as CpuBackend;

    /// <summary>The worker pool the kernels split over.</summary>
    internal WorkerPool Pool => _view ?? _ownedPool ?? WorkerPool.Shared;

    /// <summary>The CPU context (instruction level) of every kernel this backend runs.</summary>
    public CpuContext Cpu { get; }

    /// <inheritdoc/>
    public string Name => $"cpu ({CpuContext.Name(Cpu.Level)}, {Pool.DegreeOfParallelism} threads)";

    /// <inheritdoc/>
    public DeviceBuffer Allocate(int length) => new CpuBuffer(this, length);

    /// <summary>The host view of a CPU tensor's first <paramref name="length"/> elements.</summary>
    /// <param name="t">A tensor of a CPU backend.</param>
    /// <param name="length">Elements in the view, at most the tensor's length.</param>
    /// <exception cref="ArgumentException"><paramref name="t"/> does not live on a CPU backend, or <paramref name="length"/> exceeds its length.</exception>
    public static Span<float> Span(Tensor t, int length)
    {
        if (t.Buffer is not CpuBuffer cb)
            throw new ArgumentException($"Tensor {t} does not live on the CPU backend.", nameof(t));
        if ((uint)length > (uint)t.Length)
            throw new ArgumentException($"Tensor {t} has {t.Length} elements; {length} were asked for.", nameof(length));
        return cb.Native.Slice(t.Offset, length);
    }

    /// <summary>The host view of a whole CPU tensor.</summary>
    /// <param name="t">A tensor of a CPU backend.</param>
    /// <exception cref="ArgumentException"><paramref name="t"/> does not live on a CPU backend.</exception>
    public static Span<float> Span(Tensor t) => Span(t, t.Length);

    /// <inheritdoc/>
    public void Upload(ReadOnlySpan<float> source, Tensor destination, int offset = 0)
        => source.CopyTo(Span(destination).Slice(offset, source.Length));

    /// <inheritdoc/>
    public void Download(Tensor source, Span<float> destination, int offset = 0)
        => Span(source).Slice(offset, destination.Length).CopyTo(destination);

    /// <inheritdoc/>
    public void Fill(Tensor t, float value, int length) => Span(t, length).Fill(value);

    /// <inheritdoc/>
    public void Copy(Tensor source, Tensor destination, int length) => Span(source, length).CopyTo(Span(destination, length));

    /// <inheritdoc/>
    public unsafe void Gemm(bool transA, bool transB, int m, int n, int k, float alpha, Tensor a, Tensor b, float beta, Tensor c)
        => Sgemm.Multiply(transA, transB, m, n, k, alpha, Span(a), Math.Max(1, transA ? m : k), Span(b), Math.Max(1, transB ? k : n), beta, Span(c), Math.Max(1, n), Pool, Cpu);

    /// <inheritdoc/>
    public void DenseBackwardStep(int rows, int units, int inputs, float alpha, Tensor dz, Tensor x, float beta, Tensor w, Tensor dx)
        => DenseBackward.PropagateAndStep(rows, units, inputs, alpha, Span(dz), Span(x), beta, Span(w), Span(dx), Pool, Cpu);

    /// <inheritdoc/>
    public void BiasActivation(Tensor z, Tensor bias, Tensor a, int rows, int cols, BiasAxis axis, Activation f)
        => Elementwise.BiasActivation(Span(z, rows * cols), Span(bias), Span(a, rows * cols), rows, cols, axis, f, Pool, Cpu);

    /// <inheritdoc/>
    public void Softmax(Tensor z, Tensor a, int rows, int cols) => Elementwise.Softmax(Span(z, rows * cols), Span(a, rows * cols), rows, cols);

    /// <inheritdoc/>
    public void ActivationBackward(Tensor a, Tensor gradA, Tensor gradZ, int length, Activation f)
        => Elementwise.ActivationBackward(f, Span(a, length), Span(gradA, length), Span(gradZ, length), Cpu);

    /// <inheritdoc/>
    public void BiasGradient(Tensor gradZ, Tensor gradBias, int rows, int cols, BiasAxis axis, float beta)
        => Elementwise.BiasGradient(Span(gradZ, rows * cols), Span(gradBias), rows, cols, axis, beta);

    /// <inheritdoc/>
    public void OutputDelta(OutputCost cost, Tensor a, Tensor y, Tensor delta, int length)
        => Elementwise.OutputDelta(cost, Span(a, length), Span(y, length), Span(delta, length), Cpu);

    /// <inheritdoc/>
    public double Cost(OutputCost cost, Tensor a, Tensor y, int length) => Elementwise.Cost(cost, Span(a, length), Span(y, length));

    /// <inheritdoc/>
    public double Sum(Tensor x, int length, bool squares)
    {
        double s = 0;
        foreach (float v in Span(x, length)) s += squares ? (double)v * v : Math.Abs(v);
        return s;
    }

    /// <inheritdoc/>
    public void Multiply(Tensor x, Tensor y, Tensor dst, int length)
        => System.Numerics.Tensors.TensorPrimitives.Multiply(Span(x, length), Span(y, length), Span(dst, length));

    /// <inheritdoc/>
    public void Scale(Tensor x, float s, int length)
    {
        var span = Span(x, length);
        System.Numerics.Tensors.TensorPrimitives.Multiply(span, s, span);
    }

    /// <inheritdoc/>
    public void DropoutMask(Tensor mask, int length, float keep, ulong seed, ulong stream) => Dropout.Mask(Span(mask, length), keep, seed, stream, Cpu);

    /// <inheritdoc/>
    public void Im2Col(Tensor input, Tensor cols, in ConvGeometry g) => ConvKernels.Im2Col(Span(input), Span(cols), g, Pool, Cpu);

    /// <summary>The direct kernel where this context and the geometry allow it (<see cref="DirectConvolution.Supports"/>).</summary>
    /// <param name="g">The convolution's shape.</param>
    public bool SupportsDirectConvolution(in ConvGeometry g) => DirectConvolution.Supports(g, Cpu);

    /// <inheritdoc/>
    public void Convolve(Tensor input, Tensor weights, Tensor output, int filters, in ConvGeometry g)
    {
        if (!SupportsDirectConvolution(g))
            throw new NotSupportedException($"{Name} has no direct convolution kernel for {g}; unfold with Im2Col and multiply.");
        DirectConvolution.Convolve(Span(input), Span(weights), Span(output), filters, g, Pool, Cpu);
    }

    /// <inheritdoc/>
    public void Col2Im(Tensor cols, Tensor gradInput, in ConvGeometry g) => ConvKernels.Col2Im(Span(cols), Span(gradInput), g, Pool, Cpu);

    /// <inheritdoc/>
    public long ConvolutionGradientScratch(in ConvGeometry g, int filters) => ConvKernels.GradientScratchLength(g, filters, Cpu.Level);

    bool IPoolingConvolution.SupportsConvolveMaxPool2(in ConvGeometry g) => DirectConvolution.SupportsMaxPool2(g, Cpu);

    void IPoolingConvolution.ConvolveMaxPool2(Tensor input, Tensor weights, Tensor pooled, int filters, in ConvGeometry g)
        => DirectConvolution.ConvolveMaxPool2(Span(input), Span(weights), Span(pooled), filters, g, Pool, Cpu);

    /// <inheritdoc/>
    public void ConvolutionWeightGradient(Tensor input, Tensor dz, Tensor cols, Tensor gradWeights, int filters, in ConvGeometry g, float beta)
        => ConvKernels.WeightGradient(Span(input), Span(dz), Span(cols), Span(gradWeights), filters, g, beta, Pool, Cpu);

    /// <inheritdoc/>
    public void ConvolutionInputGradient(Tensor weights, Tensor dz, Tensor gradCols, Tensor gradInput, int filters, in ConvGeometry g)
        => ConvKernels.InputGradient(Span(weights), Span(dz), Span(gradCols), Span(gradInput), filters, g, Pool, Cpu);

    /// <inheritdoc/>
    public void PoolForward(PoolKind kind, Tensor input, Tensor output, Tensor argmax, in PoolGeometry g)
        => ConvKernels.PoolForward(kind, Span(input), Span(output), Span(argmax), g, Pool, Cpu);

    /// <inheritdoc/>
    public void PoolBackward(PoolKind kind, Tensor input, Tensor output, Tensor argmax, Tensor gradOutput, Tensor gradInput, in PoolGeometry g)
        => ConvKernels.PoolBackward(kind, Span(input), Span(output), Span(argmax), Span(gradOutput), Span(gradInput), g, Cpu);

    /// <inheritdoc/>
    public void ChannelMajorToBatchMajor(Tensor source, Tensor destination, int channels, int batch, int pixels, bool inverse)
        => ConvKernels.ChannelMajorToBatchMajor(Span(source), Span(destination), channels, batch, pixels, inverse);

    /// <inheritdoc/>
    public void Update(Tensor w, Tensor grad, Tensor? velocity, int length, in UpdateRule rule)
        => Optimizer.Update(Span(w, length), Span(grad, length), velocity is null ? default : Span(velocity, length), rule, Cpu);

    /// <inheritdoc/>
    public void Synchronize() { }

    /// <summary>Stops the worker threads this backend made (none when it uses the shared pool). Its buffers are disposed by their owners.</summary>
    public void Dispose() => _ownedPool?.Dispose();

    private sealed class CpuBuffer(CpuBackend backend, int length) : DeviceBuffer
    {
        public NativeBuffer Native { get; } = new(length);
        public override int Length => Native.Length;
        public override IComputeBackend Backend => backend;
        public override void Dispose() => Native.Dispose();
    }
}
