using System.Diagnostics;
using System.Numerics.Tensors;
using CommunityToolkit.HighPerformance;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using NativeNet.Core.Memory;
using NativeNet.Core.Threading;

namespace NativeNet.Core.Gemm;

/// <summary>
/// Single-precision GEMM on row-major matrices:
/// <c>C[m x n] = alpha * op(A)[m x k] * op(B)[k x n] + beta * C</c>, where op(X) is X or its transpose.
/// Storage: A is m x k (lda >= k) or, transposed, k x m (lda >= m); B is k x n (ldb >= n) or, transposed,
/// n x k (ldb >= k); C is m x n (ldc >= n). When beta == 0, C is only written (it may hold NaN).
/// <para>
/// Large shapes take the BLIS path: the five loops over NC / KC / MC blocks with packed panels of A and
/// B feeding a register-blocked micro-kernel (<see cref="GemmKernelKind"/>). Small shapes, single-row products, NN and
/// TN products with a small B, and NT products with few rows take a direct path where packing would cost more than it
/// saves (<see cref="UnpackedPays"/>).
/// Parallel runs split C into disjoint column or row ranges, one per worker; products with few rows and a large B
/// also split k in two halves fixed by the shape. Every element of C is computed by the same sequence of operations
/// whatever the worker count, so results are bit-identical across thread counts.
/// </para>
/// </summary>
public static unsafe class Sgemm
{
    /// <summary>
    /// Below this many multiply-adds (2^18, about 1.5 µs of one core's arithmetic) a product runs on one thread: splitting
    /// it costs more in the pool's hand-off and in cache lines moving between cores than it saves. A training step of ch1
    /// (10 x 784 x 30 and its transposes, 235,200 each) is that case: at 100,000 its epoch took 0.086-0.091 s against
    /// 0.059-0.064. From 2^18 the split pays, on its own and inside a step (2026-12-04, 2^18 against the earlier 2^20, 4-5
    /// alternating runs): `nativenet bench gemm --threads 2` 64³ 158 -> 199 GFLOP/s median, 80³ 152 -> 231, 10 x 640 x 100
    /// NT 146 -> 226; `nativenet bench train` epochs of ch3-ce-100 (10 x 784 x 100) 0.139-0.144 -> 0.122-0.131 s, ch1
    /// 0.057-0.061 -> 0.059-0.061, ch6-conv1 1.95-2.25 -> 1.98-2.79 (median 2.19 -> 2.06).
    /// </summary>
    public const long ParallelThreshold = 1L << 18;

    /// <summary>
    /// Products with one row, or with at most this many multiply-adds, skip packing. Up to <see cref="VectorDirectThreshold"/>
    /// when the direct path is vectorized (B's rows contiguous, or A's rows and B's columns contiguous: every transpose but
    /// TT); up to this when it is plain loops (TT).
    /// </summary>
    public const long DirectThreshold = 1L << 11;

    /// <summary>
    /// See <see cref="DirectThreshold"/>. At 10 x 30 x 10 (the book's 10-output layer at batch 10, k = 30) packing and the
    /// scratch edge tile cost more than the product: `taskset -c 0 nativenet bench gemm --threads 1` went 7.1-7.7 -> 14.0-21.2
    /// GFLOP/s on NN, NT and TN, 20 x 20 x 20 NN 12-19 -> 35-37 and 12 x 40 x 16 NN 13-18 -> 50 (two alternating pairs,
    /// 02:38 UTC on 2026-11-28; TT, still packed above 2,048, unchanged).
    /// </summary>
    public const long VectorDirectThreshold = 1L << 13;

    /// <summary>
    /// A worker's slice of C with at most this many rows reads row-contiguous B in place instead of packing it. 128, not
    /// 96, since edge panels are read in place too: 100 x 784 x 100 NN 106-108 -> 116-120 GFLOP/s and 100 x 30 x 784 NN
    /// 131-135 -> 144-148 on one thread; 250 x 500 x 1000 (125 rows a worker on two threads) 0.5-6% slower.
    /// </summary>
    public const int InPlaceRows = 128;

    /// <summary>
    /// NN and TN products with at most this many columns (and at most <see cref="InPlaceRows"/> rows, B of at most
    /// <see cref="DirectMaxB"/> floats) run unpacked, in register blocks of rows of C (<see cref="RowCombinations{TStore}"/>),
    /// A and B read where they lie, on AVX-512 and on AVX2 with FMA. A packed panel of A would be reused by only a few
    /// column tiles. Measured on AVX-512 when the blocks were all twelve rows, best of 7 alternating runs of `nativenet
    /// bench gemm` (2026-12-04, the Intel VM slow and noisy), packed -> unpacked, GFLOP/s: one thread 64 x 64 x 64 117 ->
    /// 137, 128³ 124 -> 139, 100 x 784 x 100 104 -> 118, 10 x 784 x 30 68 -> 95, 10 x 640 x 100 93 -> 117; two threads
    /// 100 x 784 x 100 142 -> 197 (TN 132 -> 176), while 200 x 500 x 100 and 1000 x 784 x 100 were 0.88x (hence the row
    /// limit). On AVX2 (`DOTNET_EnableAVX512=0`, the Zen 4 VM, best of 3 alternating runs, one thread): 64³ 87.7 -> 113.7,
    /// 128³ 93.4 -> 111.0, 100 x 784 x 100 79.9 -> 96.2, 10 x 640 x 100 59.7 -> 95.7, 10 x 784 x 30 45.7 -> 75.2.
    /// </summary>
    public const int DirectMaxColumns = 128;

    /// <summary>See <see cref="DirectMaxColumns"/>: 512 KiB, so B stays in L2 while the blocks of rows pass over it.</summary>
    public const long DirectMaxB = 1L << 17;


    /// <summary>
    /// Depth of the k blocks when B is read in place. A panel walks down B one row (one page, for a 1000-wide matrix) per
    /// step of k; in blocks of 64 rows the panels side by side cover those rows left to right, an order the prefetchers
    /// follow, and B is read close to the L3 bandwidth. With the usual 256-row blocks a mini-batch times a layer's weights
    /// (10 x 1000 x 1000, B from L3) ran at 41 GFLOP/s on one thread, at 64 rows 65-73; with B in L2 (10 x 500 x 128)
    /// 64 rows cost nothing, 16 rows a third (the C tile is reloaded every block).
    /// </summary>
    public const int InPlaceKC = 64;

    /// <summary>
    /// NT products (A's rows and B's columns contiguous along k, k >= 32) with at most this many rows of C run as unpacked
    /// dot products on AVX-512 and on AVX2 with FMA (32 rows with neither, where the dot products are not
    /// register-blocked). Measured with `nativenet bench gemm` on 40 x K x 500 NT for K = 320..2560 (a convolution's weight
    /// gradient) and on 64..96 x 784 x 100; on AVX2 (the Zen 4 VM, best of 3 alternating runs, one thread, packed -> dot
    /// products) 100 x 784 x 100 82.3 -> 104.4, 128 x 784 x 128 93.9 -> 104.4, 100 x 256 x 100 83.6 -> 90.4, 40 x 500 x 640
    /// 91.5 -> 93.8.
    /// </summary>
    public const int DirectNtMaxRows = 64;

    /// <summary>
    /// NT products with k of at least <see cref="DirectNtLongMinDepth"/> and A of at most <see cref="DirectNtLongMaxA"/>
    /// floats (512 KiB, L2) run as dot products up to this many rows. Best of 3 alternating runs of `nativenet bench gemm`
    /// (2026-12-04), packed -> dot products, GFLOP/s on one thread: 100 x 784 x 100 133 -> 193, 100 x 512 x 100 132 -> 179,
    /// 100 x 256 x 100 134 -> 151, 128 x 784 x 128 178 -> 193; on two 203 -> 359, 205 -> 331, 209 -> 268, 295 -> 380.
    /// With k = 128 (100 x 128 x 100) the dot products were slower, 135 -> 114; with A over L2 (256 x 2048 x 256) 181 -> 98.
    /// </summary>
    public const int DirectNtLongMaxRows = 128;
    private const int DirectNtLongMinDepth = 256;
    private const long DirectNtLongMaxA = 1L << 17;

    /// <summary>The micro-kernel that <see cref="GemmKernelKind.Auto"/> resolves to on this machine.</summary>
    public static GemmKernelKind DefaultKernel => GemmKernel.DefaultKind;

    /// <summary>Whether this CPU (and the DOTNET_Enable* settings) can run <paramref name="kind"/>.</summary>
    public static bool IsSupported(GemmKernelKind kind) => GemmKernel.IsSupported(kind);

    public static void Multiply(bool transA, bool transB, int m, int n, int k, float alpha,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, float beta, Span<float> c, int ldc,
        WorkerPool? pool = null, GemmKernelKind kernel = GemmKernelKind.Auto)
    {
        Validate(transA, transB, m, n, k, a.Length, lda, b.Length, ldb, c.Length, ldc);
        fixed (float* pa = a, pb = b, pc = c)
            MultiplyUnchecked(transA, transB, m, n, k, alpha, pa, lda, pb, ldb, beta, pc, ldc, pool, kernel);
    }

    /// <summary>
    /// The same product on strided 2-D views (CommunityToolkit.HighPerformance): m x n is C's shape, the leading
    /// dimension of each operand is its width plus pitch. Views into larger matrices multiply in place.
    /// </summary>
    public static void Multiply(bool transA, bool transB, ReadOnlySpan2D<float> a, ReadOnlySpan2D<float> b, Span2D<float> c,
        float alpha = 1f, float beta = 0f, WorkerPool? pool = null, GemmKernelKind kernel = GemmKernelKind.Auto)
    {
        int m = c.Height, n = c.Width, k = transA ? a.Height : a.Width;
        int aRows = transA ? k : m, bRows = transB ? n : k, bCols = transB ? k : n;
        if (a.Height != aRows || b.Height != bRows || b.Width != bCols)
            throw new ArgumentException($"GEMM views disagree: op(A) is {(transA ? a.Width : a.Height)} x {k}, op(B) is {(transB ? b.Width : b.Height)} x {(transB ? b.Height : b.Width)}, C is {m} x {n}.");
        if (m == 0 || n == 0) return;
        int lda = RowStride(a), ldb = RowStride(b), ldc = RowStride(c);
        fixed (float* pa = &a.DangerousGetReference(), pb = &b.DangerousGetReference(), pc = &c.DangerousGetReference())
            MultiplyUnchecked(transA, transB, m, n, k, alpha, pa, lda, pb, ldb, beta, pc, ldc, pool, kernel);
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
        float* a, int lda, float* b, int ldb, float beta, float* c, int ldc,
        WorkerPool? pool = null, GemmKernelKind kernel = GemmKernelKind.Auto)
    {
        if (m == 0 || n == 0) return;
        if (k == 0 || alpha == 0f)
        {
            ScaleC(m, n, beta, c, ldc);
            return;
        }
        var op = new Operands(transA, transB, a, lda, b, ldb, c, ldc, alpha, beta);
        long macs = (long)m * n * k;
        pool ??= WorkerPool.Shared;
        int workers = macs < ParallelThreshold ? 1 : pool.DegreeOfParallelism;
        if (kernel != GemmKernelKind.Scalar && UnpackedPays(op, m, n, k))
        {
            // One worker owns all of C: straight to the blocks, without the work item (about 17 ns; a 10 x 30 x 10 product
            // takes about 100).
            if (workers == 1) Direct(op, m, 0, n, k);
            else
            {
                var direct = new DirectWork(op, m, n, k);
                pool.Run(ref direct, workers);
            }
            return;
        }
        var gk = GemmKernel.For(kernel);
        if (SplitsDepth(op, m, n, k))
        {
            MultiplySplitDepth(op, m, n, k, gk, workers, pool);
            return;
        }
        var work = new PackedWork(op, m, n, k, gk, workers);
        if (work.Workers == 1) work.Execute(0, 1);
        else pool.Run(ref work, work.Workers);
    }

    /// <summary>
    /// Whether a product splits k in two: few rows of C, B read in place and large (a mini-batch times a layer's weights,
    /// 10 x 1000 x 1000). Split along n, each of two workers would read every row of B half at a time, an order the
    /// prefetchers follow badly; split along k, each reads whole rows of its half of B, as one thread does alone.
    /// </summary>
    private static bool SplitsDepth(in Operands op, int m, int n, int k)
        => m <= SplitDepthMaxRows && ReadsBInPlace(op, m) && k >= 4 * InPlaceKC && (long)k * n >= SplitDepthMinB;

