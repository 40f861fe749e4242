using BenchmarkDotNet.Attributes;
using NativeNet.Core.Gemm;
using NativeNet.Core.Memory;
using NativeNet.Core.Threading;

namespace NativeNet.Benchmarks;

/// <summary>
/// A dense layer's backward with the SGD step at a mini-batch of 10: the fused kernel (one pass over W) against the two
/// GEMMs it replaces (dx = dz W, then W = beta W + alpha dz^T x). Each call takes the next of four weight matrices, so W
/// comes from L3 as in a training step, where the other layers have pushed it out of L2.
/// </summary>
[MemoryDiagnoser]
public unsafe class DenseBackwardBenchmarks
{
    private const int Rows = 10, Copies = 4;
    private NativeBuffer _dz = null!, _x = null!, _dx = null!;
    private NativeBuffer[] _w = null!;
    private WorkerPool _pool = null!;
    private int _next;

    /// <summary>units x inputs: ch6-dropout's two fully connected layers.</summary>
    [Params("1000x1000", "1000x640")]
    public string Layer { get; set; } = "";

    [Params(1, 2)]
    public int Threads { get; set; }

    private int _units, _inputs;

    [GlobalSetup]
    public void Setup()
    {
        var d = Layer.Split('x').Select(int.Parse).ToArray();
        (_units, _inputs) = (d[0], d[1]);
        var rng = new Random(1);
        NativeBuffer Filled(long length, float scale)
        {
            var b = new NativeBuffer(length);
            foreach (ref float v in b.Span) v = (float)(rng.NextDouble() - 0.5) * scale;
            return b;
        }
        _dz = Filled(Rows * _units, 1f);
        _x = Filled(Rows * _inputs, 1f);
        _dx = new NativeBuffer(Rows * _inputs);
        _w = Enumerable.Range(0, Copies).Select(_ => Filled((long)_units * _inputs, 0.1f)).ToArray();
        _pool = new WorkerPool(Threads);
    }

    private NativeBuffer NextW() => _w[_next++ % Copies];

    [Benchmark(Baseline = true)]
    public void TwoGemms()
    {
        var w = NextW();
        Sgemm.MultiplyUnchecked(false, false, Rows, _inputs, _units, 1f, _dz.Pointer, _units, w.Pointer, _inputs, 0f, _dx.Pointer, _inputs, _pool);
        Sgemm.MultiplyUnchecked(true, false, _units, _inputs, Rows, -1e-6f, _dz.Pointer, _units, _x.Pointer, _inputs, 1f, w.Pointer, _inputs, _pool);
    }

    [Benchmark]
    public void Fused() => DenseBackward.PropagateAndStep(Rows, _units, _inputs, -1e-6f, _dz.Span, _x.Span, 1f, NextW().Span, _dx.Span, _pool);

    [GlobalCleanup]
    public void Cleanup()
    {
        _pool.Dispose();
        foreach (var b in _w.Append(_dz).Append(_x).Append(_dx)) b.Dispose();
    }
}
