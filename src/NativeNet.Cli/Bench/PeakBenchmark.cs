using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using NativeNet.Core;
using NativeNet.Core.Threading;

namespace NativeNet.Cli.Bench;

/// <summary>
/// The machine's FMA peak as the kernels can reach it: a loop of independent fused multiply-adds on registers (no
/// memory traffic), in the vectors of the CPU level the kernels run at, on 1..N threads of a <see cref="WorkerPool"/>.
/// The yardstick for the GFLOP/s that `bench gemm` and `bench train` report.
/// <para>
/// The number of independent chains is sized to the register file: enough to cover the FMA latency on two pipes
/// (4-5 cycles x 2 = 8-10 FMAs in flight), few enough that the accumulators and the two constants stay in registers:
/// 24 of AVX-512's 32 zmm, 12 of the 16 ymm (or xmm) registers otherwise. More chains than registers spill to the stack
/// and measure the spills, not the FMA units.
/// </para>
/// </summary>
internal static class PeakBenchmark
{
    /// <summary>The width of the vectors the peak is measured in (the level's).</summary>
    public static string VectorWidth => CpuContext.Default.Level switch
    {
        CpuLevel.Avx512 => "512-bit",
        CpuLevel.Avx2 => "256-bit",
        _ => "128-bit",
    };

    /// <summary>Independent accumulator chains: 24 with 32 vector registers, 12 with 16.</summary>
    public static int Chains => CpuContext.Default.Level == CpuLevel.Avx512 ? 24 : 12;

    /// <summary>Floats per vector.</summary>
    public static int Lanes => CpuContext.Default.Level switch { CpuLevel.Avx512 => 16, CpuLevel.Avx2 => 8, _ => 4 };

    /// <summary>
    /// The clock (GHz) a measured peak implies on a core with two FMA pipes (2 x lanes x 2 FLOP a cycle), to compare with
    /// the CPU's boost clock: a figure far from it means the loop did not reach the FMA units' throughput.
    /// </summary>
    public static double ImpliedGhz(double gflopsOneThread) => gflopsOneThread / (2.0 * Lanes * 2);

    /// <summary>GFLOP/s summed over <paramref name="threads"/> threads: the best of five rounds of at least minSeconds/5.</summary>
    public static double Measure(int threads, double minSeconds)
    {
        using var pool = new WorkerPool(threads);
        var work = new FmaWork { Iterations = 1 << 16 };
        pool.Run(ref work, threads);   // warm-up (and tiered compilation)
        double best = 0;
        for (int round = 0; round < 5; round++)
        {
            long calls = 0;
            var clock = Stopwatch.StartNew();
            do { pool.Run(ref work, threads); calls++; } while (clock.Elapsed.TotalSeconds < minSeconds / 5);
            double flops = 2.0 * Chains * Lanes * work.Iterations * calls * threads;
            best = Math.Max(best, flops / clock.Elapsed.TotalSeconds / 1e9);
        }
        return best;
    }

    private struct FmaWork : IParallelWork
    {
        public int Iterations;

        public readonly void Execute(int worker, int workers)
        {
            float sink = CpuContext.Default.Level switch
            {
                CpuLevel.Avx512 => RunChains<Vector512<float>, V512, Chains24>(Iterations),
                CpuLevel.Avx2 => RunChains<Vector256<float>, V256, Chains12>(Iterations),
                _ => RunChains<Vector128<float>, V128, Chains12>(Iterations),
            };
            if (sink == float.MinValue) Console.Write("");   // keeps the result alive; never true
        }
    }

    private interface IChainCount { static abstract int Value { get; } }
    private readonly struct Chains12 : IChainCount { public static int Value => 12; }
    private readonly struct Chains24 : IChainCount { public static int Value => 24; }

    private interface IVectorOps<TVector>
    {
        static abstract TVector Create(float x);
        static abstract TVector Fma(TVector a, TVector b, TVector c);
        static abstract TVector Add(TVector a, TVector b);
        static abstract float First(TVector v);
    }

    private readonly struct V512 : IVectorOps<Vector512<float>>
    {
        public static Vector512<float> Create(float x) => Vector512.Create(x);
        public static Vector512<float> Fma(Vector512<float> a, Vector512<float> b, Vector512<float> c) => Vector512.FusedMultiplyAdd(a, b, c);
        public static Vector512<float> Add(Vector512<float> a, Vector512<float> b) => a + b;
        public static float First(Vector512<float> v) => v.ToScalar();
    }

