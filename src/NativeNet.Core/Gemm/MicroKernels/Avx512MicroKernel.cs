using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace NativeNet.Core.Gemm;

internal static unsafe partial class MicroKernels
{
    /// <summary>The AVX-512 micro-kernel: a 12 x 32 tile, 24 zmm accumulators, 2 loads of B and 12 broadcasts of A a step.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Avx512Tile12x32(int kc, float* a, float* b, int ldb, float* c, int ldc, float alpha, float beta, float* nextB)
        => Avx512Tile<Rows12, Vectors2, No>(kc, a, b, ldb, c, ldc, alpha, beta, nextB, 12, 32);

    /// <summary>
    /// The kernel for an AVX-512 edge tile of r &lt;= 12 rows and c &lt;= 32 columns (arguments as the tile's, then r and c):
    /// the smallest compiled row count that covers r (4, 8, 10 for the book's mini-batch, or 12), and one vector of B
    /// per step when c &lt;= 16, so a panel's last few columns cost half a tile. B's last vector is read through the
    /// column mask, so an edge panel can be read in place instead of packed.
    /// </summary>
    public static delegate*<int, float*, float*, int, float*, int, float, float, float*, int, int, void> Avx512Edge(int rows, int cols) => cols <= 16
        ? rows <= 4 ? &Avx512Tile<Rows4, Vectors1, Yes> : rows <= 8 ? &Avx512Tile<Rows8, Vectors1, Yes> : rows <= 10 ? &Avx512Tile<Rows10, Vectors1, Yes> : &Avx512Tile<Rows12, Vectors1, Yes>
        : rows <= 4 ? &Avx512Tile<Rows4, Vectors2, Yes> : rows <= 8 ? &Avx512Tile<Rows8, Vectors2, Yes> : rows <= 10 ? &Avx512Tile<Rows10, Vectors2, Yes> : &Avx512Tile<Rows12, Vectors2, Yes>;

