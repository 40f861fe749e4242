using BenchmarkDotNet.Attributes;
using NativeNet.Core.Gemm;
using NativeNet.Core.Memory;
using NativeNet.Core.Threading;

namespace NativeNet.Benchmarks;

/// <summary>SGEMM on representative shapes (M x K x N, row-major), one and two threads. GFLOP/s = 2MNK / time.</summary>
[MemoryDiagnoser]
public unsafe class GemmBenchmarks
{
    private NativeBuffer _a = null!, _b = null!, _c = null!;
    private WorkerPool _pool = null!;

    // A representative subset; `nativenet bench gemm` sweeps the whole default shape list quickly.
    [Params("256x256x256", "2048x2048x2048", "10x784x30", "100x784x100", "40x500x640")]
    public string Shape { get; set; } = "";

    [Params(false, true)]
    public bool TransB { get; set; }

    [Params(1, 2)]
    public int Threads { get; set; }

    private int _m, _k, _n;

    [GlobalSetup]
    public void Setup()
    {
        var d = Shape.Split('x').Select(int.Parse).ToArray();
        (_m, _k, _n) = (d[0], d[1], d[2]);
        _a = new NativeBuffer((long)_m * _k); _b = new NativeBuffer((long)_k * _n); _c = new NativeBuffer((long)_m * _n);
        var rng = new Random(1);
        foreach (ref float x in _a.Span) x = (float)rng.NextDouble();
        foreach (ref float x in _b.Span) x = (float)rng.NextDouble();
        _pool = new WorkerPool(Threads);
    }

    [Benchmark]
    public void Sgemm() => NativeNet.Core.Gemm.Sgemm.MultiplyUnchecked(false, TransB, _m, _n, _k, 1f, _a.Pointer, _k, _b.Pointer, TransB ? _k : _n, 0f, _c.Pointer, _n, _pool);

    [GlobalCleanup]
    public void Cleanup() { _pool.Dispose(); _a.Dispose(); _b.Dispose(); _c.Dispose(); }
}
