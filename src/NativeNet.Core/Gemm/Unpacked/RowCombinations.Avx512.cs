using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace NativeNet.Core.Gemm;

internal static unsafe partial class RowCombinations
{
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
        GemmStores.Store<TStore>(c, x0, alpha, beta);
        GemmStores.Store<TStore>(c + 16, x1, alpha, beta);
        GemmStores.Store<TStore>(c + 32, x2, alpha, beta);
        GemmStores.Store<TStore>(c + 48, x3, alpha, beta);
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
    /// C[i..i+TRows, j..j+16*TVectors) = alpha * A[i..i+TRows, :] B[:, j..] + beta * C: a whole 32-column block
    /// (TVectors 2), or 16 columns limited to the first <paramref name="lastColumns"/> (TVectors 1). A one-vector block
    /// writes C through a mask, nothing outside the block touched, and loads B's vector whole while the lanes past the
    /// block stay inside B (<see cref="MaskedLanes.WholeLoadRows"/>), masked in the rows after (those lanes never reach C).
    /// Accumulators cR0 for the first 16 columns of row R, cR1 for the second 16 of a 32-column block. A is read where it
    /// lies: row R of the block at a0, a4 or a8 plus (R mod 4) rows, so three pointers and the row stride address all
    /// twelve, and the JIT keeps them in registers.
    /// Each broadcast of A is written where it is used: in a one-vector block the JIT then folds it into the FMA (an
    /// embedded {1to16} operand), in a two-vector block it still loads it once for both FMAs. (Zen 4 runs a separate
    /// vbroadcastss, or a masked load of B every step, measurably slower.)
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RowBlock<TRows, TVectors, TStore>(in Operands op, int i, int j, int k, int lastColumns)
        where TRows : struct, IStaticCount where TVectors : struct, IStaticCount where TStore : struct, IStoreMode
    {
        bool two = TVectors.Value == 2;
        var lastMask = MaskedLanes.LeadingLanes(lastColumns);
        int whole = MaskedLanes.WholeLoadRows(k, op.BRow, Vector512<float>.Count - lastColumns);
        long s = op.ARow, step = op.ACol;
        float* a0 = op.A + i * s, a4 = a0 + 4 * s, a8 = a0 + 8 * s;
        Vector512<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default, c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default, c60 = default, c61 = default, c70 = default, c71 = default, c80 = default, c81 = default, c90 = default, c91 = default, c100 = default, c101 = default, c110 = default, c111 = default;
        float* bp = op.B + j;
        long ldb = op.BRow;
        for (int p = 0; p < k; p++, a0 += step, a4 += step, a8 += step, bp += ldb)
        {
            var b0 = two || p < whole ? Vector512.Load(bp) : MaskedLanes.LoadLeading(bp, lastMask);
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
        bool maskLast = TVectors.Value == 1;   // a block of two vectors is whole; one of one vector may end inside it
        GemmStores.StoreRow<TVectors, TStore>(c, c00, c01, alpha, beta, lastMask, maskLast);
        if (TRows.Value > 1) GemmStores.StoreRow<TVectors, TStore>(c + ldc, c10, c11, alpha, beta, lastMask, maskLast);
        if (TRows.Value > 2) GemmStores.StoreRow<TVectors, TStore>(c + 2 * ldc, c20, c21, alpha, beta, lastMask, maskLast);
        if (TRows.Value > 3) GemmStores.StoreRow<TVectors, TStore>(c + 3 * ldc, c30, c31, alpha, beta, lastMask, maskLast);
        if (TRows.Value > 4) GemmStores.StoreRow<TVectors, TStore>(c + 4 * ldc, c40, c41, alpha, beta, lastMask, maskLast);
        if (TRows.Value > 5) GemmStores.StoreRow<TVectors, TStore>(c + 5 * ldc, c50, c51, alpha, beta, lastMask, maskLast);
        if (TRows.Value > 6) GemmStores.StoreRow<TVectors, TStore>(c + 6 * ldc, c60, c61, alpha, beta, lastMask, maskLast);
        if (TRows.Value > 7) GemmStores.StoreRow<TVectors, TStore>(c + 7 * ldc, c70, c71, alpha, beta, lastMask, maskLast);
        if (TRows.Value > 8) GemmStores.StoreRow<TVectors, TStore>(c + 8 * ldc, c80, c81, alpha, beta, lastMask, maskLast);
        if (TRows.Value > 9) GemmStores.StoreRow<TVectors, TStore>(c + 9 * ldc, c90, c91, alpha, beta, lastMask, maskLast);
        if (TRows.Value > 10) GemmStores.StoreRow<TVectors, TStore>(c + 10 * ldc, c100, c101, alpha, beta, lastMask, maskLast);
        if (TRows.Value > 11) GemmStores.StoreRow<TVectors, TStore>(c + 11 * ldc, c110, c111, alpha, beta, lastMask, maskLast);
    }
}
