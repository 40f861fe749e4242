using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace NativeNet.Core.Gemm;

internal static unsafe partial class DotProducts
{
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
    /// by TCols + TRows loads per TRows * TCols FMAs, the block's sums reduced together (<see cref="HorizontalSums.Sums16"/>, <see cref="HorizontalSums.Sums8"/>)
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
        // row is read. (Not stack copies of the tails: a reload whose address matched a just-stored row of C in its low 12
        // bits waited for that store, so small products ran fast or slow by where the stack fell.)
        if (p < k)
            DotRowsStep<TRows, TCols, Yes>(a0 + p, lda, b0 + p, ldb, MaskedLanes.LeadingLanes(k - p), ref s00, ref s01, ref s02, ref s03, ref s04, ref s05,
                ref s10, ref s11, ref s12, ref s13, ref s14, ref s15, ref s20, ref s21, ref s22, ref s23, ref s24, ref s25,
                ref s30, ref s31, ref s32, ref s33, ref s34, ref s35);
        // Quarter r of first holds row r's sums of columns 0-3, of last its sums of columns 4-5 (accumulators of columns
        // the block does not have are still zero). Blocks of 1 and 2 rows reduce only the vectors they have, in the same
        // order as the 4-row tree, then gather their sums into those quarters.
        Vector512<float> first, last = default;
        if (rows == 4)
        {
            first = HorizontalSums.Sums16(s00, s10, s20, s30, s01, s11, s21, s31, s02, s12, s22, s32, s03, s13, s23, s33);
            if (cols > 4) last = HorizontalSums.Sums8(s04, s14, s24, s34, s05, s15, s25, s35);
        }
        else if (rows == 2)
        {
            // Sums8: lanes 4q, 4q + 1 hold row 0's and row 1's sum of column q.
            first = Avx512F.PermuteVar16x32(HorizontalSums.Sums8(s00, s01, s02, s03, s10, s11, s12, s13), Vector512.Create(0, 4, 8, 12, 1, 5, 9, 13, 0, 0, 0, 0, 0, 0, 0, 0));
            // Lanes 0, 4, 8, 12: rows 0 and 1 of column 4, then of column 5.
            if (cols > 4) last = Avx512F.PermuteVar16x32(HorizontalSums.QuarterTotals(HorizontalSums.Quarters(s04, s14, s05, s15)), Vector512.Create(0, 8, 0, 0, 4, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0));
        }
        else
        {
            Debug.Assert(rows == 1, "DotProductColumns makes blocks of 4, 2 and 1 rows only");
            var quarterStarts = Vector512.Create(0, 4, 8, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
            first = Avx512F.PermuteVar16x32(HorizontalSums.QuarterTotals(HorizontalSums.Quarters(s00, s01, s02, s03)), quarterStarts);
            if (cols > 4) last = Avx512F.PermuteVar16x32(HorizontalSums.QuarterTotals(HorizontalSums.Quarters(s04, s05, s04, s05)), quarterStarts);
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
        var y0 = MaskedLanes.Load<TMasked>(b, mask);
        var y1 = cols > 1 ? MaskedLanes.Load<TMasked>(b + ldb, mask) : default;
        var y2 = cols > 2 ? MaskedLanes.Load<TMasked>(b + 2 * ldb, mask) : default;
        var y3 = cols > 3 ? MaskedLanes.Load<TMasked>(b + 3 * ldb, mask) : default;
        var y4 = cols > 4 ? MaskedLanes.Load<TMasked>(b + 4 * ldb, mask) : default;
        var y5 = cols > 5 ? MaskedLanes.Load<TMasked>(b + 5 * ldb, mask) : default;
        DotStep<TCols>(MaskedLanes.Load<TMasked>(a, mask), y0, y1, y2, y3, y4, y5, ref s00, ref s01, ref s02, ref s03, ref s04, ref s05);
        if (rows > 1) DotStep<TCols>(MaskedLanes.Load<TMasked>(a + lda, mask), y0, y1, y2, y3, y4, y5, ref s10, ref s11, ref s12, ref s13, ref s14, ref s15);
        if (rows > 2)
        {
            DotStep<TCols>(MaskedLanes.Load<TMasked>(a + 2 * lda, mask), y0, y1, y2, y3, y4, y5, ref s20, ref s21, ref s22, ref s23, ref s24, ref s25);
            DotStep<TCols>(MaskedLanes.Load<TMasked>(a + 3 * lda, mask), y0, y1, y2, y3, y4, y5, ref s30, ref s31, ref s32, ref s33, ref s34, ref s35);
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
        GemmStores.StoreFirst<TStore>(c, first, Math.Min(TCols.Value, 4), alpha, beta);
        if (TCols.Value > 4) GemmStores.StoreFirst<TStore>(c + 4, last, TCols.Value - 4, alpha, beta);
    }
}