    private readonly struct V256 : IVectorOps<Vector256<float>>
    {
        public static Vector256<float> Create(float x) => Vector256.Create(x);
        public static Vector256<float> Fma(Vector256<float> a, Vector256<float> b, Vector256<float> c) => Vector256.FusedMultiplyAdd(a, b, c);
        public static Vector256<float> Add(Vector256<float> a, Vector256<float> b) => a + b;
        public static float First(Vector256<float> v) => v.ToScalar();
    }

    private readonly struct V128 : IVectorOps<Vector128<float>>
    {
        public static Vector128<float> Create(float x) => Vector128.Create(x);
        public static Vector128<float> Fma(Vector128<float> a, Vector128<float> b, Vector128<float> c) => Vector128.FusedMultiplyAdd(a, b, c);
        public static Vector128<float> Add(Vector128<float> a, Vector128<float> b) => a + b;
        public static float First(Vector128<float> v) => v.ToScalar();
    }

    /// <summary>
    /// TChains (12 or 24) independent chains x = x * m + a, iterations times; the multiplier keeps the values bounded. The
    /// JIT compiles one copy per vector type and chain count, the unused accumulators removed.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static float RunChains<TVector, TOps, TChains>(int iterations) where TOps : struct, IVectorOps<TVector> where TChains : struct, IChainCount
    {
        bool wide = TChains.Value > 12;
        var m = TOps.Create(0.999f); var a = TOps.Create(0.001f);
        TVector c0 = TOps.Create(1f), c1 = TOps.Create(2f), c2 = TOps.Create(3f), c3 = TOps.Create(4f), c4 = TOps.Create(5f), c5 = TOps.Create(6f);
        TVector c6 = c0, c7 = c1, c8 = c2, c9 = c3, c10 = c4, c11 = c5, c12 = c0, c13 = c1, c14 = c2, c15 = c3, c16 = c4, c17 = c5;
        TVector c18 = c0, c19 = c1, c20 = c2, c21 = c3, c22 = c4, c23 = c5;
        for (int i = 0; i < iterations; i++)
        {
            c0 = TOps.Fma(c0, m, a); c1 = TOps.Fma(c1, m, a); c2 = TOps.Fma(c2, m, a); c3 = TOps.Fma(c3, m, a);
            c4 = TOps.Fma(c4, m, a); c5 = TOps.Fma(c5, m, a); c6 = TOps.Fma(c6, m, a); c7 = TOps.Fma(c7, m, a);
            c8 = TOps.Fma(c8, m, a); c9 = TOps.Fma(c9, m, a); c10 = TOps.Fma(c10, m, a); c11 = TOps.Fma(c11, m, a);
            if (wide)
            {
                c12 = TOps.Fma(c12, m, a); c13 = TOps.Fma(c13, m, a); c14 = TOps.Fma(c14, m, a); c15 = TOps.Fma(c15, m, a);
                c16 = TOps.Fma(c16, m, a); c17 = TOps.Fma(c17, m, a); c18 = TOps.Fma(c18, m, a); c19 = TOps.Fma(c19, m, a);
                c20 = TOps.Fma(c20, m, a); c21 = TOps.Fma(c21, m, a); c22 = TOps.Fma(c22, m, a); c23 = TOps.Fma(c23, m, a);
            }
        }
        var s = TOps.Add(TOps.Add(TOps.Add(c0, c1), TOps.Add(c2, c3)), TOps.Add(TOps.Add(c4, c5), TOps.Add(c6, c7)));
        s = TOps.Add(s, TOps.Add(TOps.Add(c8, c9), TOps.Add(c10, c11)));
        if (wide)
        {
            s = TOps.Add(s, TOps.Add(TOps.Add(c12, c13), TOps.Add(c14, c15)));
            s = TOps.Add(s, TOps.Add(TOps.Add(TOps.Add(c16, c17), TOps.Add(c18, c19)), TOps.Add(TOps.Add(c20, c21), TOps.Add(c22, c23))));
        }
        return TOps.First(s);
    }
}
