using CommunityToolkit.HighPerformance;
using NativeNet.Core.Gemm;
using NativeNet.Core.Kernels;
using NativeNet.Core.Memory;
using NativeNet.Core.Threading;

namespace NativeNet.Core.Backends;

/// <summary>
/// The reference backend: host memory and the SIMD kernels of NativeNet.Core. GEMM and the direct convolution are
/// threaded over a <see cref="WorkerPool"/>, and so are bias + activation and pooling on large tensors (a batch of
/// images in inference), split by rows or planes so each element is computed as on one thread.
/// </summary>
public sealed unsafe class CpuBackend : IComputeBackend
{
    /// <summary>
    /// Bias + activation and pooling over at least this many output floats split over the pool: a worker's wake-up costs
    /// about a microsecond, and these kernels stream a few floats per nanosecond. Inside a split training step the pool
    /// is busy, so they run inline on the slice's worker as before.
    /// </summary>
    public const int ParallelElements = 1 << 16;

    private readonly WorkerPool? _ownedPool;

    /// <param name="threads">Worker threads for GEMM; null uses the shared pool.</param>
    /// <param name="kernel">Forces a GEMM micro-kernel (tests use this to cover every instruction set).</param>
    public CpuBackend(int? threads = null, GemmKernelKind kernel = GemmKernelKind.Auto)
    {
        if (threads is int t) _ownedPool = new WorkerPool(t);
        Kernel = kernel;
    }

    public WorkerPool Pool => _ownedPool ?? WorkerPool.Shared;
    public GemmKernelKind Kernel { get; }

    public string Name => $"cpu ({(Kernel == GemmKernelKind.Auto ? Sgemm.DefaultKernel : Kernel).ToString().ToLowerInvariant()}, {Pool.DegreeOfParallelism} threads)";

    public DeviceBuffer Allocate(int length) => new CpuBuffer(this, length);

    /// <summary>The host view of a CPU tensor's first <paramref name="length"/> elements.</summary>
    public static Span<float> Span(Tensor t, int length)
    {
        if (t.Buffer is not CpuBuffer cb)
            throw new ArgumentException($"Tensor {t} does not live on the CPU backend.", nameof(t));
        if ((uint)length > (uint)t.Length)
            throw new ArgumentException($"Tensor {t} has {t.Length} elements; {length} were asked for.", nameof(length));
        return cb.Native.Slice(t.Offset, length);
    }

    public static Span<float> Span(Tensor t) => Span(t, t.Length);

    /// <summary>The host view of a CPU tensor as a row-major rows x cols matrix.</summary>
    public static Span2D<float> Matrix(Tensor t, int rows, int cols) => Span(t, checked(rows * cols)).AsSpan2D(rows, cols);

    public void Upload(ReadOnlySpan<float> source, Tensor destination, int offset = 0)
        => source.CopyTo(Span(destination).Slice(offset, source.Length));

    public void Download(Tensor source, Span<float> destination, int offset = 0)
        => Span(source).Slice(offset, destination.Length).CopyTo(destination);

    public void Fill(Tensor t, float value, int length) => Span(t, length).Fill(value);

    public void Copy(Tensor source, Tensor destination, int length) => Span(source, length).CopyTo(Span(destination, length));

    public unsafe void Gemm(bool transA, bool transB, int m, int n, int k, float alpha, Tensor a, Tensor b, float beta, Tensor c)
        => Sgemm.Multiply(transA, transB, m, n, k, alpha, Span(a), Math.Max(1, transA ? m : k), Span(b), Math.Max(1, transB ? k : n), beta, Span(c), Math.Max(1, n), Pool, Kernel);

    public void BiasActivation(Tensor z, Tensor bias, Tensor a, int rows, int cols, BiasAxis axis, Activation f)
    {
        var zs = Span(z, rows * cols);
        var bs = Span(bias);
        var s = Span(a, rows * cols);
        if ((long)rows * cols < ParallelElements || rows < 2 || Pool.DegreeOfParallelism == 1)
        {
            Elementwise.BiasActivation(zs, bs, s, rows, cols, axis, f);
            return;
        }
        Elementwise.CheckBiasActivation(zs.Length, bs.Length, s.Length, rows, cols, axis);
        fixed (float* pz = zs, pb = bs, pa = s)
        {
            var work = new BiasActivationRows(pz, pb, pa, rows, cols, axis, f);
            Pool.Run(ref work, Pool.DegreeOfParallelism);
        }
    }

    /// <summary>A contiguous range of rows per worker; the bias follows the rows when it is per row.</summary>
    private readonly struct BiasActivationRows(float* z, float* bias, float* a, int rows, int cols, BiasAxis axis, Activation f) : IParallelWork
    {
        public void Execute(int worker, int workers)
        {
            var (r0, r1) = WorkerPool.Partition(rows, worker, workers);
            if (r0 >= r1) return;
            int n = r1 - r0;
            long start = (long)r0 * cols;
            var b = axis == BiasAxis.PerRow ? new ReadOnlySpan<float>(bias + r0, n) : new ReadOnlySpan<float>(bias, cols);
            Elementwise.BiasActivation(new Span<float>(z + start, n * cols), b, new Span<float>(a + start, n * cols), n, cols, axis, f);
        }
    }

    public void Softmax(Tensor z, Tensor a, int rows, int cols) => Elementwise.Softmax(Span(z, rows * cols), Span(a, rows * cols), rows, cols);

