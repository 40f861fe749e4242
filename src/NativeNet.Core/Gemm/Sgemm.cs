using System.Runtime.CompilerServices;
using System.Numerics.Tensors;
using CommunityToolkit.HighPerformance;
using NativeNet.Core.Threading;

namespace NativeNet.Core.Gemm;

/// <summary>
/// Single-precision GEMM on row-major matrices: <c>C[m x n] = alpha * op(A)[m x k] * op(B)[k x n] + beta * C</c>, where
/// op(X) is X or its transpose. Storage: A is m x k (lda &gt;= k) or, transposed, k x m (lda &gt;= m); B is k x n
/// (ldb &gt;= n) or, transposed, n x k (ldb &gt;= k); C is m x n (ldc &gt;= n). When beta is 0, C is only written (it may
/// hold NaN). Shapes are written M x K x N throughout (<see cref="GemmConfig"/>).
/// <para>
/// This file is the driver: it validates, then picks one of three paths by the shape and the CPU context's
/// configuration (<see cref="GemmConfig"/>): the unpacked path for small products (<see cref="UnpackedGemm"/>), k split
/// in two for a few rows against a large B (<see cref="SplitDepth"/>), or the BLIS five loops over packed panels and a
/// register-blocked micro-kernel (<see cref="PackedGemm"/>, <see cref="MicroKernels"/>). Parallel runs split C into
/// disjoint column or row ranges, one per worker; every element of C is computed by the same sequence of operations
/// whatever the worker count, so results are bit-identical across thread counts.
/// </para>
/// </summary>
internal static unsafe class Sgemm
{
    /// <summary>
    /// C = alpha op(A) op(B) + beta C on spans, every dimension, leading dimension and length checked first
    /// (<see cref="ArgumentException"/> naming the shapes). Runs on <paramref name="pool"/> (the shared pool when null) at
    /// the level of <paramref name="cpu"/> (<see cref="CpuContext.Default"/> when null).
    /// </summary>
    public static void Multiply(bool transA, bool transB, int m, int n, int k, float alpha,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, float beta, Span<float> c, int ldc,
        WorkerPool? pool = null, CpuContext? cpu = null)
    {
        Validate(transA, transB, m, n, k, a.Length, lda, b.Length, ldb, c.Length, ldc);
        fixed (float* pa = a, pb = b, pc = c)
            MultiplyUnchecked(transA, transB, m, n, k, alpha, pa, lda, pb, ldb, beta, pc, ldc, pool, cpu);
    }

    /// <summary>
    /// The same product on strided 2-D views (CommunityToolkit.HighPerformance): m x n is C's shape, the leading
    /// dimension of each operand is its width plus pitch. Views into larger matrices multiply in place.
    /// </summary>
    public static void Multiply(bool transA, bool transB, ReadOnlySpan2D<float> a, ReadOnlySpan2D<float> b, Span2D<float> c,
        float alpha = 1f, float beta = 0f, WorkerPool? pool = null, CpuContext? cpu = null)
    {
        int m = c.Height, n = c.Width, k = transA ? a.Height : a.Width;
        int aRows = transA ? k : m, bRows = transB ? n : k, bCols = transB ? k : n;
        if (a.Height != aRows || b.Height != bRows || b.Width != bCols)
            throw new ArgumentException($"GEMM views disagree: op(A) is {(transA ? a.Width : a.Height)} x {k}, op(B) is {(transB ? b.Width : b.Height)} x {(transB ? b.Height : b.Width)}, C is {m} x {n}.");
        if (m == 0 || n == 0) return;
        int lda = RowStride(a), ldb = RowStride(b), ldc = RowStride(c);
        fixed (float* pa = &a.DangerousGetReference(), pb = &b.DangerousGetReference(), pc = &c.DangerousGetReference())
            MultiplyUnchecked(transA, transB, m, n, k, alpha, pa, lda, pb, ldb, beta, pc, ldc, pool, cpu);
    }

    /// <summary>Floats from one row of a view to the next (its width when it has a single row).</summary>
    private static int RowStride(ReadOnlySpan2D<float> v) => v.Height > 1
        ? (int)(Unsafe.ByteOffset(ref Unsafe.AsRef(in v.DangerousGetReference()), ref Unsafe.AsRef(in v.DangerousGetReferenceAt(1, 0))) / sizeof(float))
        : Math.Max(1, v.Width);

    /// <summary>Checks every dimension, leading dimension and length; throws <see cref="ArgumentException"/> naming the shapes.</summary>
    public static void Validate(bool transA, bool transB, int m, int n, int k, long aLength, int lda, long bLength, int ldb, long cLength, int ldc)
    {
        if (m < 0 || n < 0 || k < 0)
            throw new ArgumentException($"GEMM dimensions must be non-negative: m={m}, n={n}, k={k}.");
        Check("A", transA ? k : m, transA ? m : k, aLength, lda, transA ? "k x m" : "m x k");
        Check("B", transB ? n : k, transB ? k : n, bLength, ldb, transB ? "n x k" : "k x n");
        Check("C", m, n, cLength, ldc, "m x n");

        static void Check(string name, int rows, int cols, long length, int ld, string shape)
        {
            if (ld < Math.Max(1, cols))
                throw new ArgumentException($"GEMM: leading dimension of {name} is {ld}, but {name} is {shape} = {rows} x {cols}, so it must be at least {Math.Max(1, cols)}.", "ld" + name.ToLowerInvariant());
            long need = rows == 0 || cols == 0 ? 0 : (long)(rows - 1) * ld + cols;
            if (length < need)
                throw new ArgumentException($"GEMM: {name} is {shape} = {rows} x {cols} with leading dimension {ld} and needs {need} elements, but its span has {length}.", name.ToLowerInvariant());
        }
    }

    /// <summary>The same product on raw pointers; the caller has validated the shapes (see <see cref="Validate"/>).</summary>
    public static void MultiplyUnchecked(bool transA, bool transB, int m, int n, int k, float alpha,
        float* a, int lda, float* b, int ldb, float beta, float* c, int ldc, WorkerPool? pool = null, CpuContext? cpu = null)
    {
        if (m == 0 || n == 0) return;
        if (k == 0 || alpha == 0f)
        {
            ScaleC(m, n, beta, c, ldc);
            return;
        }
        cpu ??= CpuContext.Default;
        pool ??= WorkerPool.Shared;
        var config = cpu.Gemm;
        var op = new Operands(transA, transB, a, lda, b, ldb, c, ldc, alpha, beta, cpu.Level);
        int workers = (long)m * n * k < pool.ParallelThreshold ? 1 : pool.DegreeOfParallelism;
        if (UnpackedGemm.Pays(op, config, m, n, k))
            UnpackedGemm.Multiply(op, m, n, k, workers, pool);
        else if (SplitDepth.Applies(op, m, n, k, config))
            SplitDepth.Multiply(op, m, n, k, config, workers, pool);
        else
        {
            var work = new PackedGemm(op, m, n, k, config, workers);
            pool.Run(ref work, work.Workers);   // one worker runs inline
        }
    }

    private static void ScaleC(int m, int n, float beta, float* c, int ldc)
    {
        for (int i = 0; i < m; i++)
        {
            var row = new Span<float>(c + (long)i * ldc, n);
            if (beta == 0f) row.Clear();
            else if (beta != 1f) TensorPrimitives.Multiply(row, beta, row);
        }
    }
}