    /// <summary>
    /// Whether the packed path reads B in place for a slice of C with this many rows (see <see cref="InPlaceRows"/>).
    /// B's row length does not matter: in 64-row k blocks (<see cref="InPlaceKC"/>) a panel touches at most 64 pages per
    /// block, and packing rows over 1024 floats apart instead (a limit from before those blocks) measured 1.1-2x slower:
    /// 20 x 25 x 5760 NN 95 -> 120-135 GFLOP/s, 10 x 1000 x 2048 NN 43 -> 83 on one thread, 1.1-1.7x on two.
    /// </summary>
    private static bool ReadsBInPlace(in Operands op, int rows) => op.BCol == 1 && rows <= InPlaceRows;

    /// <summary>
    /// B's size (floats) from which <see cref="SplitsDepth"/> applies: 1 MiB, where B stops staying in L2 between calls. And
    /// the most rows of C: with more, each element of B feeds enough FMAs that the product is bound by arithmetic, not by
    /// reading B, and the split only adds the partial sum (40 x 500 x 640 NN, a convolution: 160-183 -> 113-146 GFLOP/s).
    /// </summary>
    private const long SplitDepthMinB = 1 << 18;
    private const int SplitDepthMaxRows = 16;

    /// <summary>
    /// C = (alpha * A[:, :h] B[:h, :] + beta * C) + alpha * A[:, h:] B[h:, :], the second product in scratch, then added. The
    /// halves are the same for any worker count (one worker does both, in turn), so the bits are too; half the workers
    /// take each half, splitting it as <see cref="PackedWork"/> does.
    /// </summary>
    private static void MultiplySplitDepth(in Operands op, int m, int n, int k, GemmKernel gk, int workers, WorkerPool pool)
    {
        int h = (k / 2 + InPlaceKC - 1) / InPlaceKC * InPlaceKC;   // whole k blocks in the first half
        float* partial = ThreadScratch.C(m * n);
        var split = new SplitDepthWork(
            new PackedWork(op, m, n, h, gk, Math.Max(1, workers / 2)),
            new PackedWork(op.FromDepth(h).WithC(partial, n, 0f), m, n, k - h, gk, Math.Max(1, workers - workers / 2)));
        if (workers == 1) split.Execute(0, 1);
        else pool.Run(ref split, workers);
        for (int i = 0; i < m; i++)
        {
            var row = new Span<float>(op.C + (long)i * op.Ldc, n);
            TensorPrimitives.Add(row, new ReadOnlySpan<float>(partial + (long)i * n, n), row);
        }
    }

    /// <summary>Workers [0, W/2) run the first half's product, the others the second; one worker runs both.</summary>
    private readonly struct SplitDepthWork(PackedWork first, PackedWork second) : IParallelWork
    {
        private readonly PackedWork _first = first, _second = second;

        public void Execute(int worker, int workers)
        {
            if (workers == 1)
            {
                _first.Execute(0, 1);
                _second.Execute(0, 1);
                return;
            }
            int firstWorkers = workers / 2;
            if (worker < firstWorkers) _first.Execute(worker, firstWorkers);
            else _second.Execute(worker - firstWorkers, workers - firstWorkers);
        }
    }

