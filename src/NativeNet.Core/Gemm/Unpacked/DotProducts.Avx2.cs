using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace NativeNet.Core.Gemm;

internal static unsafe partial class DotProducts
{
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
    /// C[i, j..j+8] for one row of A at AVX2: a single row gives the 4 x 3 block three accumulators, three chains of
    /// FMAs each waiting on its last (a vector product, one image's dense layer, then runs at a third of the FMA rate).
    /// Eight columns give eight chains, each step one load of A and eight FMAs reading B from memory. Every accumulator
    /// sees the same operations in the same order as in <see cref="DotProductBlock256"/>, and
    /// <see cref="HorizontalSums.Sums8x256"/> adds its lanes in the same order, so the bits are those of the 4 x 3 block.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void DotProductRow256<TStore>(in Operands op, int i, int j, int k) where TStore : struct, IStoreMode
    {
        long ldb = op.BCol;
        float* a = op.A + i * op.ARow, b = op.B + j * ldb;
        Vector256<float> s0 = default, s1 = default, s2 = default, s3 = default, s4 = default, s5 = default, s6 = default, s7 = default;
        int whole = k & ~7;
        for (int p = 0; p < whole; p += 8)
            DotRowStep256<No>(a + p, b + p, ldb, default, ref s0, ref s1, ref s2, ref s3, ref s4, ref s5, ref s6, ref s7);
        if (whole < k)
            DotRowStep256<Yes>(a + whole, b + whole, ldb, MaskedLanes.LeadingLanes256(k - whole), ref s0, ref s1, ref s2, ref s3, ref s4, ref s5, ref s6, ref s7);
        var sums = HorizontalSums.Sums8x256(s0, s1, s2, s3, s4, s5, s6, s7);
        float* c = op.C + (long)i * op.Ldc + j;
        var alpha = Vector128.Create(op.Alpha); var beta = Vector128.Create(op.Beta);
        GemmStores.StoreFirst<TStore>(c, sums.GetLower(), 4, alpha, beta);
        GemmStores.StoreFirst<TStore>(c + 4, sums.GetUpper(), 4, alpha, beta);
    }

