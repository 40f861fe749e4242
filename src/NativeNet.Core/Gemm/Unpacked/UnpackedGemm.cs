using System.Runtime.CompilerServices;
using NativeNet.Core.Threading;

namespace NativeNet.Core.Gemm;

/// <summary>
/// The unpacked path: products where packing would touch as much memory as the product does arithmetic, computed
/// straight from A and B where they lie, by storage case: B's rows contiguous (NN, TN) in register blocks of rows of C
/// (<see cref="RowCombinations"/>), A's rows and B's columns contiguous (NT) as dot products (<see cref="DotProducts"/>), and TT
/// in plain loops.
/// </summary>
internal static unsafe class UnpackedGemm
{
    /// <summary>Products with at most this many multiply-adds skip packing when the unpacked path is plain loops (TT).</summary>
    public const long DirectThreshold = 1L << 11;

    /// <summary>
    /// Products with at most this many multiply-adds skip packing when the unpacked path is vectorized (every transpose
    /// but TT): packing and the scratch edge tile would cost more than the product (10 x 30 x 10, the book's output layer
    /// at a batch of 10).
    /// </summary>
    public const long VectorDirectThreshold = 1L << 13;

    /// <summary>
    /// Whether a product is better done without packing: a single row; few multiply-adds; a small inner dimension (the
    /// packed panels would be reused only k times); with register blocks, a small B read from L1 or L2 by every block of
    /// rows (<see cref="GemmConfig.DirectMaxColumns"/>); and NT products with few rows (<see cref="GemmConfig.DirectNtMaxRows"/>).
    /// </summary>
    public static bool Pays(in Operands op, GemmConfig config, int m, int n, int k)
    {
        long macs = (long)m * n * k;
        bool vectorized = op.BRowsContiguous || op.DotProductLayout;
        if (m == 1 || macs <= (vectorized ? VectorDirectThreshold : DirectThreshold)) return true;
        if (op.BRowsContiguous && k <= 16) return true;
        if (op.BRowsContiguous && config.RegisterBlocks && m <= config.InPlaceRows && n <= config.DirectMaxColumns && (long)k * n <= config.DirectMaxB)
            return true;
        if (!op.DotProductLayout || k < 32) return false;
        return m <= config.DirectNtMaxRows
            || (m <= config.DirectNtLongMaxRows && k >= config.DirectNtLongMinDepth && (long)m * k <= config.DirectNtLongMaxA);
    }

    /// <summary>Runs the product on one worker without a work item, or split over the pool.</summary>
    public static void Multiply(in Operands op, int m, int n, int k, int workers, WorkerPool pool)
    {
        if (workers == 1)
        {
            Columns(op, m, 0, n, k);
            return;
        }
        var work = new Split(op, m, n, k);
        pool.Run(ref work, workers);
    }

    /// <summary>
    /// The unpacked path split over columns of C (each worker a contiguous range of j) or, for row blocks on a tall C,
    /// over its rows in whole blocks of four: a layer's weight update (C the weights) then streams whole rows of C per
    /// worker instead of half rows. Row blocks that read B from packed strips split by whole strips, so each worker packs
    /// only its own columns of B and every row of C shares the copy. Either way each element of C sees the same
    /// operations whatever the worker count.
    /// </summary>
    private readonly struct Split(Operands op, int m, int n, int k) : IParallelWork
    {
        private readonly Operands _op = op;

        public void Execute(int worker, int workers)
        {
            if (RowCombinations.ReadsStrips(_op, m, k))
            {
                var (s0, s1) = WorkerPool.Partition(n, worker, workers, grain: RowCombinations.StripColumns);
                if (s0 < s1) Columns(in _op, m, s0, s1, k);
                return;
            }
            if (_op.BRowsContiguous && m >= 8 * workers)
            {
                var (i0, i1) = WorkerPool.Partition(m, worker, workers, grain: 4);
                if (i0 < i1) Columns(_op.FromRow(i0), i1 - i0, 0, n, k);
                return;
            }
            // Dot products go in groups of columns: a grain of a whole group keeps one worker's groups where they are on
            // one thread, and splits a narrow C evenly (a convolution's weight gradient).
            var (j0, j1) = WorkerPool.Partition(n, worker, workers, grain: _op.BRowsContiguous ? 16 : DotProducts.Columns);
            if (j0 < j1) Columns(in _op, m, j0, j1, k);
        }
    }

    /// <summary>
    /// Columns [j0, j1) of C, the stores compiled for the <see cref="IStoreMode"/> that alpha and beta call for: chosen
    /// once per call, since a store that multiplies by alpha and tests beta per vector costs a measurable share of a
    /// short block.
    /// </summary>
    private static void Columns(in Operands op, int m, int j0, int j1, int k)
    {
        if (op.Beta != 0f) Columns<StoreUpdate>(op, m, j0, j1, k);
        else if (op.Alpha != 1f) Columns<StoreScaledSums>(op, m, j0, j1, k);
        else Columns<StoreSums>(op, m, j0, j1, k);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Columns<TStore>(in Operands op, int m, int j0, int j1, int k) where TStore : struct, IStoreMode
    {
        if (op.BRowsContiguous) RowCombinations.Run<TStore>(op, m, j0, j1, k);
        else if (op.DotProductLayout) DotProducts.Run<TStore>(op, m, j0, j1, k);
        else
        {
            for (int i = 0; i < m; i++)
                for (int j = j0; j < j1; j++)
                {
                    float sum = 0f;
                    for (int p = 0; p < k; p++)
                        sum = MathF.FusedMultiplyAdd(op.A[(long)i * op.ARow + (long)p * op.ACol], op.B[(long)p * op.BRow + (long)j * op.BCol], sum);
                    GemmStores.Store(op.C + (long)i * op.Ldc + j, sum, op.Alpha, op.Beta);
                }
        }
    }
}