    /// <summary>A(i,p), B(p,j), C(i,j) as base pointers plus row/column strides.</summary>
    private readonly struct Operands
    {
        public readonly float* A, B, C;
        public readonly int ARow, ACol;   // A(i,p) = A[i*ARow + p*ACol]
        public readonly int BRow, BCol;   // B(p,j) = B[p*BRow + j*BCol]
        public readonly int Ldc;
        public readonly float Alpha, Beta;

        public Operands(bool transA, bool transB, float* a, int lda, float* b, int ldb, float* c, int ldc, float alpha, float beta)
            : this(a, transA ? 1 : lda, transA ? lda : 1, b, transB ? 1 : ldb, transB ? ldb : 1, c, ldc, alpha, beta) { }

        private Operands(float* a, int aRow, int aCol, float* b, int bRow, int bCol, float* c, int ldc, float alpha, float beta)
        {
            A = a; ARow = aRow; ACol = aCol; B = b; BRow = bRow; BCol = bCol; C = c; Ldc = ldc; Alpha = alpha; Beta = beta;
        }

        /// <summary>The product over the columns p0.. of op(A) and rows p0.. of op(B).</summary>
        public Operands FromDepth(int p0) => new(A + (long)p0 * ACol, ARow, ACol, B + (long)p0 * BRow, BRow, BCol, C, Ldc, Alpha, Beta);

        /// <summary>The same product into another C.</summary>
        public Operands WithC(float* c, int ldc, float beta) => new(A, ARow, ACol, B, BRow, BCol, c, ldc, Alpha, beta);

        /// <summary>The same product restricted to rows i0.. of op(A) and C.</summary>
        public Operands FromRow(int i0) => new(A + (long)i0 * ARow, ARow, ACol, B, BRow, BCol, C + (long)i0 * Ldc, Ldc, Alpha, Beta);

        /// <summary>The same product with A's rows (contiguous along k) read from a, aRow floats apart.</summary>
        public Operands WithA(float* a, int aRow) => new(a, aRow, ACol, B, BRow, BCol, C, Ldc, Alpha, Beta);
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

    /// <summary>
    /// Whether AVX2 and FMA are there for the unpacked paths' AVX2 register blocks (<see cref="RowBlock256"/>,
    /// <see cref="DotProductBlock256"/>). Every use sits after the AVX-512 test, so they run only without AVX-512.
    /// </summary>
    private static bool HasAvx2Blocks => Vector256.IsHardwareAccelerated && Fma.IsSupported;

    /// <summary>
    /// Whether a product is better done without packing: when packing would touch as much memory as the product
    /// itself does arithmetic. That is the case for a single row, for a small inner dimension (the packed panels
    /// would be reused only k times), and for the NT products of a mini-batch (few rows of A, rows of A and B both
    /// contiguous along k).
    /// </summary>
    private static bool UnpackedPays(in Operands op, int m, int n, int k)
    {
        long macs = (long)m * n * k;
        bool vectorized = op.BCol == 1 || (op.ACol == 1 && op.BRow == 1);
        if (m == 1 || macs <= (vectorized ? VectorDirectThreshold : DirectThreshold)) return true;
        if (op.BCol == 1 && k <= 16) return true;
        // A small B, read from L1 or L2 by every block of rows: the packed path would spend on packing A what it
        // saves (see DirectMaxColumns).
        if (op.BCol == 1 && (Vector512.IsHardwareAccelerated || HasAvx2Blocks) && m <= InPlaceRows && n <= DirectMaxColumns && (long)k * n <= DirectMaxB)
            return true;
        // NT with few rows: each group of six rows of B is read once and meets every row of A in L1 or L2, cheaper
        // than transposing both operands into panels (a convolution's weight gradient, 40 x 320 x 500: about 1.3x). Up to
        // twice as many rows when k is long enough to amortize the dot products' reductions and A stays in L2 (see
        // DirectNtLongMaxRows).
        if (op.ACol != 1 || op.BRow != 1 || k < 32) return false;
        if (!Vector512.IsHardwareAccelerated && !HasAvx2Blocks) return m <= 32;
        return m <= DirectNtMaxRows || (m <= DirectNtLongMaxRows && k >= DirectNtLongMinDepth && (long)m * k <= DirectNtLongMaxA);
    }

    /// <summary>
    /// The unpacked path, split over columns of C (each worker owns a contiguous range of j) or, for the register blocks of
    /// <see cref="RowCombinations{TStore}"/> on a tall C, over its rows in whole blocks of four: a layer's weight update
    /// (1000 x 10 x 1000 TN, C the weights) then streams whole rows of C per worker instead of half rows, measured 1.3-1.4x
    /// on two threads. Either way each element of C sees the same operations whatever the worker count.
    /// </summary>
    private readonly struct DirectWork(Operands op, int m, int n, int k) : IParallelWork
    {
        private readonly Operands _op = op;

        public void Execute(int worker, int workers)
        {
            if (_op.BCol == 1 && m >= 8 * workers)
            {
                var (i0, i1) = WorkerPool.Partition(m, worker, workers, grain: 4);
                if (i0 < i1) Direct(_op.FromRow(i0), i1 - i0, 0, n, k);
                return;
            }
            // Dot products go in groups of six columns: a grain of 6 keeps the groups of one worker's range where they
            // are on one thread, and splits a narrow C evenly (a convolution's weight gradient, 20 x 25 x 5760: 2,880
            // columns each).
            var (j0, j1) = WorkerPool.Partition(n, worker, workers, grain: _op.BCol == 1 ? 16 : DotColumns);
            if (j0 < j1) Direct(in _op, m, j0, j1, k);
        }
    }

    /// <summary>The unpacked product over columns [j0, j1), its stores compiled for the <see cref="IStoreMode"/> that alpha and beta call for.</summary>
    /// <remarks>
    /// The mode is chosen here once per call: at k = 64 a block's 24 stores took about 5% of its time when each one
    /// multiplied by alpha and tested beta (which the JIT reloaded and compared per vector, since a store to C might alias
    /// it). Best of 5-6 alternating runs of `nativenet bench gemm --threads 1` (2026-12-04), GFLOP/s: register blocks
    /// (<see cref="RowCombinations{TStore}"/>) 64 x 64 x 64 161.3 -> 168.9, 64 x 32 x 64 151.0 -> 163.8, 128³ 167.7 ->
    /// 171.0, 100 x 784 x 100, 10 x 640 x 100 and 10 x 784 x 30 level; dot products (<see cref="DotProducts{TStore}"/>)
    /// 10 x 640 x 100 NT 146.6 -> 149.1, 10 x 784 x 30 145.7 -> 147.5, 40 x 500 x 640 126.8 -> 128.9, 100 x 784 x 100
    /// 157.3 -> 159.7, 10 x 30 x 10 22.6 -> 24.1.
    /// </remarks>
    private static void Direct(in Operands op, int m, int j0, int j1, int k)
    {
        if (op.Beta != 0f) Direct<StoreUpdate>(op, m, j0, j1, k);
        else if (op.Alpha != 1f) Direct<StoreScaledSums>(op, m, j0, j1, k);
        else Direct<StoreSums>(op, m, j0, j1, k);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Direct<TStore>(in Operands op, int m, int j0, int j1, int k) where TStore : struct, IStoreMode
    {
        if (op.BCol == 1) RowCombinations<TStore>(op, m, j0, j1, k);
        else if (op.ACol == 1 && op.BRow == 1) DotProducts<TStore>(op, m, j0, j1, k);
        else
        {
            for (int i = 0; i < m; i++)
                for (int j = j0; j < j1; j++)
                {
                    float sum = 0f;
                    for (int p = 0; p < k; p++)
                        sum = MathF.FusedMultiplyAdd(op.A[(long)i * op.ARow + (long)p * op.ACol], op.B[(long)p * op.BRow + (long)j * op.BCol], sum);
                    Store(op, op.C + (long)i * op.Ldc + j, sum);
                }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(in Operands op, float* c, float sum) => *c = op.Beta == 0f ? op.Alpha * sum : op.Alpha * sum + op.Beta * *c;

    /// <summary>
    /// B's rows contiguous: blocks of C are accumulated in registers over all k rows of B, then written once, A and B read
    /// where they lie. On AVX-512, whole 64-column stripes go in blocks of six rows (<see cref="WideRowBlock"/>: 24
    /// accumulators fed by 10 loads a step); the up to 63 columns left over in blocks of twelve rows and 32 columns
    /// (<see cref="RowBlock"/>: 24 accumulators, 14 loads), then 16, the last one masked. Rows left over (m mod 6, m mod 12)
    /// make one block of that many rows. With AVX2 and FMA but not AVX-512, blocks of six rows and 16 or 8 columns
    /// (<see cref="RowBlock256"/>); with neither, each row goes through <see cref="RowCombination"/>.
    /// The wide blocks measured 1.04-1.19x the twelve-row ones (best of 4 alternating runs of `nativenet bench gemm`, one
    /// thread, 2026-12-04): 64 x 64 x 64 137 -> 161 GFLOP/s, 128³ 143 -> 167, 100 x 784 x 100 121 -> 126.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RowCombinations<TStore>(in Operands op, int m, int j0, int j1, int k) where TStore : struct, IStoreMode
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            int wide = j0 + (j1 - j0) / 64 * 64;
            if (wide > j0)
            {
                for (; i <= m - 6; i += 6) WideRowBlocks<Rows6, TStore>(op, i, j0, wide, k);
                switch (m - i)
                {
                    case 1: WideRowBlocks<Rows1, TStore>(op, i, j0, wide, k); break;
                    case 2: WideRowBlocks<Rows2, TStore>(op, i, j0, wide, k); break;
                    case 3: WideRowBlocks<Rows3, TStore>(op, i, j0, wide, k); break;
                    case 4: WideRowBlocks<Rows4, TStore>(op, i, j0, wide, k); break;
                    case 5: WideRowBlocks<Rows5, TStore>(op, i, j0, wide, k); break;
                }
                if (wide == j1) return;
                i = 0;
                j0 = wide;
            }
            for (; i <= m - 12; i += 12) RowBlocks<Rows12, TStore>(op, i, j0, j1, k);
            switch (m - i)
            {
                case 2: RowBlocks<Rows2, TStore>(op, i, j0, j1, k); return;
                case 3: RowBlocks<Rows3, TStore>(op, i, j0, j1, k); return;
                case 4: RowBlocks<Rows4, TStore>(op, i, j0, j1, k); return;
                case 5: RowBlocks<Rows5, TStore>(op, i, j0, j1, k); return;
                case 6: RowBlocks<Rows6, TStore>(op, i, j0, j1, k); return;
                case 7: RowBlocks<Rows7, TStore>(op, i, j0, j1, k); return;
                case 8: RowBlocks<Rows8, TStore>(op, i, j0, j1, k); return;
                case 9: RowBlocks<Rows9, TStore>(op, i, j0, j1, k); return;
                case 10: RowBlocks<Rows10, TStore>(op, i, j0, j1, k); return;
                case 11: RowBlocks<Rows11, TStore>(op, i, j0, j1, k); return;
            }
        }
        else if (HasAvx2Blocks)
        {
            for (; i <= m - 6; i += 6) RowBlocks256<Rows6, TStore>(op, i, j0, j1, k);
            switch (m - i)
            {
                case 1: RowBlocks256<Rows1, TStore>(op, i, j0, j1, k); break;
                case 2: RowBlocks256<Rows2, TStore>(op, i, j0, j1, k); break;
                case 3: RowBlocks256<Rows3, TStore>(op, i, j0, j1, k); break;
                case 4: RowBlocks256<Rows4, TStore>(op, i, j0, j1, k); break;
                case 5: RowBlocks256<Rows5, TStore>(op, i, j0, j1, k); break;
            }
            return;
        }
        for (; i < m; i++) RowCombination<TStore>(op, i, j0, j1, k);
    }

    /// <summary>Rows i..i+TRows (at most 6) of C, columns [j0, j1): whole blocks of 16 columns, then of 8 (the last one masked).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void RowBlocks256<TRows, TStore>(in Operands op, int i, int j0, int j1, int k)
        where TRows : struct, IStaticCount where TStore : struct, IStoreMode
    {
        int j = j0;
        for (; j <= j1 - 16; j += 16) RowBlock256<TRows, Vectors2, TStore>(op, i, j, k, 8);
        for (; j < j1; j += 8) RowBlock256<TRows, Vectors1, TStore>(op, i, j, k, Math.Min(8, j1 - j));
    }

    /// <summary>
    /// <see cref="RowBlock"/> for AVX2 and FMA: C[i..i+TRows, j..j+8*TVectors) for TRows &lt;= 6, a whole 16-column block
    /// (TVectors 2: 12 accumulators, 2 loads of B and 6 broadcasts of A a step, as the packed 6 x 16 kernel) or 8 columns
    /// limited to the first <paramref name="lastColumns"/> (TVectors 1), B's vector loaded whole while
    /// <see cref="WholeLoadRows"/> allows, masked (vmaskmovps) after, and C written through the mask. Accumulators cR0 and
    /// cR1: row R's first and second 8 columns. A's rows at a0 and a3 plus (R mod 3) rows.
    /// Best of 3 alternating runs of `DOTNET_EnableAVX512=0 nativenet bench gemm --threads 1` on the Zen 4 VM (2026-12-04),
    /// one row at a time (<see cref="RowCombination"/>, one accumulator per 8 columns, waiting on the FMA latency) -> these
    /// blocks, GFLOP/s: 10 x 30 x 10 8.9 -> 29.1, 10 x 16 x 100 21.8 -> 83.6, 1 x 784 x 30 6.2 -> 18.2; the packed shapes
    /// level.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RowBlock256<TRows, TVectors, TStore>(in Operands op, int i, int j, int k, int lastColumns)
        where TRows : struct, IStaticCount where TVectors : struct, IStaticCount where TStore : struct, IStoreMode
    {
        bool two = TVectors.Value == 2;
        var mask = LeadingLanes256(lastColumns);
        int whole = WholeLoadRows(k, op.BRow, Vector256<float>.Count - lastColumns);
        long s = op.ARow, step = op.ACol;
        float* a0 = op.A + i * s, a3 = a0 + 3 * s;
        Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector256<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        float* bp = op.B + j;
        long ldb = op.BRow;
        for (int p = 0; p < k; p++, a0 += step, a3 += step, bp += ldb)
        {
            var b0 = two || p < whole ? Vector256.Load(bp) : Avx.MaskLoad(bp, mask);
            var b1 = two ? Vector256.Load(bp + 8) : default;
            { c00 = Vector256.FusedMultiplyAdd(Vector256.Create(a0[0]), b0, c00); if (two) c01 = Vector256.FusedMultiplyAdd(Vector256.Create(a0[0]), b1, c01); }
            if (TRows.Value > 1) { c10 = Vector256.FusedMultiplyAdd(Vector256.Create(a0[s]), b0, c10); if (two) c11 = Vector256.FusedMultiplyAdd(Vector256.Create(a0[s]), b1, c11); }
            if (TRows.Value > 2) { c20 = Vector256.FusedMultiplyAdd(Vector256.Create(a0[2 * s]), b0, c20); if (two) c21 = Vector256.FusedMultiplyAdd(Vector256.Create(a0[2 * s]), b1, c21); }
            if (TRows.Value > 3) { c30 = Vector256.FusedMultiplyAdd(Vector256.Create(a3[0]), b0, c30); if (two) c31 = Vector256.FusedMultiplyAdd(Vector256.Create(a3[0]), b1, c31); }
            if (TRows.Value > 4) { c40 = Vector256.FusedMultiplyAdd(Vector256.Create(a3[s]), b0, c40); if (two) c41 = Vector256.FusedMultiplyAdd(Vector256.Create(a3[s]), b1, c41); }
            if (TRows.Value > 5) { c50 = Vector256.FusedMultiplyAdd(Vector256.Create(a3[2 * s]), b0, c50); if (two) c51 = Vector256.FusedMultiplyAdd(Vector256.Create(a3[2 * s]), b1, c51); }
        }
        var alpha = Vector256.Create(op.Alpha); var beta = Vector256.Create(op.Beta);
        float* c = op.C + (long)i * op.Ldc + j;
        long ldc = op.Ldc;
        StoreBlockRow256<TVectors, TStore>(c, c00, c01, alpha, beta, mask);
        if (TRows.Value > 1) StoreBlockRow256<TVectors, TStore>(c + ldc, c10, c11, alpha, beta, mask);
        if (TRows.Value > 2) StoreBlockRow256<TVectors, TStore>(c + 2 * ldc, c20, c21, alpha, beta, mask);
        if (TRows.Value > 3) StoreBlockRow256<TVectors, TStore>(c + 3 * ldc, c30, c31, alpha, beta, mask);
        if (TRows.Value > 4) StoreBlockRow256<TVectors, TStore>(c + 4 * ldc, c40, c41, alpha, beta, mask);
        if (TRows.Value > 5) StoreBlockRow256<TVectors, TStore>(c + 5 * ldc, c50, c51, alpha, beta, mask);
    }

    /// <summary>One row of a <see cref="RowBlock256"/>: c = alpha * x + beta * c (c not read when beta is 0), two whole vectors or one through the mask.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreBlockRow256<TVectors, TStore>(float* c, Vector256<float> x0, Vector256<float> x1, Vector256<float> alpha, Vector256<float> beta,
        Vector256<float> mask) where TVectors : struct, IStaticCount where TStore : struct, IStoreMode
    {
        if (TVectors.Value == 1)
        {
            StoreScaledLeading256<TStore>(c, x0, alpha, beta, mask);
            return;
        }
        StoreScaled256<TStore>(c, x0, alpha, beta);
        StoreScaled256<TStore>(c + 8, x1, alpha, beta);
    }

    /// <summary>Rows i..i+TRows (at most 6) of C, the 64-column stripes of [j0, j1).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void WideRowBlocks<TRows, TStore>(in Operands op, int i, int j0, int j1, int k)
        where TRows : struct, IStaticCount where TStore : struct, IStoreMode
    {
        for (int j = j0; j < j1; j += 64) WideRowBlock<TRows, TStore>(op, i, j, k);
    }

    /// <summary>
    /// C[i..i+TRows, j..j+64) = alpha * A[i..i+TRows, :] B[:, j..j+64) + beta * C for TRows &lt;= 6: four vectors of B a
    /// step, each broadcast of A feeding four FMAs. Accumulators cRV: row R, vector V. A's rows at a0 and a3 plus (R mod 3)
    /// rows.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void WideRowBlock<TRows, TStore>(in Operands op, int i, int j, int k)
        where TRows : struct, IStaticCount where TStore : struct, IStoreMode
    {
        long s = op.ARow, step = op.ACol;
        float* a0 = op.A + i * s, a3 = a0 + 3 * s;
        Vector512<float> c00 = default, c01 = default, c02 = default, c03 = default, c10 = default, c11 = default, c12 = default, c13 = default, c20 = default, c21 = default, c22 = default, c23 = default;
        Vector512<float> c30 = default, c31 = default, c32 = default, c33 = default, c40 = default, c41 = default, c42 = default, c43 = default, c50 = default, c51 = default, c52 = default, c53 = default;
        float* bp = op.B + j;
        long ldb = op.BRow;
        for (int p = 0; p < k; p++, a0 += step, a3 += step, bp += ldb)
        {
            var b0 = Vector512.Load(bp); var b1 = Vector512.Load(bp + 16); var b2 = Vector512.Load(bp + 32); var b3 = Vector512.Load(bp + 48);
            { var x = Vector512.Create(a0[0]); c00 = Vector512.FusedMultiplyAdd(x, b0, c00); c01 = Vector512.FusedMultiplyAdd(x, b1, c01); c02 = Vector512.FusedMultiplyAdd(x, b2, c02); c03 = Vector512.FusedMultiplyAdd(x, b3, c03); }
            if (TRows.Value > 1) { var x = Vector512.Create(a0[s]); c10 = Vector512.FusedMultiplyAdd(x, b0, c10); c11 = Vector512.FusedMultiplyAdd(x, b1, c11); c12 = Vector512.FusedMultiplyAdd(x, b2, c12); c13 = Vector512.FusedMultiplyAdd(x, b3, c13); }
            if (TRows.Value > 2) { var x = Vector512.Create(a0[2 * s]); c20 = Vector512.FusedMultiplyAdd(x, b0, c20); c21 = Vector512.FusedMultiplyAdd(x, b1, c21); c22 = Vector512.FusedMultiplyAdd(x, b2, c22); c23 = Vector512.FusedMultiplyAdd(x, b3, c23); }
            if (TRows.Value > 3) { var x = Vector512.Create(a3[0]); c30 = Vector512.FusedMultiplyAdd(x, b0, c30); c31 = Vector512.FusedMultiplyAdd(x, b1, c31); c32 = Vector512.FusedMultiplyAdd(x, b2, c32); c33 = Vector512.FusedMultiplyAdd(x, b3, c33); }
            if (TRows.Value > 4) { var x = Vector512.Create(a3[s]); c40 = Vector512.FusedMultiplyAdd(x, b0, c40); c41 = Vector512.FusedMultiplyAdd(x, b1, c41); c42 = Vector512.FusedMultiplyAdd(x, b2, c42); c43 = Vector512.FusedMultiplyAdd(x, b3, c43); }
            if (TRows.Value > 5) { var x = Vector512.Create(a3[2 * s]); c50 = Vector512.FusedMultiplyAdd(x, b0, c50); c51 = Vector512.FusedMultiplyAdd(x, b1, c51); c52 = Vector512.FusedMultiplyAdd(x, b2, c52); c53 = Vector512.FusedMultiplyAdd(x, b3, c53); }
        }
        var alpha = Vector512.Create(op.Alpha); var beta = Vector512.Create(op.Beta);
        float* c = op.C + (long)i * op.Ldc + j;
        long ldc = op.Ldc;
        StoreWideRow<TStore>(c, c00, c01, c02, c03, alpha, beta);
        if (TRows.Value > 1) StoreWideRow<TStore>(c + ldc, c10, c11, c12, c13, alpha, beta);
        if (TRows.Value > 2) StoreWideRow<TStore>(c + 2 * ldc, c20, c21, c22, c23, alpha, beta);
        if (TRows.Value > 3) StoreWideRow<TStore>(c + 3 * ldc, c30, c31, c32, c33, alpha, beta);
        if (TRows.Value > 4) StoreWideRow<TStore>(c + 4 * ldc, c40, c41, c42, c43, alpha, beta);
        if (TRows.Value > 5) StoreWideRow<TStore>(c + 5 * ldc, c50, c51, c52, c53, alpha, beta);
    }

    /// <summary>One row of a <see cref="WideRowBlock"/>: c[0..64) = alpha * x + beta * c, four whole vectors.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreWideRow<TStore>(float* c, Vector512<float> x0, Vector512<float> x1, Vector512<float> x2, Vector512<float> x3,
        Vector512<float> alpha, Vector512<float> beta) where TStore : struct, IStoreMode
    {
        StoreScaled<TStore>(c, x0, alpha, beta);
        StoreScaled<TStore>(c + 16, x1, alpha, beta);
        StoreScaled<TStore>(c + 32, x2, alpha, beta);
        StoreScaled<TStore>(c + 48, x3, alpha, beta);
    }