    /// <summary>
    /// The 12 x 32 kernel computing only the first TRows rows and 16 * TVectors columns of the panels (A's packed panel
    /// is still 12 wide, B's 32) and storing the first <paramref name="rows"/> x <paramref name="cols"/> of them, the last
    /// vector of each row through a mask, straight into C with nothing outside the tile touched. With TMaskedB, B's last
    /// vector is read through the same mask (B may end at the tile's last column); without, B's panel holds
    /// 16 * TVectors readable columns. Accumulators cRV: row R, vector V.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Avx512Tile<TRows, TVectors, TMaskedB>(int kc, float* a, float* b, int ldb, float* c, int ldc, float alpha, float beta, float* nextB, int rows, int cols)
        where TRows : struct, IStaticCount where TVectors : struct, IStaticCount where TMaskedB : struct, IStaticFlag
    {
        bool two = TVectors.Value == 2;
        // The last vector of each row of B and C goes through this mask (all lanes for a full tile).
        var last = MaskedLanes.LeadingLanes(cols - 16 * (TVectors.Value - 1));
        Vector512<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default, c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default, c60 = default, c61 = default, c70 = default, c71 = default, c80 = default, c81 = default, c90 = default, c91 = default, c100 = default, c101 = default, c110 = default, c111 = default;
        int unfetched = PrefetchesC(kc) ? rows : 0;   // C's rows, asked for during the loop (see PrefetchCMinDepth)
        float* nextRow = c;
        for (int p = 0; p < kc;)
        {
            int end = kc;
            if (unfetched > 0 || nextB != null)
            {
                end = Math.Min(kc, p + PrefetchCEvery);
                PrefetchStep(ref nextRow, ref unfetched, cols, ldc, ref nextB);
            }
            for (; p < end; p++)
            {
                var b0 = TMaskedB.Value && !two ? MaskedLanes.LoadLeading(b, last) : Vector512.Load(b);
                var b1 = !two ? default : TMaskedB.Value ? MaskedLanes.LoadLeading(b + 16, last) : Vector512.Load(b + 16);
                // Each broadcast of A is written where it is used: with one vector of B the JIT then folds it into the FMA
                // (an embedded {1to16} operand, which Zen 4 runs faster than a separate vbroadcastss); with two it still
                // loads it once for both.
                { c00 = Vector512.FusedMultiplyAdd(Vector512.Create(a[0]), b0, c00); if (two) c01 = Vector512.FusedMultiplyAdd(Vector512.Create(a[0]), b1, c01); }
                { c10 = Vector512.FusedMultiplyAdd(Vector512.Create(a[1]), b0, c10); if (two) c11 = Vector512.FusedMultiplyAdd(Vector512.Create(a[1]), b1, c11); }
                { c20 = Vector512.FusedMultiplyAdd(Vector512.Create(a[2]), b0, c20); if (two) c21 = Vector512.FusedMultiplyAdd(Vector512.Create(a[2]), b1, c21); }
                { c30 = Vector512.FusedMultiplyAdd(Vector512.Create(a[3]), b0, c30); if (two) c31 = Vector512.FusedMultiplyAdd(Vector512.Create(a[3]), b1, c31); }
                if (TRows.Value > 4) { c40 = Vector512.FusedMultiplyAdd(Vector512.Create(a[4]), b0, c40); if (two) c41 = Vector512.FusedMultiplyAdd(Vector512.Create(a[4]), b1, c41); }
                if (TRows.Value > 5) { c50 = Vector512.FusedMultiplyAdd(Vector512.Create(a[5]), b0, c50); if (two) c51 = Vector512.FusedMultiplyAdd(Vector512.Create(a[5]), b1, c51); }
                if (TRows.Value > 6) { c60 = Vector512.FusedMultiplyAdd(Vector512.Create(a[6]), b0, c60); if (two) c61 = Vector512.FusedMultiplyAdd(Vector512.Create(a[6]), b1, c61); }
                if (TRows.Value > 7) { c70 = Vector512.FusedMultiplyAdd(Vector512.Create(a[7]), b0, c70); if (two) c71 = Vector512.FusedMultiplyAdd(Vector512.Create(a[7]), b1, c71); }
                if (TRows.Value > 8) { c80 = Vector512.FusedMultiplyAdd(Vector512.Create(a[8]), b0, c80); if (two) c81 = Vector512.FusedMultiplyAdd(Vector512.Create(a[8]), b1, c81); }
                if (TRows.Value > 9) { c90 = Vector512.FusedMultiplyAdd(Vector512.Create(a[9]), b0, c90); if (two) c91 = Vector512.FusedMultiplyAdd(Vector512.Create(a[9]), b1, c91); }
                if (TRows.Value > 10) { c100 = Vector512.FusedMultiplyAdd(Vector512.Create(a[10]), b0, c100); if (two) c101 = Vector512.FusedMultiplyAdd(Vector512.Create(a[10]), b1, c101); }
                if (TRows.Value > 11) { c110 = Vector512.FusedMultiplyAdd(Vector512.Create(a[11]), b0, c110); if (two) c111 = Vector512.FusedMultiplyAdd(Vector512.Create(a[11]), b1, c111); }
                a += 12;
                b += ldb;
            }
        }
        var va = Vector512.Create(alpha);
        var vb = Vector512.Create(beta);
        bool update = beta != 0f;
        if (rows > 0) StoreRow512<TVectors>(c + 0L * ldc, c00, c01, va, vb, update, last);
        if (rows > 1) StoreRow512<TVectors>(c + 1L * ldc, c10, c11, va, vb, update, last);
        if (rows > 2) StoreRow512<TVectors>(c + 2L * ldc, c20, c21, va, vb, update, last);
        if (rows > 3) StoreRow512<TVectors>(c + 3L * ldc, c30, c31, va, vb, update, last);
        if (rows > 4) StoreRow512<TVectors>(c + 4L * ldc, c40, c41, va, vb, update, last);
        if (rows > 5) StoreRow512<TVectors>(c + 5L * ldc, c50, c51, va, vb, update, last);
        if (rows > 6) StoreRow512<TVectors>(c + 6L * ldc, c60, c61, va, vb, update, last);
        if (rows > 7) StoreRow512<TVectors>(c + 7L * ldc, c70, c71, va, vb, update, last);
        if (rows > 8) StoreRow512<TVectors>(c + 8L * ldc, c80, c81, va, vb, update, last);
        if (rows > 9) StoreRow512<TVectors>(c + 9L * ldc, c90, c91, va, vb, update, last);
        if (rows > 10) StoreRow512<TVectors>(c + 10L * ldc, c100, c101, va, vb, update, last);
        if (rows > 11) StoreRow512<TVectors>(c + 11L * ldc, c110, c111, va, vb, update, last);
    }

    /// <summary>One row of a tile: c = alpha * x (+ beta * c with <paramref name="update"/>), the last vector in the lanes of mask only.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreRow512<TVectors>(float* c, Vector512<float> x0, Vector512<float> x1, Vector512<float> alpha, Vector512<float> beta, bool update,
        Vector512<float> mask) where TVectors : struct, IStaticCount
    {
        if (update) GemmStores.StoreRow<TVectors, StoreUpdate>(c, x0, x1, alpha, beta, mask, maskLast: true);
        else GemmStores.StoreRow<TVectors, StoreScaledSums>(c, x0, x1, alpha, beta, mask, maskLast: true);
    }
}
