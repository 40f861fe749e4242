using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace NativeNet.Core.Gemm;

internal static unsafe partial class MicroKernels
{
    /// <summary>
    /// The AVX2 kernel for an edge tile of r &lt;= 6 rows and c &lt;= 16 columns (arguments as the tile's): the first r
    /// rows of the 6 x 16 kernel, and one vector of B per step when c &lt;= 8, so a tile costs about what it computes. It
    /// stores 8 or 16 whole columns: straight into C when c is 16, else into scratch whose valid corner is merged.
    /// </summary>
    public static delegate*<int, float*, float*, int, float*, int, float, float, float*, void> Avx2Edge(int rows, int cols) => cols <= 8
        ? rows switch { 1 => &Avx2Tile<Rows1, Vectors1>, 2 => &Avx2Tile<Rows2, Vectors1>, 3 => &Avx2Tile<Rows3, Vectors1>, 4 => &Avx2Tile<Rows4, Vectors1>, 5 => &Avx2Tile<Rows5, Vectors1>, _ => &Avx2Tile<Rows6, Vectors1> }
        : rows switch { 1 => &Avx2Tile<Rows1, Vectors2>, 2 => &Avx2Tile<Rows2, Vectors2>, 3 => &Avx2Tile<Rows3, Vectors2>, 4 => &Avx2Tile<Rows4, Vectors2>, 5 => &Avx2Tile<Rows5, Vectors2>, _ => &Avx2Tile<Rows6, Vectors2> };

    /// <summary>
    /// The AVX2 micro-kernel, 6 x 16 (<c>Avx2Tile&lt;Rows6, Vectors2&gt;</c>: 12 ymm accumulators, 2 loads of B and 6
    /// broadcasts of A a step), or the first TRows rows and 8 * TVectors columns of such a tile: A's packed panel is 6
    /// wide and B's 16 whatever the tile uses. Accumulators cRV: row R, vector V.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Avx2Tile<TRows, TVectors>(int kc, float* a, float* b, int ldb, float* c, int ldc, float alpha, float beta, float* nextB)
        where TRows : struct, IStaticCount where TVectors : struct, IStaticCount
    {
        int rows = TRows.Value;
        bool two = TVectors.Value == 2;
        Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector256<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        int unfetched = PrefetchesC(kc) ? rows : 0;   // C's rows, asked for during the loop (see PrefetchCMinDepth)
        float* nextRow = c;
        for (int p = 0; p < kc;)
        {
            int end = kc;
            if (unfetched > 0 || nextB != null)
            {
                end = Math.Min(kc, p + PrefetchCEvery);
                PrefetchStep(ref nextRow, ref unfetched, 8 * TVectors.Value, ldc, ref nextB);
            }
            for (; p < end; p++)
            {
                var b0 = Vector256.Load(b);
                var b1 = two ? Vector256.Load(b + 8) : default;
                Avx2Row<TVectors>(a[0], b0, b1, ref c00, ref c01);
                if (rows > 1) Avx2Row<TVectors>(a[1], b0, b1, ref c10, ref c11);
                if (rows > 2) Avx2Row<TVectors>(a[2], b0, b1, ref c20, ref c21);
                if (rows > 3) Avx2Row<TVectors>(a[3], b0, b1, ref c30, ref c31);
                if (rows > 4) Avx2Row<TVectors>(a[4], b0, b1, ref c40, ref c41);
                if (rows > 5) Avx2Row<TVectors>(a[5], b0, b1, ref c50, ref c51);
                a += 6;
                b += ldb;
            }
        }
        var va = Vector256.Create(alpha);
        var vb = Vector256.Create(beta);
        // The store mode is chosen once for the whole tile: with a short k (a convolution's 25-deep products) a test per
        // row is a visible share of the tile's time.
        if (beta == 0f) StoreTile256<TRows, TVectors, StoreScaledSums>(c, ldc, c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51, va, vb);
        else StoreTile256<TRows, TVectors, StoreUpdate>(c, ldc, c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51, va, vb);
    }

    /// <summary>The first TRows rows of a tile, 8 * TVectors floats each, in the store mode TStore.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreTile256<TRows, TVectors, TStore>(float* c, long ldc,
        Vector256<float> c00, Vector256<float> c01, Vector256<float> c10, Vector256<float> c11, Vector256<float> c20, Vector256<float> c21,
        Vector256<float> c30, Vector256<float> c31, Vector256<float> c40, Vector256<float> c41, Vector256<float> c50, Vector256<float> c51,
        Vector256<float> alpha, Vector256<float> beta)
        where TRows : struct, IStaticCount where TVectors : struct, IStaticCount where TStore : struct, IStoreMode
    {
        GemmStores.StoreRow<TVectors, TStore>(c, c00, c01, alpha, beta, default, maskLast: false);
        if (TRows.Value > 1) GemmStores.StoreRow<TVectors, TStore>(c + ldc, c10, c11, alpha, beta, default, maskLast: false);
        if (TRows.Value > 2) GemmStores.StoreRow<TVectors, TStore>(c + 2 * ldc, c20, c21, alpha, beta, default, maskLast: false);
        if (TRows.Value > 3) GemmStores.StoreRow<TVectors, TStore>(c + 3 * ldc, c30, c31, alpha, beta, default, maskLast: false);
        if (TRows.Value > 4) GemmStores.StoreRow<TVectors, TStore>(c + 4 * ldc, c40, c41, alpha, beta, default, maskLast: false);
        if (TRows.Value > 5) GemmStores.StoreRow<TVectors, TStore>(c + 5 * ldc, c50, c51, alpha, beta, default, maskLast: false);
    }

    /// <summary>One row of an <see cref="Avx2Tile{TRows, TVectors}"/> step: x0 += a * b0 and, with two vectors, x1 += a * b1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Avx2Row<TVectors>(float a, Vector256<float> b0, Vector256<float> b1, ref Vector256<float> x0, ref Vector256<float> x1)
        where TVectors : struct, IStaticCount
    {
        var ai = Vector256.Create(a);
        x0 = Vector256.FusedMultiplyAdd(ai, b0, x0);
        if (TVectors.Value == 2) x1 = Vector256.FusedMultiplyAdd(ai, b1, x1);
    }
}
