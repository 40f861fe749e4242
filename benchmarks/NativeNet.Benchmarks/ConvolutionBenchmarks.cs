using NativeNet.Core;
using BenchmarkDotNet.Attributes;
using NativeNet.Core.Gemm;
using NativeNet.Core.Kernels;
using NativeNet.Core.Memory;
using NativeNet.Core.Threading;
using NativeNet.Core.Backends;

namespace NativeNet.Benchmarks;

/// <summary>
/// The forward convolution two ways, on the book's two convolutions (conv1: 1 x 28x28 -> 20 maps; conv2: 20 x 12x12 ->
/// 40 maps, 5x5 kernels) for one image and for a mini-batch of 10: im2col then SGEMM, against the direct kernel that
/// inference uses; and inference's convolution plus 2x2 max pooling, as two calls (the pool computing its argmax) against
/// pooling inside the direct kernel's units. One thread, so the comparison is of the kernels, not of the splitting.
/// </summary>
[MemoryDiagnoser]
public unsafe class ConvolutionBenchmarks
{
    [Params("conv1", "conv2")]
    public string Layer { get; set; } = "";

    [Params(1, 10)]
    public int Batch { get; set; }

    private ConvGeometry _g;
    private int _filters;
    private NativeBuffer _input = null!, _weights = null!, _cols = null!, _output = null!, _pooled = null!, _argmax = null!;
    private WorkerPool _pool = null!;

    [GlobalSetup]
    public void Setup()
    {
        (_g, _filters) = Layer == "conv1" ? (new ConvGeometry(1, Batch, 28, 28, 5, 5), 20) : (new ConvGeometry(20, Batch, 12, 12, 5, 5), 40);
        _input = new NativeBuffer(_g.InputLength);
        _weights = new NativeBuffer(_filters * _g.ColRows);
        _cols = new NativeBuffer((long)_g.ColRows * _g.ColCols);
        _output = new NativeBuffer((long)_filters * _g.ColCols);
        _pooled = new NativeBuffer((long)_filters * _g.ColCols / 4);
        _argmax = new NativeBuffer((long)_filters * _g.ColCols / 4);
        var rng = new Random(1);
        foreach (ref float x in _input.Span) x = rng.NextSingle();
        foreach (ref float x in _weights.Span) x = rng.NextSingle() - 0.5f;
        _pool = new WorkerPool(1);
    }

    [Benchmark(Baseline = true)]
    public void Im2ColThenGemm()
    {
        ConvKernels.Im2Col(_input.Span, _cols.Span, _g, _pool, CpuContext.Default);
        Sgemm.MultiplyUnchecked(false, false, _filters, _g.ColCols, _g.ColRows, 1f, _weights.Pointer, _g.ColRows, _cols.Pointer, _g.ColCols, 0f, _output.Pointer, _g.ColCols, _pool);
    }

    [Benchmark]
    public void Direct() => DirectConvolution.Convolve(_input.Span, _weights.Span, _output.Span, _filters, _g, _pool, CpuContext.Default);

    [Benchmark]
    public void DirectThenMaxPool()
    {
        DirectConvolution.Convolve(_input.Span, _weights.Span, _output.Span, _filters, _g, _pool, CpuContext.Default);
        ConvKernels.PoolForward(PoolKind.Max, _output.Span, _pooled.Span, _argmax.Span, new PoolGeometry(_filters * _g.Batch, _g.OutHeight, _g.OutWidth, 2, 2),
            _pool, CpuContext.Default);
    }

    [Benchmark]
    public void DirectMaxPoolInside() => DirectConvolution.ConvolveMaxPool2(_input.Span, _weights.Span, _pooled.Span, _filters, _g, _pool, CpuContext.Default);

    [GlobalCleanup]
    public void Cleanup() { _pool.Dispose(); _input.Dispose(); _weights.Dispose(); _cols.Dispose(); _output.Dispose(); _pooled.Dispose(); _argmax.Dispose(); }
}
