using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace NativeNet.Core.Gemm;

internal static unsafe partial class RowCombinations
{
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
    /// <see cref="RowBlock{TRows, TVectors, TStore}"/> for AVX2: C[i..i+TRows, j..j+8*TVectors) for TRows &lt;= 6, a whole 16-column block
    /// (TVectors 2: 12 accumulators, 2 loads of B and 6 broadcasts of A a step, as the packed 6 x 16 kernel) or 8 columns
    /// limited to the first <paramref name="lastColumns"/> (TVectors 1), B's vector loaded whole while
    /// <see cref="MaskedLanes.WholeLoadRows"/> allows, masked (vmaskmovps) after, and C written through the mask. Accumulators cR0 and
    /// cR1: row R's first and second 8 columns. A's rows at a0 and a3 plus (R mod 3) rows.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RowBlock256<TRows, TVectors, TStore>(in Operands op, int i, int j, int k, int lastColumns)
        where TRows : struct, IStaticCount where TVectors : struct, IStaticCount where TStore : struct, IStoreMode
    {
        bool two = TVectors.Value == 2;
        var mask = MaskedLanes.LeadingLanes256(lastColumns);
        int whole = MaskedLanes.WholeLoadRows(k, op.BRow, Vector256<float>.Count - lastColumns);
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
        bool maskLast = TVectors.Value == 1;   // a block of two vectors is whole; one of one vector may end inside it
        GemmStores.StoreRow<TVectors, TStore>(c, c00, c01, alpha, beta, mask, maskLast);
        if (TRows.Value > 1) GemmStores.StoreRow<TVectors, TStore>(c + ldc, c10, c11, alpha, beta, mask, maskLast);
        if (TRows.Value > 2) GemmStores.StoreRow<TVectors, TStore>(c + 2 * ldc, c20, c21, alpha, beta, mask, maskLast);
        if (TRows.Value > 3) GemmStores.StoreRow<TVectors, TStore>(c + 3 * ldc, c30, c31, alpha, beta, mask, maskLast);
        if (TRows.Value > 4) GemmStores.StoreRow<TVectors, TStore>(c + 4 * ldc, c40, c41, alpha, beta, mask, maskLast);
        if (TRows.Value > 5) GemmStores.StoreRow<TVectors, TStore>(c + 5 * ldc, c50, c51, alpha, beta, mask, maskLast);
    }
}
