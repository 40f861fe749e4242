using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using NativeNet.Core.Memory;

namespace NativeNet.Core.Gemm;

internal static unsafe partial class RowCombinations
{
    /// <summary>Columns of B in one packed strip (<see cref="Strips"/>): two vectors, a 16-column block's width.</summary>
    public const int StripColumns = 16;

    /// <summary>
    /// When the AVX2 blocks read B from packed strips: with at least <see cref="StripMinRows"/> rows of C, so that the
    /// copy is shared by ten blocks of six rows or more; a depth of at least <see cref="StripMinDepth"/>, where the lines a
    /// 16-column block touches in B's rows (16-32 KiB from 256 rows on) no longer stay in L1 from one block of rows to the
    /// next; and B's rows at least <see cref="StripMinRowFloats"/> apart, where those lines are scattered (closer rows are
    /// read almost in sequence already).
    /// </summary>
    public static bool ReadsStrips(in Operands op, int m, int k)
        => op.Level == CpuLevel.Avx2 && op.BRowsContiguous && m >= StripMinRows && k >= StripMinDepth && op.BRow >= StripMinRowFloats;

    private const int StripMinRows = 60, StripMinDepth = 256, StripMinRowFloats = 64;

    /// <summary>
    /// B's columns [j0, j1) copied into strips of <see cref="StripColumns"/> columns, each k x 16 floats contiguous (the
    /// last strip's columns past j1 zero), in the thread's B scratch. Read where it lies, a 16-column block of B takes a
    /// cache line or two from a new row every step, rows ldb floats apart and most of them not aligned to a line (a
    /// 100-column B splits a quarter of its loads across two lines); from a strip it streams consecutive lines, which
    /// the prefetcher follows. <see cref="RowBlocks256{TRows, TStore}"/> computes each element with the same operations
    /// either way, so C gets the same bits.
    /// </summary>
    private static float* Strips(in Operands op, int j0, int j1, int k)
    {
        int strips = (j1 - j0 + StripColumns - 1) / StripColumns;
        float* packed = ThreadScratch.B(strips * StripColumns * k);
        PackStrips(op.B + j0, op.BRow, j1 - j0, k, packed);
        return packed;
    }

    /// <summary>
    /// B's first <paramref name="width"/> columns (rows ldb floats apart, k of them) into strips of 16 columns, strip s
    /// at packed + 16 s k, row p of a strip at 16 p; columns past width are 0.
    /// </summary>
    private static void PackStrips(float* b, long ldb, int width, int k, float* packed)
    {
        int whole = width / StripColumns, rest = width - whole * StripColumns;
        var low = MaskedLanes.LeadingLanes256(rest);
        var high = MaskedLanes.LeadingLanes256(rest - 8);
        for (int p = 0; p < k; p++, b += ldb)
        {
            float* to = packed + (long)p * StripColumns;
            for (int s = 0; s < whole; s++, to += (long)StripColumns * k)
            {
                Vector256.Load(b + s * StripColumns).Store(to);
                Vector256.Load(b + s * StripColumns + 8).Store(to + 8);
            }
            if (rest > 0)
            {
                // Masked loads read nothing past B's last column and give 0 in its lanes.
                Avx.MaskLoad(b + whole * StripColumns, low).Store(to);
                Avx.MaskLoad(b + whole * StripColumns + 8, high).Store(to + 8);
            }
        }
    }

    /// <summary>
    /// Rows i..i+TRows (at most 6) of C, columns [j0, j1): B read where it lies, or with <paramref name="strips"/> (from
    /// <see cref="Strips"/>) strip by strip, each strip's columns as B's own would be.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void RowBlocks256<TRows, TStore>(in Operands op, int i, int j0, int j1, int k, float* strips)
        where TRows : struct, IStaticCount where TStore : struct, IStoreMode
    {
        if (strips == null)
        {
            ColumnBlocks256<TRows, TStore>(op, i, j0, j1, k);
            return;
        }
        for (int j = j0; j < j1; j += StripColumns, strips += (long)StripColumns * k)
            ColumnBlocks256<TRows, TStore>(op.WithB(strips - j, StripColumns), i, j, Math.Min(j + StripColumns, j1), k);
    }

    /// <summary>Rows i..i+TRows (at most 6) of C, columns [j0, j1): whole blocks of 16 columns, then of 8 (the last one masked).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void ColumnBlocks256<TRows, TStore>(in Operands op, int i, int j0, int j1, int k)
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