    /// <summary>Rows i..i+TRows of C, columns [j0, j1): whole blocks of 32 columns, then of 16 (the last one masked).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void RowBlocks<TRows, TStore>(in Operands op, int i, int j0, int j1, int k)
        where TRows : struct, IStaticCount where TStore : struct, IStoreMode
    {
        int j = j0;
        for (; j <= j1 - 32; j += 32) RowBlock<TRows, Vectors2, TStore>(op, i, j, k, 16);
        for (; j < j1; j += 16) RowBlock<TRows, Vectors1, TStore>(op, i, j, k, Math.Min(16, j1 - j));
    }

    /// <summary>
    /// Rows of B (0..) whose vector in a one-vector block may be loaded whole although its last <paramref name="surplus"/>
    /// lanes are past the block's last column: those lanes still lie inside B's guaranteed extent ((k - 1) * ldb + n
    /// floats, see <see cref="Validate"/>), because enough rows follow. Only the rows after these need the masked load. The
    /// surplus lanes hold whatever B holds there; they are multiplied into accumulator lanes that are never stored.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int WholeLoadRows(int k, long ldb, int surplus)
        => surplus <= 0 ? k : (int)Math.Max(0, k - (surplus + ldb - 1) / ldb);

    /// <summary>
    /// C[i..i+TRows, j..j+16*TVectors) = alpha * A[i..i+TRows, :] B[:, j..] + beta * C: a whole 32-column block
    /// (TVectors 2), or 16 columns limited to the first <paramref name="lastColumns"/> (TVectors 1). A one-vector block
    /// writes C through a mask, nothing outside the block touched, and loads B's vector whole while the lanes past the
    /// block stay inside B (<see cref="WholeLoadRows"/>), masked in the rows after (those lanes never reach C).
    /// Accumulators cR0 for the first 16 columns of row R, cR1 for the second 16 of a 32-column block. A is read where it
    /// lies: row R of the block at a0, a4 or a8 plus (R mod 4) rows, so three pointers and the row stride address all
    /// twelve, and the JIT keeps them in registers.
    /// Each broadcast of A is written where it is used: in a one-vector block the JIT then folds it into the FMA (an
    /// embedded {1to16} operand), in a two-vector block it still loads it once for both FMAs. Measured on the 2-core VM's
    /// Zen 4 (2026-12-04) with a copy of the 10-row, one-vector block's loop (B 10 wide, alternating 100 ms windows in one
    /// process), ns per k step at k = 30 / 120: a masked load of B every step and folded broadcasts 3.7 / 3.4; whole
    /// loads and folded broadcasts 3.0-3.2 / 2.8-2.9; whole loads and the broadcast through a shared local (a separate
    /// vbroadcastss) 3.9 / 3.8.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RowBlock<TRows, TVectors, TStore>(in Operands op, int i, int j, int k, int lastColumns)
        where TRows : struct, IStaticCount where TVectors : struct, IStaticCount where TStore : struct, IStoreMode
    {
        bool two = TVectors.Value == 2;
        var lastMask = LeadingLanes(lastColumns);
        int whole = WholeLoadRows(k, op.BRow, Vector512<float>.Count - lastColumns);
        long s = op.ARow, step = op.ACol;
        float* a0 = op.A + i * s, a4 = a0 + 4 * s, a8 = a0 + 8 * s;
        Vector512<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default, c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default, c60 = default, c61 = default, c70 = default, c71 = default, c80 = default, c81 = default, c90 = default, c91 = default, c100 = default, c101 = default, c110 = default, c111 = default;
        float* bp = op.B + j;
        long ldb = op.BRow;
        for (int p = 0; p < k; p++, a0 += step, a4 += step, a8 += step, bp += ldb)
        {
            var b0 = two || p < whole ? Vector512.Load(bp) : LoadLeading(bp, lastMask);
            var b1 = two ? Vector512.Load(bp + 16) : default;
            { c00 = Vector512.FusedMultiplyAdd(Vector512.Create(a0[0]), b0, c00); if (two) c01 = Vector512.FusedMultiplyAdd(Vector512.Create(a0[0]), b1, c01); }
            if (TRows.Value > 1) { c10 = Vector512.FusedMultiplyAdd(Vector512.Create(a0[s]), b0, c10); if (two) c11 = Vector512.FusedMultiplyAdd(Vector512.Create(a0[s]), b1, c11); }
            if (TRows.Value > 2) { c20 = Vector512.FusedMultiplyAdd(Vector512.Create(a0[2 * s]), b0, c20); if (two) c21 = Vector512.FusedMultiplyAdd(Vector512.Create(a0[2 * s]), b1, c21); }
            if (TRows.Value > 3) { c30 = Vector512.FusedMultiplyAdd(Vector512.Create(a0[3 * s]), b0, c30); if (two) c31 = Vector512.FusedMultiplyAdd(Vector512.Create(a0[3 * s]), b1, c31); }
            if (TRows.Value > 4) { c40 = Vector512.FusedMultiplyAdd(Vector512.Create(a4[0]), b0, c40); if (two) c41 = Vector512.FusedMultiplyAdd(Vector512.Create(a4[0]), b1, c41); }
            if (TRows.Value > 5) { c50 = Vector512.FusedMultiplyAdd(Vector512.Create(a4[s]), b0, c50); if (two) c51 = Vector512.FusedMultiplyAdd(Vector512.Create(a4[s]), b1, c51); }
            if (TRows.Value > 6) { c60 = Vector512.FusedMultiplyAdd(Vector512.Create(a4[2 * s]), b0, c60); if (two) c61 = Vector512.FusedMultiplyAdd(Vector512.Create(a4[2 * s]), b1, c61); }
            if (TRows.Value > 7) { c70 = Vector512.FusedMultiplyAdd(Vector512.Create(a4[3 * s]), b0, c70); if (two) c71 = Vector512.FusedMultiplyAdd(Vector512.Create(a4[3 * s]), b1, c71); }
            if (TRows.Value > 8) { c80 = Vector512.FusedMultiplyAdd(Vector512.Create(a8[0]), b0, c80); if (two) c81 = Vector512.FusedMultiplyAdd(Vector512.Create(a8[0]), b1, c81); }
            if (TRows.Value > 9) { c90 = Vector512.FusedMultiplyAdd(Vector512.Create(a8[s]), b0, c90); if (two) c91 = Vector512.FusedMultiplyAdd(Vector512.Create(a8[s]), b1, c91); }
            if (TRows.Value > 10) { c100 = Vector512.FusedMultiplyAdd(Vector512.Create(a8[2 * s]), b0, c100); if (two) c101 = Vector512.FusedMultiplyAdd(Vector512.Create(a8[2 * s]), b1, c101); }
            if (TRows.Value > 11) { c110 = Vector512.FusedMultiplyAdd(Vector512.Create(a8[3 * s]), b0, c110); if (two) c111 = Vector512.FusedMultiplyAdd(Vector512.Create(a8[3 * s]), b1, c111); }
        }
        var alpha = Vector512.Create(op.Alpha); var beta = Vector512.Create(op.Beta);
        float* c = op.C + (long)i * op.Ldc + j;
        long ldc = op.Ldc;
        StoreBlockRow<TVectors, TStore>(c, c00, c01, alpha, beta, lastMask);
        if (TRows.Value > 1) StoreBlockRow<TVectors, TStore>(c + ldc, c10, c11, alpha, beta, lastMask);
        if (TRows.Value > 2) StoreBlockRow<TVectors, TStore>(c + 2 * ldc, c20, c21, alpha, beta, lastMask);
        if (TRows.Value > 3) StoreBlockRow<TVectors, TStore>(c + 3 * ldc, c30, c31, alpha, beta, lastMask);
        if (TRows.Value > 4) StoreBlockRow<TVectors, TStore>(c + 4 * ldc, c40, c41, alpha, beta, lastMask);
        if (TRows.Value > 5) StoreBlockRow<TVectors, TStore>(c + 5 * ldc, c50, c51, alpha, beta, lastMask);
        if (TRows.Value > 6) StoreBlockRow<TVectors, TStore>(c + 6 * ldc, c60, c61, alpha, beta, lastMask);
        if (TRows.Value > 7) StoreBlockRow<TVectors, TStore>(c + 7 * ldc, c70, c71, alpha, beta, lastMask);
        if (TRows.Value > 8) StoreBlockRow<TVectors, TStore>(c + 8 * ldc, c80, c81, alpha, beta, lastMask);
        if (TRows.Value > 9) StoreBlockRow<TVectors, TStore>(c + 9 * ldc, c90, c91, alpha, beta, lastMask);
        if (TRows.Value > 10) StoreBlockRow<TVectors, TStore>(c + 10 * ldc, c100, c101, alpha, beta, lastMask);
        if (TRows.Value > 11) StoreBlockRow<TVectors, TStore>(c + 11 * ldc, c110, c111, alpha, beta, lastMask);
    }