    /// <summary>One 8-float step of <see cref="DotProductRow256"/>: a row of A against eight rows of B (ldb apart), through the mask when TMasked.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void DotRowStep256<TMasked>(float* a, float* b, long ldb, Vector256<float> mask,
        ref Vector256<float> s0, ref Vector256<float> s1, ref Vector256<float> s2, ref Vector256<float> s3,
        ref Vector256<float> s4, ref Vector256<float> s5, ref Vector256<float> s6, ref Vector256<float> s7) where TMasked : struct, IStaticFlag
    {
        var x = MaskedLanes.Load256<TMasked>(a, mask);
        s0 = Vector256.FusedMultiplyAdd(x, MaskedLanes.Load256<TMasked>(b, mask), s0);
        s1 = Vector256.FusedMultiplyAdd(x, MaskedLanes.Load256<TMasked>(b + ldb, mask), s1);
        s2 = Vector256.FusedMultiplyAdd(x, MaskedLanes.Load256<TMasked>(b + 2 * ldb, mask), s2);
        s3 = Vector256.FusedMultiplyAdd(x, MaskedLanes.Load256<TMasked>(b + 3 * ldb, mask), s3);
        s4 = Vector256.FusedMultiplyAdd(x, MaskedLanes.Load256<TMasked>(b + 4 * ldb, mask), s4);
        s5 = Vector256.FusedMultiplyAdd(x, MaskedLanes.Load256<TMasked>(b + 5 * ldb, mask), s5);
        s6 = Vector256.FusedMultiplyAdd(x, MaskedLanes.Load256<TMasked>(b + 6 * ldb, mask), s6);
        s7 = Vector256.FusedMultiplyAdd(x, MaskedLanes.Load256<TMasked>(b + 7 * ldb, mask), s7);
    }

    /// <summary>
    /// <see cref="DotProductBlock{TRows, TCols, TStore}"/> for AVX2: C[i..i+TRows, j..j+TCols] for TRows &lt;= 4, TCols &lt;= 3, from
    /// 12 ymm accumulators sRC fed by TRows + TCols loads per TRows * TCols FMAs, 8 floats of k a step; the last k % 8
    /// through masked loads (vmaskmovps: nothing past a row is read). Each accumulator's 8 lanes are then added in one
    /// fixed order, ((x0 + x1) + (x2 + x3)) + ((x4 + x5) + (x6 + x7)), wherever it sits (<see cref="HorizontalSums.Sums8x256"/>), so
    /// the bits do not depend on the block's shape or the worker count.
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
            DotBlockStep256<TRows, TCols, Yes>(a + whole, lda, b + whole, ldb, MaskedLanes.LeadingLanes256(k - whole),
                ref s00, ref s01, ref s02, ref s10, ref s11, ref s12, ref s20, ref s21, ref s22, ref s30, ref s31, ref s32);
        // Row-major sums of the block: rows 0-1 (and row 2's first two columns) in the first eight, the rest in the last
        // four; a one-row block needs only its three. Each row's sums are then moved to the start of a 128-bit vector in
        // registers (not through a stack copy, whose reloads could wait on the last block's stores to C).
        float* c = op.C + (long)i * op.Ldc + j;
        long ldc = op.Ldc;
        var alpha = Vector128.Create(op.Alpha); var beta = Vector128.Create(op.Beta);
        if (TRows.Value == 1)
        {
            GemmStores.StoreFirst<TStore>(c, HorizontalSums.Sums4x256(s00, s01, s02, default), TCols.Value, alpha, beta);
            return;
        }
        var first = HorizontalSums.Sums8x256(s00, s01, s02, s10, s11, s12, s20, s21);
        var last = HorizontalSums.Sums4x256(s22, s30, s31, s32);
        // Lanes 3-5 (row 1) to the lower half, lanes 6-7 (row 2's first two) to the start of the upper half.
        var shifted = Vector256.Shuffle(first, Vector256.Create(3, 4, 5, 5, 6, 7, 7, 7));
        GemmStores.StoreFirst<TStore>(c, first.GetLower(), TCols.Value, alpha, beta);
        GemmStores.StoreFirst<TStore>(c + ldc, shifted.GetLower(), TCols.Value, alpha, beta);
        if (TRows.Value > 2)
            GemmStores.StoreFirst<TStore>(c + 2 * ldc, Vector128.ConditionalSelect(Vector128.Create(0, 0, -1, 0).AsSingle(), Vector128.Shuffle(last, Vector128.Create(0, 0, 0, 0)), shifted.GetUpper()),
                TCols.Value, alpha, beta);
        if (TRows.Value > 3)
            GemmStores.StoreFirst<TStore>(c + 3 * ldc, Vector128.Shuffle(last, Vector128.Create(1, 2, 3, 3)), TCols.Value, alpha, beta);
    }

    /// <summary>One 8-float step of <see cref="DotProductBlock256"/>: every row of A (a, lda apart) against every row of B (b, ldb apart), through the mask when TMasked.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void DotBlockStep256<TRows, TCols, TMasked>(float* a, long lda, float* b, long ldb, Vector256<float> mask,
        ref Vector256<float> s00, ref Vector256<float> s01, ref Vector256<float> s02, ref Vector256<float> s10, ref Vector256<float> s11, ref Vector256<float> s12,
        ref Vector256<float> s20, ref Vector256<float> s21, ref Vector256<float> s22, ref Vector256<float> s30, ref Vector256<float> s31, ref Vector256<float> s32)
        where TRows : struct, IStaticCount where TCols : struct, IStaticCount where TMasked : struct, IStaticFlag
    {
        int cols = TCols.Value;
        var y0 = MaskedLanes.Load256<TMasked>(b, mask);
        var y1 = cols > 1 ? MaskedLanes.Load256<TMasked>(b + ldb, mask) : default;
        var y2 = cols > 2 ? MaskedLanes.Load256<TMasked>(b + 2 * ldb, mask) : default;
        var x = MaskedLanes.Load256<TMasked>(a, mask);
        s00 = Vector256.FusedMultiplyAdd(x, y0, s00);
        if (cols > 1) s01 = Vector256.FusedMultiplyAdd(x, y1, s01);
        if (cols > 2) s02 = Vector256.FusedMultiplyAdd(x, y2, s02);
        if (TRows.Value > 1)
        {
            x = MaskedLanes.Load256<TMasked>(a + lda, mask);
            s10 = Vector256.FusedMultiplyAdd(x, y0, s10);
            if (cols > 1) s11 = Vector256.FusedMultiplyAdd(x, y1, s11);
            if (cols > 2) s12 = Vector256.FusedMultiplyAdd(x, y2, s12);
        }
        if (TRows.Value > 2)
        {
            x = MaskedLanes.Load256<TMasked>(a + 2 * lda, mask);
            s20 = Vector256.FusedMultiplyAdd(x, y0, s20);
            if (cols > 1) s21 = Vector256.FusedMultiplyAdd(x, y1, s21);
            if (cols > 2) s22 = Vector256.FusedMultiplyAdd(x, y2, s22);
        }
        if (TRows.Value > 3)
        {
            x = MaskedLanes.Load256<TMasked>(a + 3 * lda, mask);
            s30 = Vector256.FusedMultiplyAdd(x, y0, s30);
            if (cols > 1) s31 = Vector256.FusedMultiplyAdd(x, y1, s31);
            if (cols > 2) s32 = Vector256.FusedMultiplyAdd(x, y2, s32);
        }
    }
}
