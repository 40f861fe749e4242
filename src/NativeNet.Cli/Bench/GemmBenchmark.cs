using NativeNet.Core;
using System.Diagnostics;
using NativeNet.Core.Backends;
using NativeNet.Core.Gemm;
using NativeNet.Core.Memory;
using NativeNet.Core.Threading;

namespace NativeNet.Cli.Bench;

/// <summary>A GEMM problem: op(A) is M x K, op(B) is K x N, row-major.</summary>
internal readonly record struct GemmShape(int M, int K, int N, bool TransA, bool TransB);

/// <summary>One measured GEMM shape. Shapes are M x K x N with row-major storage.</summary>
internal sealed record GemmResult(int M, int N, int K, bool TransA, bool TransB, int Threads, string Kernel,
    double Gflops, double? OpenBlasGflops, long AllocatedBytesPerCall);

/// <summary>
/// Times SGEMM per shape: warm up, then repeat until at least <c>minSeconds</c> have passed and take
/// the best of several such rounds (the machine is shared and noisy; the best round is the least disturbed).
/// </summary>
internal static unsafe class GemmBenchmark
{
    /// <summary>The default shape list (M, K, N): squares and the book's network shapes.</summary>
    public static readonly (int M, int K, int N)[] DefaultShapes =
    [
        (64, 64, 64), (128, 128, 128), (256, 256, 256), (512, 512, 512), (1024, 1024, 1024), (2048, 2048, 2048),
        (10, 784, 30), (10, 30, 10), (100, 784, 100), (10, 640, 100), (40, 500, 640), (20, 25, 5760),
    ];

    /// <summary>
    /// Parses a shape list such as <c>40x500x320:NT,1024x1024x1024</c>: M x K x N with an optional op
    /// (NN, NT, TN or TT; NN when left out). Returns null and an error message on bad input.
    /// </summary>
    public static List<GemmShape>? ParseShapes(string text, out string? error)
    {
        var shapes = new List<GemmShape>();
        foreach (var item in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var parts = item.Split(':');
            var dims = parts[0].Split('x');
            string op = parts.Length == 2 ? parts[1].ToUpperInvariant() : "NN";
            if (parts.Length > 2 || dims.Length != 3 || op is not ("NN" or "NT" or "TN" or "TT")
                || !int.TryParse(dims[0], out int m) || !int.TryParse(dims[1], out int k) || !int.TryParse(dims[2], out int n)
                || m < 1 || k < 1 || n < 1 || (long)m * k > 1 << 26 || (long)k * n > 1 << 26 || (long)m * n > 1 << 26)
            {
                error = $"'{item}' is not a shape: expected MxKxN[:NN|NT|TN|TT] with positive sizes and each matrix under 2^26 elements.";
                return null;
            }
            shapes.Add(new GemmShape(m, k, n, op[0] == 'T', op[1] == 'T'));
        }
        error = shapes.Count == 0 ? "--shapes lists no shape." : null;
        return shapes.Count == 0 ? null : shapes;
    }

    public static IEnumerable<GemmResult> Run(IEnumerable<GemmShape> shapes, int threads, bool compareOpenBlas, double minSeconds = 0.2)
    {
        using var pool = new WorkerPool(threads);
        if (compareOpenBlas) OpenBlas.SetThreads(threads);
        var list = shapes.ToList();
        WarmUp(list, pool);
        foreach (var shape in list)
            yield return Measure(shape, threads, pool, compareOpenBlas, minSeconds);
    }

    /// <summary>
    /// Tiered compilation starts every method unoptimized and recompiles hot ones in the background after about 100 ms
    /// of use: the shapes are cycled for 1.5 s first, so each GEMM path (packed, unpacked, each edge kernel) is optimized
    /// before the first timed round, whichever shape comes first.
    /// </summary>
    private static void WarmUp(List<GemmShape> shapes, WorkerPool pool)
    {
        // At most 2^22 multiply-adds per warm-up call: a small version of each shape with the same transposes and edges.
        var buffers = shapes.Select(s =>
        {
            int m = Math.Min(s.M, 96), n = Math.Min(s.N, 200), k = Math.Min(s.K, 200);
            return (Shape: s with { M = m, N = n, K = k }, A: Fill(m * k, 1), B: Fill(k * n, 2), C: new NativeBuffer((long)m * n));
        }).ToList();
        try
        {
            for (var clock = Stopwatch.StartNew(); clock.Elapsed.TotalSeconds < 1.5;)
                foreach (var (s, a, b, c) in buffers)
                    Sgemm.MultiplyUnchecked(s.TransA, s.TransB, s.M, s.N, s.K, 1f, a.Pointer, s.TransA ? s.M : s.K, b.Pointer,
                        s.TransB ? s.K : s.N, 0f, c.Pointer, s.N, pool);
        }
        finally
        {
            foreach (var (_, a, b, c) in buffers) { a.Dispose(); b.Dispose(); c.Dispose(); }
        }
    }