    /// <summary>One row of a <see cref="RowBlock"/>: two whole vectors, or one through the mask.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreBlockRow<TVectors, TStore>(float* c, Vector512<float> x0, Vector512<float> x1, Vector512<float> alpha, Vector512<float> beta,
        Vector512<float> lastMask) where TVectors : struct, IStaticCount where TStore : struct, IStoreMode
    {
        if (TVectors.Value == 1)
        {
            StoreScaledLeading<TStore>(c, x0, alpha, beta, lastMask);
            return;
        }
        StoreScaled<TStore>(c, x0, alpha, beta);
        StoreScaled<TStore>(c + 16, x1, alpha, beta);
    }

    /// <summary>A mask of the first min(count, 16) lanes, for <see cref="LoadLeading"/> and <see cref="StoreScaledLeading"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<float> LeadingLanes(int count) => Vector512.LessThan(Vector512<int>.Indices, Vector512.Create(count)).AsSingle();

    /// <summary>A mask of the first min(count, 8) lanes, for Avx.MaskLoad and Avx.MaskStore.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> LeadingLanes256(int count) => Vector256.LessThan(Vector256<int>.Indices, Vector256.Create(count)).AsSingle();

    /// <summary>
    /// The lanes of p that mask selects, 0 in the others; memory under the other lanes is not touched (AVX-512 masked load).
    /// This and the other masked helpers need AVX-512: every caller is under <c>Vector512.IsHardwareAccelerated</c>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<float> LoadLeading(float* p, Vector512<float> mask) => Avx512F.MaskLoad(p, mask, Vector512<float>.Zero);

    /// <summary>16 floats at p, or with TMasked only the lanes of mask (<see cref="LoadLeading"/>), for kernels compiled once per choice.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<float> Load<TMasked>(float* p, Vector512<float> mask) where TMasked : struct, IStaticFlag
        => TMasked.Value ? LoadLeading(p, mask) : Vector512.Load(p);

    /// <summary><see cref="StoreScaled"/> limited to the lanes of mask.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreScaledLeading<TStore>(float* c, Vector512<float> acc, Vector512<float> alpha, Vector512<float> beta, Vector512<float> mask)
        where TStore : struct, IStoreMode
    {
        if (TStore.Scales) acc *= alpha;
        if (TStore.Accumulates) acc = Vector512.FusedMultiplyAdd(LoadLeading(c, mask), beta, acc);
        Avx512F.MaskStore(c, mask, acc);
    }

    /// <summary>Row i of C, columns [j0, j1), as a combination of B's rows weighted by row i of A.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RowCombination<TStore>(in Operands op, int i, int j0, int j1, int k) where TStore : struct, IStoreMode
    {
        var alpha = Vector512.Create(op.Alpha); var beta = Vector512.Create(op.Beta);
        var alpha8 = Vector256.Create(op.Alpha); var beta8 = Vector256.Create(op.Beta);
        float* ai = op.A + (long)i * op.ARow, ci = op.C + (long)i * op.Ldc;
        int j = j0;
        if (Vector512.IsHardwareAccelerated)
        {
            // Four independent accumulators: one alone would wait on the FMA latency every step of p.
            for (; j <= j1 - 64; j += 64)
            {
                Vector512<float> acc0 = default, acc1 = default, acc2 = default, acc3 = default;
                float* bp = op.B + j;
                for (int p = 0; p < k; p++, bp += op.BRow)
                {
                    var x = Vector512.Create(ai[(long)p * op.ACol]);
                    acc0 = Vector512.FusedMultiplyAdd(x, Vector512.Load(bp), acc0);
                    acc1 = Vector512.FusedMultiplyAdd(x, Vector512.Load(bp + 16), acc1);
                    acc2 = Vector512.FusedMultiplyAdd(x, Vector512.Load(bp + 32), acc2);
                    acc3 = Vector512.FusedMultiplyAdd(x, Vector512.Load(bp + 48), acc3);
                }
                StoreScaled<TStore>(ci + j, acc0, alpha, beta); StoreScaled<TStore>(ci + j + 16, acc1, alpha, beta);
                StoreScaled<TStore>(ci + j + 32, acc2, alpha, beta); StoreScaled<TStore>(ci + j + 48, acc3, alpha, beta);
            }
            for (; j < j1; j += 16)
            {
                var mask = LeadingLanes(j1 - j);   // the last block may be short: masked, so no scalar tail
                var acc = Vector512<float>.Zero;
                float* bp = op.B + j;
                for (int p = 0; p < k; p++, bp += op.BRow)
                    acc = Vector512.FusedMultiplyAdd(Vector512.Create(ai[(long)p * op.ACol]), LoadLeading(bp, mask), acc);
                StoreScaledLeading<TStore>(ci + j, acc, alpha, beta, mask);
            }
        }
        if (Vector256.IsHardwareAccelerated)
            for (; j <= j1 - 8; j += 8)
            {
                var acc = Vector256<float>.Zero;
                float* bp = op.B + j;
                for (int p = 0; p < k; p++, bp += op.BRow)
                    acc = Vector256.FusedMultiplyAdd(Vector256.Create(ai[(long)p * op.ACol]), Vector256.Load(bp), acc);
                StoreScaled256<TStore>(ci + j, acc, alpha8, beta8);
            }
        for (; j < j1; j++)
        {
            float sum = 0f;
            for (int p = 0; p < k; p++) sum = MathF.FusedMultiplyAdd(ai[(long)p * op.ACol], op.B[(long)p * op.BRow + j], sum);
            Store(op, ci + j, sum);
        }

    }

    /// <summary>
    /// A's rows and B's columns contiguous along k (C = A B^T with both row-major): blocks of 4 rows x 6 columns of C (then 2
    /// and 1 rows for the last ones, and fewer columns in the last group, <see cref="DotProductBlock"/>) are accumulated as
    /// vector dot products sharing their loads, then reduced horizontally. Nothing is packed.
    /// The loop over B's rows is outside: six rows of B (the large operand, a layer's weights) stay in L1 while every row
    /// of A passes over them, so B is read from memory once, and A (from L2 when it is large) once per six columns.
    /// The blocks need AVX-512; with AVX2 and FMA but not AVX-512, blocks of 4 rows x 3 columns
    /// (<see cref="DotProductBlock256"/>); with neither, each element is one TensorPrimitives.Dot.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization), SkipLocalsInit]
    private static void DotProducts<TStore>(in Operands op, int m, int j0, int j1, int k) where TStore : struct, IStoreMode
    {
        int j = j0;
        if (Vector512.IsHardwareAccelerated)
        {
            // A's rows, read again for every group of six columns, come from L2 once A outgrows L1; where they do not start
            // on 64-byte boundaries (k not a multiple of 16, or a view's offset), most of those loads straddle two cache
            // lines. A is then copied to aligned scratch first (see AlignedCopyMinColumns).
            var ops = op;
            int ld = (k + AlignedFloats - 1) / AlignedFloats * AlignedFloats;
            if (j1 - j0 >= AlignedCopyMinColumns && !RowsAligned(op.A, op.ARow) && (long)m * ld <= AlignedCopyMaxFloats)
                ops = op.WithA(CopyRows(ThreadScratch.A(m * ld), ld, op.A, op.ARow, m, k), ld);
            for (; j <= j1 - DotColumns; j += DotColumns) DotProductColumns<Cols6, TStore>(ops, m, j, k);
            switch (j1 - j)
            {
                case 1: DotProductColumns<Cols1, TStore>(ops, m, j, k); break;
                case 2: DotProductColumns<Cols2, TStore>(ops, m, j, k); break;
                case 3: DotProductColumns<Cols3, TStore>(ops, m, j, k); break;
                case 4: DotProductColumns<Cols4, TStore>(ops, m, j, k); break;
                case 5: DotProductColumns<Cols5, TStore>(ops, m, j, k); break;
            }
            return;
        }
        if (HasAvx2Blocks)
        {
            for (; j <= j1 - 3; j += 3) DotProductColumns256<Cols3, TStore>(op, m, j, k);
            if (j1 - j == 2) DotProductColumns256<Cols2, TStore>(op, m, j, k);
            else if (j1 - j == 1) DotProductColumns256<Cols1, TStore>(op, m, j, k);
            return;
        }
        for (; j < j1; j++)
        {
            var bj = new ReadOnlySpan<float>(op.B + (long)j * op.BCol, k);
            for (int i = 0; i < m; i++)
                Store(op, op.C + (long)i * op.Ldc + j, TensorPrimitives.Dot(new ReadOnlySpan<float>(op.A + (long)i * op.ARow, k), bj));
        }
    }

    /// <summary>
    /// The fewest columns of C for which <see cref="DotProducts{TStore}"/> copies misaligned rows of A to aligned scratch: the copy
    /// costs about 1/n of the loads that read A. Measured 2026-12-04, best of 4 alternating runs of `nativenet bench gemm
    /// --threads 1`, GFLOP/s, before -> after: 40 x 500 x 640 NT 110.3 -> 125.9, 20 x 500 x 640 NT 109.5 -> 123.7, 36 x 500
    /// x 320 NT 110.8 -> 126.3, 32 x 500 x 64 NT 109.1 -> 115.0, 10 x 1000 x 1000 NT 79.9 -> 82.6. Copying each group of six
    /// rows of B as well, when rows of B straddle lines too, was slower than A alone (40 x 500 x 640 NT 122.1, 48 x 500 x 320
    /// 122.6 against 125.9 and 125.3): B's group is read from L1 by every block of rows, A from L2. See
    /// benchmarks/results/gemm.md, run N.
    /// </summary>
    private const int AlignedCopyMinColumns = 32;

    /// <summary>The largest copy (floats, 4 MiB) that scratch takes for it; longer rows are read where they lie.</summary>
    private const long AlignedCopyMaxFloats = 1 << 20;

    /// <summary>Floats per <see cref="NativeBuffer.Alignment"/> (64 bytes: one cache line, one Vector512).</summary>
    private const int AlignedFloats = NativeBuffer.Alignment / sizeof(float);

    /// <summary>Whether every row of an operand, at p with this stride (floats), starts on a <see cref="NativeBuffer.Alignment"/> boundary.</summary>
    private static bool RowsAligned(float* p, int stride) => (nint)p % NativeBuffer.Alignment == 0 && stride % AlignedFloats == 0;

    /// <summary>Rows [0, rows) of src (stride floats apart, k each) into dst, ld floats apart, zero-padded to ld. Returns dst.</summary>
    private static float* CopyRows(float* dst, int ld, float* src, long stride, int rows, int k)
    {
        for (int r = 0; r < rows; r++)
        {
            new ReadOnlySpan<float>(src + r * stride, k).CopyTo(new Span<float>(dst + (long)r * ld, k));
            new Span<float>(dst + (long)r * ld + k, ld - k).Clear();
        }
        return dst;
    }

    /// <summary>
    /// Columns per group of <see cref="DotProducts{TStore}"/>. Six, not four: a step loads 6 + 4 vectors for 24 FMAs instead of 4 +
    /// 4 for 16, and A is read once per six columns instead of four. Best of 4 alternating runs of `nativenet bench gemm`,
    /// one thread, 2026-12-04, GFLOP/s, groups of 4 -> 6: 40 x 500 x 640 NT 90 -> 105 (A from L2), 10 x 784 x 30 NT 131 ->
    /// 141, 10 x 100 x 10 NT 42 -> 49; 100 x 784 x 100 and 40 x 320 x 500 level; 10 x 640 x 100 NT 143 -> 140. Then the
    /// block's sums reduced together (<see cref="Sums16"/>) rather than four at a time, best of 4 as above: 1.01-1.18x, e.g.
    /// 10 x 784 x 30 NT 128 -> 142, 40 x 320 x 500 115 -> 134, 100 x 784 x 100 141 -> 156.
    /// </summary>
    private const int DotColumns = 6;

    /// <summary>Columns j..j+TCols of C, every row: blocks of 4 rows, then 2, then 1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void DotProductColumns<TCols, TStore>(in Operands op, int m, int j, int k)
        where TCols : struct, IStaticCount where TStore : struct, IStoreMode
    {
        int i = 0;
        for (; i <= m - 4; i += 4) DotProductBlock<Rows4, TCols, TStore>(op, i, j, k);
        if (m - i >= 2) { DotProductBlock<Rows2, TCols, TStore>(op, i, j, k); i += 2; }
        if (i < m) DotProductBlock<Rows1, TCols, TStore>(op, i, j, k);
    }

    /// <summary>
    /// C[i..i+TRows, j..j+TCols] from TRows (1, 2 or 4) rows of A and TCols (1-6) rows of B: up to 24 accumulators sRC, fed
    /// by TCols + TRows loads per TRows * TCols FMAs, the block's sums reduced together (<see cref="Sums16"/>, <see cref="Sums8"/>)
    /// to a 128-bit vector per row and four columns. Rows of A are addressed from a0 and rows of B from b0 by their strides,
    /// so two pointers walk k. The JIT compiles one copy per (rows, columns, store mode).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void DotProductBlock<TRows, TCols, TStore>(in Operands op, int i, int j, int k)
        where TRows : struct, IStaticCount where TCols : struct, IStaticCount where TStore : struct, IStoreMode
    {
        int rows = TRows.Value, cols = TCols.Value;
        long lda = op.ARow, ldb = op.BCol;
        float* a0 = op.A + i * lda, b0 = op.B + j * ldb;
        Vector512<float> s00 = default, s01 = default, s02 = default, s03 = default, s04 = default, s05 = default;
        Vector512<float> s10 = default, s11 = default, s12 = default, s13 = default, s14 = default, s15 = default;
        Vector512<float> s20 = default, s21 = default, s22 = default, s23 = default, s24 = default, s25 = default;
        Vector512<float> s30 = default, s31 = default, s32 = default, s33 = default, s34 = default, s35 = default;
        int p = 0;
        for (; p <= k - 16; p += 16)
            DotRowsStep<TRows, TCols, No>(a0 + p, lda, b0 + p, ldb, default, ref s00, ref s01, ref s02, ref s03, ref s04, ref s05,
                ref s10, ref s11, ref s12, ref s13, ref s14, ref s15, ref s20, ref s21, ref s22, ref s23, ref s24, ref s25,
                ref s30, ref s31, ref s32, ref s33, ref s34, ref s35);
        // The last k % 16 floats of each row: masked loads, zero in the other lanes, so no scalar tail and nothing past a
        // row is read. (Copying the tails to zero-padded stack slots and reading those instead made each block store and
        // reload them, and a reload whose address matched a just-stored row of C in its low 12 bits waited for that
        // store: 10 x 30 x 10 NT ran at 24 or 33 GFLOP/s depending on where the stack fell.)
        if (p < k)
            DotRowsStep<TRows, TCols, Yes>(a0 + p, lda, b0 + p, ldb, LeadingLanes(k - p), ref s00, ref s01, ref s02, ref s03, ref s04, ref s05,
                ref s10, ref s11, ref s12, ref s13, ref s14, ref s15, ref s20, ref s21, ref s22, ref s23, ref s24, ref s25,
                ref s30, ref s31, ref s32, ref s33, ref s34, ref s35);
        // Quarter r of first holds row r's sums of columns 0-3, of last its sums of columns 4-5 (accumulators of columns
        // the block does not have are still zero). Blocks of 1 and 2 rows reduce only the vectors they have, in the same
        // order as the 4-row tree, then gather their sums into those quarters.
        Vector512<float> first, last = default;
        if (rows == 4)
        {
            first = Sums16(s00, s10, s20, s30, s01, s11, s21, s31, s02, s12, s22, s32, s03, s13, s23, s33);
            if (cols > 4) last = Sums8(s04, s14, s24, s34, s05, s15, s25, s35);
        }
        else if (rows == 2)
        {
            // Sums8: lanes 4q, 4q + 1 hold row 0's and row 1's sum of column q.
            first = Avx512F.PermuteVar16x32(Sums8(s00, s01, s02, s03, s10, s11, s12, s13), Vector512.Create(0, 4, 8, 12, 1, 5, 9, 13, 0, 0, 0, 0, 0, 0, 0, 0));
            // Lanes 0, 4, 8, 12: rows 0 and 1 of column 4, then of column 5.
            if (cols > 4) last = Avx512F.PermuteVar16x32(QuarterTotals(Quarters(s04, s14, s05, s15)), Vector512.Create(0, 8, 0, 0, 4, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0));
        }
        else
        {
            Debug.Assert(rows == 1, "DotProductColumns makes blocks of 4, 2 and 1 rows only");
            var quarterStarts = Vector512.Create(0, 4, 8, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
            first = Avx512F.PermuteVar16x32(QuarterTotals(Quarters(s00, s01, s02, s03)), quarterStarts);
            if (cols > 4) last = Avx512F.PermuteVar16x32(QuarterTotals(Quarters(s04, s05, s04, s05)), quarterStarts);
        }
        float* c0 = op.C + (long)i * op.Ldc + j;
        long ldc = op.Ldc;
        var alpha = Vector128.Create(op.Alpha); var beta = Vector128.Create(op.Beta);
        StoreDotRow<TCols, TStore>(c0, first.GetLower().GetLower(), last.GetLower().GetLower(), alpha, beta);
        if (rows > 1) StoreDotRow<TCols, TStore>(c0 + ldc, first.GetLower().GetUpper(), last.GetLower().GetUpper(), alpha, beta);
        if (rows > 2)
        {
            StoreDotRow<TCols, TStore>(c0 + 2 * ldc, first.GetUpper().GetLower(), last.GetUpper().GetLower(), alpha, beta);
            StoreDotRow<TCols, TStore>(c0 + 3 * ldc, first.GetUpper().GetUpper(), last.GetUpper().GetUpper(), alpha, beta);
        }
    }

    /// <summary>Columns j..j+TCols of C, every row, for AVX2: blocks of 4 rows, then one of the 1-3 left.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void DotProductColumns256<TCols, TStore>(in Operands op, int m, int j, int k)
        where TCols : struct, IStaticCount where TStore : struct, IStoreMode
    {
        int i = 0;
        for (; i <= m - 4; i += 4) DotProductBlock256<Rows4, TCols, TStore>(op, i, j, k);
        switch (m - i)
        {
            case 1: DotProductBlock256<Rows1, TCols, TStore>(op, i, j, k); break;
            case 2: DotProductBlock256<Rows2, TCols, TStore>(op, i, j, k); break;
            case 3: DotProductBlock256<Rows3, TCols, TStore>(op, i, j, k); break;
        }
    }

    /// <summary>
    /// <see cref="DotProductBlock"/> for AVX2 and FMA: C[i..i+TRows, j..j+TCols] for TRows &lt;= 4, TCols &lt;= 3, from
    /// 12 ymm accumulators sRC fed by TRows + TCols loads per TRows * TCols FMAs, 8 floats of k a step; the last k % 8
    /// through masked loads (vmaskmovps: nothing past a row is read). Each accumulator's 8 lanes are then added in one
    /// fixed order, ((x0 + x1) + (x2 + x3)) + ((x4 + x5) + (x6 + x7)), wherever it sits (<see cref="Sums8x256"/>), so
    /// the bits do not depend on the block's shape or the worker count.
    /// Best of 3 alternating runs of `DOTNET_EnableAVX512=0 nativenet bench gemm --threads 1` on the Zen 4 VM
    /// (2026-12-04), one TensorPrimitives.Dot per element -> these blocks, GFLOP/s: 10 x 784 x 30 NT 26.3 -> 96.3, 10 x 640
    /// x 100 NT 26.3 -> 94.6, 10 x 30 x 10 NT 8.3 -> 26.6, 1 x 784 x 30 NT 26.1 -> 44.1.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void DotProductBlock256<TRows, TCols, TStore>(in Operands op, int i, int j, int k)
        where TRows : struct, IStaticCount where TCols : struct, IStaticCount where TStore : struct, IStoreMode
    {
        long lda = op.ARow, ldb = op.BCol;
        float* a = op.A + i * lda, b = op.B + j * ldb;
        Vector256<float> s00 = default, s01 = default, s02 = default, s10 = default, s11 = default, s12 = default;
        Vector256<float> s20 = default, s21 = default, s22 = default, s30 = default, s31 = default, s32 = default;
        int whole = k & ~7;
        for (int p = 0; p < whole; p += 8)
            DotBlockStep256<TRows, TCols, No>(a + p, lda, b + p, ldb, default,
                ref s00, ref s01, ref s02, ref s10, ref s11, ref s12, ref s20, ref s21, ref s22, ref s30, ref s31, ref s32);
        if (whole < k)
            DotBlockStep256<TRows, TCols, Yes>(a + whole, lda, b + whole, ldb, LeadingLanes256(k - whole),
                ref s00, ref s01, ref s02, ref s10, ref s11, ref s12, ref s20, ref s21, ref s22, ref s30, ref s31, ref s32);
        // Row-major sums of the block: rows 0-1 (and row 2's first two columns) in the first eight, the rest in the last
        // four; a one-row block needs only its three. Each row's sums are then moved to the start of a 128-bit vector in
        // registers (not through a stack copy, whose reloads could wait on the last block's stores to C).
        float* c = op.C + (long)i * op.Ldc + j;
        long ldc = op.Ldc;
        var alpha = Vector128.Create(op.Alpha); var beta = Vector128.Create(op.Beta);
        if (TRows.Value == 1)
        {
            StoreRow4<TStore>(c, Sums4x256(s00, s01, s02, default), TCols.Value, alpha, beta);
            return;
        }
        var first = Sums8x256(s00, s01, s02, s10, s11, s12, s20, s21);
        var last = Sums4x256(s22, s30, s31, s32);
        // Lanes 3-5 (row 1) to the lower half, lanes 6-7 (row 2's first two) to the start of the upper half.
        var shifted = Vector256.Shuffle(first, Vector256.Create(3, 4, 5, 5, 6, 7, 7, 7));
        StoreRow4<TStore>(c, first.GetLower(), TCols.Value, alpha, beta);
        StoreRow4<TStore>(c + ldc, shifted.GetLower(), TCols.Value, alpha, beta);
        if (TRows.Value > 2)
            StoreRow4<TStore>(c + 2 * ldc, Vector128.ConditionalSelect(Vector128.Create(0, 0, -1, 0).AsSingle(), Vector128.Shuffle(last, Vector128.Create(0, 0, 0, 0)), shifted.GetUpper()),
                TCols.Value, alpha, beta);
        if (TRows.Value > 3)
            StoreRow4<TStore>(c + 3 * ldc, Vector128.Shuffle(last, Vector128.Create(1, 2, 3, 3)), TCols.Value, alpha, beta);
    }

    /// <summary>One 8-float step of <see cref="DotProductBlock256"/>: every row of A (a, lda apart) against every row of B (b, ldb apart), through the mask when TMasked.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void DotBlockStep256<TRows, TCols, TMasked>(float* a, long lda, float* b, long ldb, Vector256<float> mask,
        ref Vector256<float> s00, ref Vector256<float> s01, ref Vector256<float> s02, ref Vector256<float> s10, ref Vector256<float> s11, ref Vector256<float> s12,
        ref Vector256<float> s20, ref Vector256<float> s21, ref Vector256<float> s22, ref Vector256<float> s30, ref Vector256<float> s31, ref Vector256<float> s32)
        where TRows : struct, IStaticCount where TCols : struct, IStaticCount where TMasked : struct, IStaticFlag
    {
        int cols = TCols.Value;
        var y0 = Load256<TMasked>(b, mask);
        var y1 = cols > 1 ? Load256<TMasked>(b + ldb, mask) : default;
        var y2 = cols > 2 ? Load256<TMasked>(b + 2 * ldb, mask) : default;
        var x = Load256<TMasked>(a, mask);
        s00 = Vector256.FusedMultiplyAdd(x, y0, s00);
        if (cols > 1) s01 = Vector256.FusedMultiplyAdd(x, y1, s01);
        if (cols > 2) s02 = Vector256.FusedMultiplyAdd(x, y2, s02);
        if (TRows.Value > 1)
        {
            x = Load256<TMasked>(a + lda, mask);
            s10 = Vector256.FusedMultiplyAdd(x, y0, s10);
            if (cols > 1) s11 = Vector256.FusedMultiplyAdd(x, y1, s11);
            if (cols > 2) s12 = Vector256.FusedMultiplyAdd(x, y2, s12);
        }
        if (TRows.Value > 2)
        {
            x = Load256<TMasked>(a + 2 * lda, mask);
            s20 = Vector256.FusedMultiplyAdd(x, y0, s20);
            if (cols > 1) s21 = Vector256.FusedMultiplyAdd(x, y1, s21);
            if (cols > 2) s22 = Vector256.FusedMultiplyAdd(x, y2, s22);
        }
        if (TRows.Value > 3)
        {
            x = Load256<TMasked>(a + 3 * lda, mask);
            s30 = Vector256.FusedMultiplyAdd(x, y0, s30);
            if (cols > 1) s31 = Vector256.FusedMultiplyAdd(x, y1, s31);
            if (cols > 2) s32 = Vector256.FusedMultiplyAdd(x, y2, s32);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Load256<TMasked>(float* p, Vector256<float> mask) where TMasked : struct, IStaticFlag
        => TMasked.Value ? Avx.MaskLoad(p, mask) : Vector256.Load(p);

    /// <summary>
    /// The lane sums of eight vectors, in order: each added as ((x0 + x1) + (x2 + x3)) + ((x4 + x5) + (x6 + x7)) (two
    /// rounds of horizontal adds within 128-bit halves, then the halves), the order <see cref="Sums4x256"/> keeps too.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Sums8x256(Vector256<float> v0, Vector256<float> v1, Vector256<float> v2, Vector256<float> v3,
        Vector256<float> v4, Vector256<float> v5, Vector256<float> v6, Vector256<float> v7)
    {
        var low = Avx.HorizontalAdd(Avx.HorizontalAdd(v0, v1), Avx.HorizontalAdd(v2, v3));    // per half: [v0, v1, v2, v3] partial sums
        var high = Avx.HorizontalAdd(Avx.HorizontalAdd(v4, v5), Avx.HorizontalAdd(v6, v7));
        return Avx.Permute2x128(low, high, 0x20) + Avx.Permute2x128(low, high, 0x31);
    }

    /// <summary>The lane sums of four vectors, in order, added as <see cref="Sums8x256"/> adds them.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<float> Sums4x256(Vector256<float> v0, Vector256<float> v1, Vector256<float> v2, Vector256<float> v3)
    {
        var t = Avx.HorizontalAdd(Avx.HorizontalAdd(v0, v1), Avx.HorizontalAdd(v2, v3));
        return t.GetLower() + t.GetUpper();
    }

    /// <summary>
    /// One k step of a dot-product block: 16 floats of TRows rows of A (a, lda floats apart) against 16 of TCols rows of B
    /// (b, ldb apart), sRC += aR * bC lane by lane. With TMasked, only the lanes of mask are read and the others are 0.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void DotRowsStep<TRows, TCols, TMasked>(float* a, long lda, float* b, long ldb, Vector512<float> mask,
        ref Vector512<float> s00, ref Vector512<float> s01, ref Vector512<float> s02, ref Vector512<float> s03, ref Vector512<float> s04, ref Vector512<float> s05,
        ref Vector512<float> s10, ref Vector512<float> s11, ref Vector512<float> s12, ref Vector512<float> s13, ref Vector512<float> s14, ref Vector512<float> s15,
        ref Vector512<float> s20, ref Vector512<float> s21, ref Vector512<float> s22, ref Vector512<float> s23, ref Vector512<float> s24, ref Vector512<float> s25,
        ref Vector512<float> s30, ref Vector512<float> s31, ref Vector512<float> s32, ref Vector512<float> s33, ref Vector512<float> s34, ref Vector512<float> s35)
        where TRows : struct, IStaticCount where TCols : struct, IStaticCount where TMasked : struct, IStaticFlag
    {
        int rows = TRows.Value, cols = TCols.Value;
        var y0 = Load<TMasked>(b, mask);
        var y1 = cols > 1 ? Load<TMasked>(b + ldb, mask) : default;
        var y2 = cols > 2 ? Load<TMasked>(b + 2 * ldb, mask) : default;
        var y3 = cols > 3 ? Load<TMasked>(b + 3 * ldb, mask) : default;
        var y4 = cols > 4 ? Load<TMasked>(b + 4 * ldb, mask) : default;
        var y5 = cols > 5 ? Load<TMasked>(b + 5 * ldb, mask) : default;
        DotStep<TCols>(Load<TMasked>(a, mask), y0, y1, y2, y3, y4, y5, ref s00, ref s01, ref s02, ref s03, ref s04, ref s05);
        if (rows > 1) DotStep<TCols>(Load<TMasked>(a + lda, mask), y0, y1, y2, y3, y4, y5, ref s10, ref s11, ref s12, ref s13, ref s14, ref s15);
        if (rows > 2)
        {
            DotStep<TCols>(Load<TMasked>(a + 2 * lda, mask), y0, y1, y2, y3, y4, y5, ref s20, ref s21, ref s22, ref s23, ref s24, ref s25);
            DotStep<TCols>(Load<TMasked>(a + 3 * lda, mask), y0, y1, y2, y3, y4, y5, ref s30, ref s31, ref s32, ref s33, ref s34, ref s35);
        }
    }

    /// <summary>One row of A (x) against the TCols rows of B (y0..): sC += x * yC.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void DotStep<TCols>(Vector512<float> x, Vector512<float> y0, Vector512<float> y1, Vector512<float> y2, Vector512<float> y3,
        Vector512<float> y4, Vector512<float> y5, ref Vector512<float> s0, ref Vector512<float> s1, ref Vector512<float> s2,
        ref Vector512<float> s3, ref Vector512<float> s4, ref Vector512<float> s5) where TCols : struct, IStaticCount
    {
        s0 = Vector512.FusedMultiplyAdd(x, y0, s0);
        if (TCols.Value > 1) s1 = Vector512.FusedMultiplyAdd(x, y1, s1);
        if (TCols.Value > 2) s2 = Vector512.FusedMultiplyAdd(x, y2, s2);
        if (TCols.Value > 3) s3 = Vector512.FusedMultiplyAdd(x, y3, s3);
        if (TCols.Value > 4) s4 = Vector512.FusedMultiplyAdd(x, y4, s4);
        if (TCols.Value > 5) s5 = Vector512.FusedMultiplyAdd(x, y5, s5);
    }

    /// <summary>A row of a dot-product block: its sums of columns 0-3 and 4-5, scaled and stored (C is not touched past TCols).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreDotRow<TCols, TStore>(float* c, Vector128<float> first, Vector128<float> last, Vector128<float> alpha, Vector128<float> beta)
        where TCols : struct, IStaticCount where TStore : struct, IStoreMode
    {
        StoreRow4<TStore>(c, first, Math.Min(TCols.Value, 4), alpha, beta);
        if (TCols.Value > 4) StoreRow4<TStore>(c + 4, last, TCols.Value - 4, alpha, beta);
    }

    /// <summary>
    /// The sums of sixteen vectors v0..v15 in one vector: lane 4q + r holds sum(v[4r + q]). Halving the vector count at each
    /// step (128-bit quarters, then lanes), so 15 adds and 30 shuffles reduce all sixteen instead of 16 folds and 12 horizontal
    /// adds per four. Every v's lanes are added in the same order, (x0 + x2) + (x1 + x3) of its 4-lane partial sums built the
    /// same way, wherever it sits, and <see cref="Sums8"/> keeps that order too.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Sums16(Vector512<float> v0, Vector512<float> v1, Vector512<float> v2, Vector512<float> v3,
        Vector512<float> v4, Vector512<float> v5, Vector512<float> v6, Vector512<float> v7, Vector512<float> v8, Vector512<float> v9,
        Vector512<float> v10, Vector512<float> v11, Vector512<float> v12, Vector512<float> v13, Vector512<float> v14, Vector512<float> v15)
        => LaneSums(Quarters(v0, v1, v2, v3), Quarters(v4, v5, v6, v7), Quarters(v8, v9, v10, v11), Quarters(v12, v13, v14, v15));

    /// <summary>The sums of eight vectors: lanes 4q and 4q + 1 hold sum(v[q]) and sum(v[4 + q]).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Sums8(Vector512<float> v0, Vector512<float> v1, Vector512<float> v2, Vector512<float> v3,
        Vector512<float> v4, Vector512<float> v5, Vector512<float> v6, Vector512<float> v7)
    {
        var t0 = Quarters(v0, v1, v2, v3);
        var t1 = Quarters(v4, v5, v6, v7);
        var pairs = Avx512F.UnpackLow(t0, t1) + Avx512F.UnpackHigh(t0, t1);   // [t0 x0+x2, t1 x0+x2, t0 x1+x3, t1 x1+x3]
        return pairs + Avx512F.Shuffle(pairs, pairs, 0x4E);
    }

    /// <summary>Four vectors to one whose quarter q holds 4 partial sums of v[q]: (quarters 0 + 2) + (quarters 1 + 3).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Quarters(Vector512<float> v0, Vector512<float> v1, Vector512<float> v2, Vector512<float> v3)
    {
        // [v0 q0+q2, v0 q1+q3, v1 q0+q2, v1 q1+q3], and the same for v2, v3
        var h01 = Avx512F.Shuffle4x128(v0, v1, 0x44) + Avx512F.Shuffle4x128(v0, v1, 0xEE);
        var h23 = Avx512F.Shuffle4x128(v2, v3, 0x44) + Avx512F.Shuffle4x128(v2, v3, 0xEE);
        return Avx512F.Shuffle4x128(h01, h23, 0x88) + Avx512F.Shuffle4x128(h01, h23, 0xDD);
    }

    /// <summary>Lane 4q of the result: the sum of quarter q's four lanes x0..x3, added as (x0 + x2) + (x1 + x3), as <see cref="LaneSums"/> adds them.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> QuarterTotals(Vector512<float> t)
    {
        var pairs = t + Avx512F.Shuffle(t, t, 0x4E);        // per quarter [x0+x2, x1+x3, x2+x0, x3+x1]
        return pairs + Avx512F.Shuffle(pairs, pairs, 0xB1);
    }

    /// <summary>Four vectors of per-quarter partial sums to one: lane 4q + r holds the sum of t_r's quarter q.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> LaneSums(Vector512<float> t0, Vector512<float> t1, Vector512<float> t2, Vector512<float> t3)
    {
        var ab = Avx512F.UnpackLow(t0, t1) + Avx512F.UnpackHigh(t0, t1);   // per quarter [t0 x0+x2, t1 x0+x2, t0 x1+x3, t1 x1+x3]
        var cd = Avx512F.UnpackLow(t2, t3) + Avx512F.UnpackHigh(t2, t3);
        return Avx512F.Shuffle(ab, cd, 0x44) + Avx512F.Shuffle(ab, cd, 0xEE);
    }

    /// <summary>A row of a dot-product block: the first <paramref name="cols"/> of four sums, scaled and stored (C is not touched past them).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreRow4<TStore>(float* c, Vector128<float> sums, int cols, Vector128<float> alpha, Vector128<float> beta)
        where TStore : struct, IStoreMode
    {
        if (TStore.Scales) sums *= alpha;
        if (cols == 4)
        {
            if (TStore.Accumulates) sums = Vector128.FusedMultiplyAdd(Vector128.Load(c), beta, sums);
            sums.Store(c);
            return;
        }
        for (int t = 0; t < cols; t++)
            c[t] = TStore.Accumulates ? MathF.FusedMultiplyAdd(c[t], beta.ToScalar(), sums.GetElement(t)) : sums.GetElement(t);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreScaled<TStore>(float* c, Vector512<float> acc, Vector512<float> alpha, Vector512<float> beta) where TStore : struct, IStoreMode
    {
        if (TStore.Scales) acc *= alpha;
        if (TStore.Accumulates) acc = Vector512.FusedMultiplyAdd(Vector512.Load(c), beta, acc);
        acc.Store(c);
    }

    /// <summary><see cref="StoreScaled"/> for 8 floats.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreScaled256<TStore>(float* c, Vector256<float> acc, Vector256<float> alpha, Vector256<float> beta) where TStore : struct, IStoreMode
    {
        if (TStore.Scales) acc *= alpha;
        if (TStore.Accumulates) acc = Vector256.FusedMultiplyAdd(Vector256.Load(c), beta, acc);
        acc.Store(c);
    }

    /// <summary><see cref="StoreScaledLeading"/> for 8 floats (vmaskmovps: nothing outside the mask is read or written).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreScaledLeading256<TStore>(float* c, Vector256<float> acc, Vector256<float> alpha, Vector256<float> beta, Vector256<float> mask)
        where TStore : struct, IStoreMode
    {
        if (TStore.Scales) acc *= alpha;
        if (TStore.Accumulates) acc = Vector256.FusedMultiplyAdd(Avx.MaskLoad(c, mask), beta, acc);
        Avx.MaskStore(c, mask, acc);
    }

    /// <summary>c[0..n) = t + beta * c (c is not read when beta is 0).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void MergeRow(float* c, float* t, int n, float beta)
    {
        int j = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var vb = Vector256.Create(beta);
            for (; j <= n - 8; j += 8)
            {
                var x = Vector256.Load(t + j);
                (beta == 0f ? x : Vector256.FusedMultiplyAdd(Vector256.Load(c + j), vb, x)).Store(c + j);
            }
        }
        for (; j < n; j++) c[j] = beta == 0f ? t[j] : t[j] + beta * c[j];
    }

    /// <summary>
    /// The BLIS five loops over one worker's slice of C. Work is split along n when C is wide and
    /// along m otherwise, in whole micro-tiles, so each worker packs its own panels and writes its own part of C.
    /// </summary>
    private struct PackedWork : IParallelWork
    {
        private readonly Operands _op;
        private readonly int _m, _n, _k;
        private readonly int _mr, _nr, _mc, _kc, _nc;
        private readonly delegate*<int, float*, float*, int, float*, int, float, float, float*, void> _tile;
        private readonly bool _maskedEdges;
        private readonly bool _avx2Edges;
        private readonly bool _splitN;
        public readonly int Workers;

        public PackedWork(Operands op, int m, int n, int k, GemmKernel gk, int workers)
        {
            _op = op; _m = m; _n = n; _k = k;
            _mr = gk.MR; _nr = gk.NR; _mc = gk.MC; _kc = gk.KC; _nc = gk.NC;
            // Decided from the whole product, not a worker's slice, so the kc blocks (and the rounding) do not depend on
            // the worker count.
            if (ReadsBInPlace(op, m)) _kc = Math.Min(_kc, InPlaceKC);
            _tile = gk.Tile;
            _maskedEdges = gk.MaskedEdges;
            _avx2Edges = gk.Avx2Edges;
            int nTiles = (n + _nr - 1) / _nr, mTiles = (m + _mr - 1) / _mr;
            _splitN = nTiles >= workers && (nTiles >= mTiles || mTiles < workers);
            Workers = Math.Max(1, Math.Min(workers, _splitN ? nTiles : mTiles));
        }

        public void Execute(int worker, int workers)
        {
            var (m0, m1) = _splitN ? (0, _m) : WorkerPool.Partition(_m, worker, workers, _mr);
            var (n0, n1) = _splitN ? WorkerPool.Partition(_n, worker, workers, _nr) : (0, _n);
            if (m0 < m1 && n0 < n1) Blocked(m0, m1, n0, n1);
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void Blocked(int m0, int m1, int n0, int n1)
        {
            int kcMax = Math.Min(_kc, _k);
            float* packA = ThreadScratch.A(_mc * kcMax);
            float* packB = ThreadScratch.B(Math.Min(_nc, RoundUpTo(n1 - n0, _nr)) * kcMax);
            float* edge = stackalloc float[_mr * _nr + 16];
            // With few rows of A, each packed element of B would serve only a few micro-tiles, and packing would cost
            // about as much as the arithmetic: when B's rows are contiguous the kernel reads them in place instead. A
            // last, partial panel is read in place through masks where the edge kernels have them, else packed, so no
            // read runs past the end of a row.
            bool bInPlace = ReadsBInPlace(_op, m1 - m0);
            for (int jc = n0; jc < n1; jc += _nc)
            {
                int nc = Math.Min(_nc, n1 - jc);
                int inPlaceCols = !bInPlace ? 0 : _maskedEdges ? nc : nc / _nr * _nr;
                for (int pc = 0; pc < _k; pc += _kc)
                {
                    int kc = Math.Min(_kc, _k - pc);
                    float beta = pc == 0 ? _op.Beta : 1f;
                    if (bInPlace) { if (inPlaceCols < nc) PackB(packB + (long)inPlaceCols * kc, pc, kc, jc + inPlaceCols, nc - inPlaceCols); }
                    else PackB(packB, pc, kc, jc, nc);
                    for (int ic = m0; ic < m1; ic += _mc)
                    {
                        int mc = Math.Min(_mc, m1 - ic);
                        PackA(packA, ic, mc, pc, kc);
                        for (int jr = 0; jr < nc; jr += _nr)
                        {
                            int nr = Math.Min(_nr, nc - jr);
                            bool inPlace = jr < inPlaceCols;
                            float* bp = inPlace ? _op.B + (long)pc * _op.BRow + jc + jr : packB + (long)jr * kc;
                            int ldb = inPlace ? _op.BRow : _nr;
                            // The next packed B panel, hinted into L2 a slice per call while this one is in use.
                            float* nextPanel = jr + _nr < nc && jr + _nr >= inPlaceCols ? packB + (long)(jr + _nr) * kc : null;
                            for (int ir = 0; ir < mc; ir += _mr)
                            {
                                int mr = Math.Min(_mr, mc - ir);
                                float* ap = packA + (long)ir * kc;
                                float* cij = _op.C + (long)(ic + ir) * _op.Ldc + jc + jr;
                                float* nextB = MicroKernels.NextPanelSlice(nextPanel, ir / _mr, kc, _nr);
                                if (mr == _mr && nr == _nr)
                                    _tile(kc, ap, bp, ldb, cij, _op.Ldc, _op.Alpha, beta, nextB);
                                else if (_maskedEdges)
                                    MicroKernels.Avx512Edge(mr, nr)(kc, ap, bp, ldb, cij, _op.Ldc, _op.Alpha, beta, nextB, mr, nr);
                                else if (_avx2Edges && nr == _nr)
                                    MicroKernels.Avx2Edge(mr, nr)(kc, ap, bp, ldb, cij, _op.Ldc, _op.Alpha, beta, nextB);
                                else
                                    EdgeTile(_avx2Edges ? MicroKernels.Avx2Edge(mr, nr) : _tile, kc, ap, bp, ldb, cij, mr, nr, beta, edge, nextB);
                            }
                        }
                    }
                }
            }
        }

        /// <summary>
        /// A partial tile: <paramref name="kernel"/> (the full tile's, or one covering at least mr x nr) writes to scratch
        /// with rows NR apart, then the valid mr x nr corner merges into C.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void EdgeTile(delegate*<int, float*, float*, int, float*, int, float, float, float*, void> kernel, int kc, float* ap, float* bp,
            int ldb, float* c, int mr, int nr, float beta, float* scratch, float* nextB)
        {
            float* tile = (float*)(((nint)scratch + 63) & ~(nint)63);
            kernel(kc, ap, bp, ldb, tile, _nr, _op.Alpha, 0f, nextB);
            for (int i = 0; i < mr; i++)
                MergeRow(c + (long)i * _op.Ldc, tile + i * _nr, nr, beta);
        }

        /// <summary>Packs A[ic.., pc..] (mc x kc) as micro-panels of MR rows: panel[p * MR + i], zero-padded.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private readonly void PackA(float* dst, int ic, int mc, int pc, int kc)
        {
            for (int ir = 0; ir < mc; ir += _mr)
                PackPanel(dst + (long)ir * kc, _op.A + (long)(ic + ir) * _op.ARow + (long)pc * _op.ACol,
                    _mr, Math.Min(_mr, mc - ir), kc, along: _op.ACol, across: _op.ARow);
        }

        /// <summary>Packs B[pc.., jc..] (kc x nc) as micro-panels of NR columns: panel[p * NR + j], zero-padded.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private readonly void PackB(float* dst, int pc, int kc, int jc, int nc)
        {
            for (int jr = 0; jr < nc; jr += _nr)
                PackPanel(dst + (long)jr * kc, _op.B + (long)pc * _op.BRow + (long)(jc + jr) * _op.BCol,
                    _nr, Math.Min(_nr, nc - jr), kc, along: _op.BRow, across: _op.BCol);
        }

        private static int RoundUpTo(int x, int to) => (x + to - 1) / to * to;
    }

    /// <summary>
    /// Packs one micro-panel: dst[p * width + i] = src[p * along + i * across] for i &lt; valid, 0 for the padding
    /// rows up to width. Two layouts occur: contiguous across the panel (copy a row of floats per p) and contiguous
    /// along k (each of the valid source rows is read once, written with stride width).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackPanel(float* dst, float* src, int width, int valid, int kc, long along, long across)
    {
        if (across == 1)
        {
            for (int p = 0; p < kc; p++, src += along, dst += width)
            {
                int i = 0;
                if (Vector512.IsHardwareAccelerated)
                    for (; i <= valid - 16; i += 16) Vector512.Store(Vector512.Load(src + i), dst + i);
                for (; i <= valid - 8; i += 8) Vector256.Store(Vector256.Load(src + i), dst + i);
                for (; i < valid; i++) dst[i] = src[i];
                for (; i < width; i++) dst[i] = 0f;
            }
            return;
        }
        int i0 = 0;
        if (along == 1 && Avx.IsSupported)
        {
            // A 12-row panel is 8 rows, then 4, both transposed in registers (the 4 were a scalar loop: 20 x 25 x 5760 NN and
            // 100 x 784 x 100 NN ran faster without it).
            for (; i0 <= valid - 8; i0 += 8) Transpose8Rows(dst + i0, src + i0 * across, width, kc, across);
            if (i0 <= valid - 4) { Transpose4Rows(dst + i0, src + i0 * across, width, kc, across); i0 += 4; }
        }
        for (int i = i0; i < valid; i++)
        {
            float* s = src + i * across, d = dst + i;
            if (along == 1)
                for (int p = 0; p < kc; p++, d += width) *d = s[p];
            else
                for (int p = 0; p < kc; p++, d += width, s += along) *d = *s;
        }
        for (int i = valid; i < width; i++)
        {
            float* d = dst + i;
            for (int p = 0; p < kc; p++, d += width) *d = 0f;
        }
    }

    /// <summary>
    /// dst[p * width + i] = src[i * across + p] for 4 rows i and every p &lt; kc: 4 x 8 blocks transposed in registers,
    /// each store writing 4 consecutive packed floats.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Transpose4Rows(float* dst, float* src, int width, int kc, long across)
    {
        int p = 0;
        for (; p <= kc - 8; p += 8)
        {
            var (u0, u1, u2, u3) = Transpose4x8(src + p, across);
            float* d = dst + (long)p * width;
            Sse.Store(d, u0.GetLower()); Sse.Store(d + width, u1.GetLower());
            Sse.Store(d + 2L * width, u2.GetLower()); Sse.Store(d + 3L * width, u3.GetLower());
            Sse.Store(d + 4L * width, u0.GetUpper()); Sse.Store(d + 5L * width, u1.GetUpper());
            Sse.Store(d + 6L * width, u2.GetUpper()); Sse.Store(d + 7L * width, u3.GetUpper());
        }
        for (; p < kc; p++)
            for (int i = 0; i < 4; i++) dst[(long)p * width + i] = src[i * across + p];
    }

    /// <summary>
    /// dst[p * width + i] = src[i * across + p] for 8 rows i and every p &lt; kc: two 4 x 8 blocks transposed in registers
    /// and their halves joined (lane permute), so each store writes 8 consecutive packed floats.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Transpose8Rows(float* dst, float* src, int width, int kc, long across)
    {
        int p = 0;
        for (; p <= kc - 8; p += 8)
        {
            var (u0, u1, u2, u3) = Transpose4x8(src + p, across);
            var (u4, u5, u6, u7) = Transpose4x8(src + p + 4 * across, across);
            float* d = dst + (long)p * width;
            Avx.Store(d, Avx.Permute2x128(u0, u4, 0x20)); d += width;
            Avx.Store(d, Avx.Permute2x128(u1, u5, 0x20)); d += width;
            Avx.Store(d, Avx.Permute2x128(u2, u6, 0x20)); d += width;
            Avx.Store(d, Avx.Permute2x128(u3, u7, 0x20)); d += width;
            Avx.Store(d, Avx.Permute2x128(u0, u4, 0x31)); d += width;
            Avx.Store(d, Avx.Permute2x128(u1, u5, 0x31)); d += width;
            Avx.Store(d, Avx.Permute2x128(u2, u6, 0x31)); d += width;
            Avx.Store(d, Avx.Permute2x128(u3, u7, 0x31));
        }
        for (; p < kc; p++)
            for (int i = 0; i < 8; i++) dst[(long)p * width + i] = src[i * across + p];
    }

    /// <summary>
    /// The 4 x 8 block at s (rows <paramref name="across"/> floats apart) transposed in registers (unpack, shuffle): each
    /// result holds two columns of the block as 4 floats each, columns {0, 4}, {1, 5}, {2, 6} and {3, 7} (low, high half).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector256<float>, Vector256<float>, Vector256<float>, Vector256<float>) Transpose4x8(float* s, long across)
    {
        var r0 = Avx.LoadVector256(s); var r1 = Avx.LoadVector256(s + across);
        var r2 = Avx.LoadVector256(s + 2 * across); var r3 = Avx.LoadVector256(s + 3 * across);
        var t0 = Avx.UnpackLow(r0, r1); var t1 = Avx.UnpackHigh(r0, r1);
        var t2 = Avx.UnpackLow(r2, r3); var t3 = Avx.UnpackHigh(r2, r3);
        return (Avx.Shuffle(t0, t2, 0x44), Avx.Shuffle(t0, t2, 0xEE), Avx.Shuffle(t1, t3, 0x44), Avx.Shuffle(t1, t3, 0xEE));
    }
}