    public void ActivationBackward(Tensor a, Tensor gradA, Tensor gradZ, int length, Activation f)
        => Elementwise.ActivationBackward(f, Span(a, length), Span(gradA, length), Span(gradZ, length));

    public void BiasGradient(Tensor gradZ, Tensor gradBias, int rows, int cols, BiasAxis axis, float beta)
        => Elementwise.BiasGradient(Span(gradZ, rows * cols), Span(gradBias), rows, cols, axis, beta);

    public void OutputDelta(OutputCost cost, Tensor a, Tensor y, Tensor delta, int length)
        => Elementwise.OutputDelta(cost, Span(a, length), Span(y, length), Span(delta, length));

    public double Cost(OutputCost cost, Tensor a, Tensor y, int length) => Elementwise.Cost(cost, Span(a, length), Span(y, length));

    public double Sum(Tensor x, int length, bool squares)
    {
        double s = 0;
        foreach (float v in Span(x, length)) s += squares ? (double)v * v : Math.Abs(v);
        return s;
    }

    public void Multiply(Tensor x, Tensor y, Tensor dst, int length)
        => System.Numerics.Tensors.TensorPrimitives.Multiply(Span(x, length), Span(y, length), Span(dst, length));

    public void Scale(Tensor x, float s, int length)
    {
        var span = Span(x, length);
        System.Numerics.Tensors.TensorPrimitives.Multiply(span, s, span);
    }

    public void DropoutMask(Tensor mask, int length, float keep, ulong seed, ulong stream) => Dropout.Mask(Span(mask, length), keep, seed, stream);

    public void Im2Col(Tensor input, Tensor cols, in ConvGeometry g) => ConvKernels.Im2Col(Span(input), Span(cols), g);

    /// <summary>The AVX-512 direct kernel where it covers the geometry (not when another GEMM kernel is forced).</summary>
    public bool SupportsDirectConvolution(in ConvGeometry g)
        => Kernel is GemmKernelKind.Auto or GemmKernelKind.Avx512 && DirectConvolution.Supports(g);

    public void Convolve(Tensor input, Tensor weights, Tensor output, int filters, in ConvGeometry g)
    {
        if (!SupportsDirectConvolution(g))
            throw new NotSupportedException($"{Name} has no direct convolution kernel for {g}; unfold with Im2Col and multiply.");
        DirectConvolution.Convolve(Span(input), Span(weights), Span(output), filters, g, Pool);
    }

    public void Col2Im(Tensor cols, Tensor gradInput, in ConvGeometry g) => ConvKernels.Col2Im(Span(cols), Span(gradInput), g);

    public void PoolForward(PoolKind kind, Tensor input, Tensor output, Tensor argmax, in PoolGeometry g)
    {
        Span<float> x = Span(input), y = Span(output), at = Span(argmax);
        if (g.OutputLength < ParallelElements || g.Planes < 2 || Pool.DegreeOfParallelism == 1)
        {
            ConvKernels.PoolForward(kind, x, y, at, g);
            return;
        }
        g.Validate();
        ConvKernels.CheckPoolSpans(kind, x.Length, y.Length, at.Length, g);
        fixed (float* px = x, py = y, pat = at)
        {
            var work = new PoolPlanes(kind, px, py, pat, g);
            Pool.Run(ref work, Pool.DegreeOfParallelism);
        }
    }

    /// <summary>A contiguous range of planes per worker (argmax indices are within a plane, so they do not change).</summary>
    private readonly struct PoolPlanes(PoolKind kind, float* input, float* output, float* argmax, PoolGeometry g) : IParallelWork
    {
        public void Execute(int worker, int workers)
        {
            var (p0, p1) = WorkerPool.Partition(g.Planes, worker, workers);
            if (p0 >= p1) return;
            var part = g with { Planes = p1 - p0 };
            int inPlane = g.Height * g.Width, outPlane = g.OutHeight * g.OutWidth;
            ConvKernels.PoolForward(kind, new ReadOnlySpan<float>(input + (long)p0 * inPlane, part.InputLength),
                new Span<float>(output + (long)p0 * outPlane, part.OutputLength),
                kind == PoolKind.Max ? new Span<float>(argmax + (long)p0 * outPlane, part.OutputLength) : default, part);
        }
    }

    public void PoolBackward(PoolKind kind, Tensor input, Tensor output, Tensor argmax, Tensor gradOutput, Tensor gradInput, in PoolGeometry g)
        => ConvKernels.PoolBackward(kind, Span(input), Span(output), Span(argmax), Span(gradOutput), Span(gradInput), g);

    public void ChannelMajorToBatchMajor(Tensor source, Tensor destination, int channels, int batch, int pixels, bool inverse)
        => ConvKernels.ChannelMajorToBatchMajor(Span(source), Span(destination), channels, batch, pixels, inverse);

    public void Update(Tensor w, Tensor grad, Tensor? velocity, int length, in UpdateRule rule)
        => Optimizer.Update(Span(w, length), Span(grad, length), velocity is null ? default : Span(velocity, length), rule);

    public void Synchronize() { }

    public void Dispose() => _ownedPool?.Dispose();

    private sealed class CpuBuffer(CpuBackend backend, int length) : DeviceBuffer
    {
        public NativeBuffer Native { get; } = new(length);
        public override int Length => Native.Length;
        public override IComputeBackend Backend => backend;
        public override void Dispose() => Native.Dispose();
    }
}