    private static GemmResult Measure(GemmShape shape, int threads, WorkerPool pool, bool compareOpenBlas, double minSeconds)
    {
        var (m, k, n, ta, tb) = shape;
        using var a = Fill(m * k, 1);
        using var b = Fill(k * n, 2);
        using var c = new NativeBuffer((long)m * n);
        // Row-major storage: op(A) is m x k, so A itself is k x m when transposed (and likewise for B).
        int lda = ta ? m : k, ldb = tb ? k : n;
        float* pa = a.Pointer, pb = b.Pointer, pc = c.Pointer;
        double flops = 2.0 * m * n * k;
        double ours = Time(() => Sgemm.MultiplyUnchecked(ta, tb, m, n, k, 1f, pa, lda, pb, ldb, 0f, pc, n, pool), flops, minSeconds);
        long before = GC.GetAllocatedBytesForCurrentThread();
        Sgemm.MultiplyUnchecked(ta, tb, m, n, k, 1f, pa, lda, pb, ldb, 0f, pc, n, pool);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        double? blas = compareOpenBlas
            ? Time(() => OpenBlas.Sgemm(ta, tb, m, n, k, 1f, pa, lda, pb, ldb, 0f, pc, n), flops, minSeconds)
            : null;
        return new GemmResult(m, n, k, ta, tb, threads, CpuContext.Name(CpuContext.Default.Level), ours, blas, allocated);
    }

    /// <summary>
    /// The same shapes through a backend's Gemm on its own tensors (an OpenCL device, say): each timed round enqueues
    /// calls back to back and ends with Synchronize, so the figure is device time plus launch overhead, no transfers.
    /// </summary>
    public static IEnumerable<GemmResult> RunOnBackend(IComputeBackend backend, IEnumerable<GemmShape> shapes, double minSeconds = 0.2)
    {
        foreach (var (m, k, n, ta, tb) in shapes)
        {
            using var arena = new TensorArena(backend);
            var a = arena.Allocate("A", ta ? k : m, ta ? m : k);
            var b = arena.Allocate("B", tb ? n : k, tb ? k : n);
            var c = arena.Allocate("C", m, n);
            arena.Commit();
            var rng = new Random(1);
            backend.Upload(Enumerable.Range(0, a.Length).Select(_ => rng.NextSingle() - 0.5f).ToArray(), a);
            backend.Upload(Enumerable.Range(0, b.Length).Select(_ => rng.NextSingle() - 0.5f).ToArray(), b);
            double gflops = Time(() => backend.Gemm(ta, tb, m, n, k, 1f, a, b, 0f, c), backend.Synchronize, 2.0 * m * n * k, minSeconds);
            yield return new GemmResult(m, n, k, ta, tb, 0, backend.Name, gflops, null, 0);
        }
    }

    private static NativeBuffer Fill(int length, int seed)
    {
        var buf = new NativeBuffer(length);
        var rng = new Random(seed);
        foreach (ref float x in buf.Span) x = (float)rng.NextDouble() - 0.5f;
        return buf;
    }

    private static double Time(Action call, double flops, double minSeconds) => Time(call, static () => { }, flops, minSeconds);

    /// <summary>
    /// GFLOP/s of the best of five rounds, each at least minSeconds/5 long and ending with <paramref name="finish"/>
    /// (called after every 16 calls too, so a device queue stays short). The clock is read once per batch of calls
    /// lasting about <see cref="BatchSeconds"/>: read after every call, it added about 25 ns to each, 15% of a
    /// 10 x 30 x 10 product. The batch is sized on calls that each end with <paramref name="finish"/>, so a device's
    /// calls are counted at their device time, not at the time it takes to enqueue them.
    /// </summary>
    private static double Time(Action call, Action finish, double flops, double minSeconds)
    {
        for (int i = 0; i < 3; i++) call();
        finish();
        var probe = Stopwatch.StartNew();
        long batch = 0;
        do { call(); finish(); batch++; } while (probe.Elapsed.TotalSeconds < BatchSeconds);
        double best = double.MaxValue;
        for (int round = 0; round < 5; round++)
        {
            long reps = 0;
            var sw = Stopwatch.StartNew();
            do
            {
                for (long i = 0; i < batch; i++)
                {
                    call();
                    if (++reps % 16 == 0) finish();
                }
            } while (sw.Elapsed.TotalSeconds < minSeconds / 5);
            finish();
            best = Math.Min(best, sw.Elapsed.TotalSeconds / reps);
        }
        return flops / best / 1e9;
    }

    /// <summary>Seconds of calls between two reads of the clock (see <see cref="Time(Action, Action, double, double)"/>).</summary>
    private const double BatchSeconds = 20e-6;
}
