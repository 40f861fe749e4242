using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace NativeNet.Core.Gemm;

/// <summary>
/// Unpacked NN and TN products (B's rows contiguous): blocks of C accumulated in registers over all k rows of B, then
/// written once, A and B read where they lie. One file per instruction level holds the blocks:
/// <list type="bullet">
/// <item>AVX-512: whole 64-column stripes in blocks of six rows (<see cref="WideRowBlock{TRows, TStore}"/>: 24
/// accumulators fed by 10 loads a step); the up to 63 columns left over in blocks of twelve rows and 32 columns
/// (<see cref="RowBlock{TRows, TVectors, TStore}"/>: 24 accumulators, 14 loads), then 16, the last one masked. The rows
/// left over (m mod 6, m mod 12) make one block of that many rows; a single one goes through <see cref="RowCombination{TStore}"/>.</item>
/// <item>AVX2: blocks of six rows and 16 or 8 columns (<see cref="RowBlock256{TRows, TVectors, TStore}"/>).</item>
/// <item>Scalar: each row through <see cref="RowCombination{TStore}"/>.</item>
/// </list>
/// </summary>
internal static unsafe partial class RowCombinations
{
    /// <summary>C[0..m, j0..j1) for the operands' level.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run<TStore>(in Operands op, int m, int j0, int j1, int k) where TStore : struct, IStoreMode
    {
        int i = 0;
        if (op.Level == CpuLevel.Avx512)
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
                case 1: RowCombination<TStore>(op, i, j0, j1, k); return;
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
            return;
        }
        if (op.Level == CpuLevel.Avx2)
        {
            float* strips = ReadsStrips(op, m, k) ? Strips(op, j0, j1, k) : null;
            for (; i <= m - 6; i += 6) RowBlocks256<Rows6, TStore>(op, i, j0, j1, k, strips);
            switch (m - i)
            {
                case 1: RowBlocks256<Rows1, TStore>(op, i, j0, j1, k, strips); break;
                case 2: RowBlocks256<Rows2, TStore>(op, i, j0, j1, k, strips); break;
                case 3: RowBlocks256<Rows3, TStore>(op, i, j0, j1, k, strips); break;
                case 4: RowBlocks256<Rows4, TStore>(op, i, j0, j1, k, strips); break;
                case 5: RowBlocks256<Rows5, TStore>(op, i, j0, j1, k, strips); break;
            }
            return;
        }
        for (; i < m; i++) RowCombination<TStore>(op, i, j0, j1, k);
    }

    /// <summary>
    /// Row i of C, columns [j0, j1), as a combination of B's rows weighted by row i of A: at AVX-512 (the single row left
    /// over by the blocks) four independent accumulators of 16 columns, since one alone would wait on the FMA latency
    /// every step, then 16 at a time with the last block masked; at the scalar level, plain loops.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RowCombination<TStore>(in Operands op, int i, int j0, int j1, int k) where TStore : struct, IStoreMode
    {
        float* ai = op.A + (long)i * op.ARow, ci = op.C + (long)i * op.Ldc;
        int j = j0;
        if (op.Level == CpuLevel.Avx512)
        {
            var alpha = Vector512.Create(op.Alpha); var beta = Vector512.Create(op.Beta);
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
                GemmStores.Store<TStore>(ci + j, acc0, alpha, beta); GemmStores.Store<TStore>(ci + j + 16, acc1, alpha, beta);
                GemmStores.Store<TStore>(ci + j + 32, acc2, alpha, beta); GemmStores.Store<TStore>(ci + j + 48, acc3, alpha, beta);
            }
            for (; j < j1; j += 16)
            {
                var mask = MaskedLanes.LeadingLanes(j1 - j);   // the last block may be short: masked, so no scalar tail
                var acc = Vector512<float>.Zero;
                float* bp = op.B + j;
                for (int p = 0; p < k; p++, bp += op.BRow)
                    acc = Vector512.FusedMultiplyAdd(Vector512.Create(ai[(long)p * op.ACol]), MaskedLanes.LoadLeading(bp, mask), acc);
                GemmStores.StoreLeading<TStore>(ci + j, acc, alpha, beta, mask);
            }
            return;
        }
        for (; j < j1; j++)
        {
            float sum = 0f;
            for (int p = 0; p < k; p++) sum = MathF.FusedMultiplyAdd(ai[(long)p * op.ACol], op.B[(long)p * op.BRow + j], sum);
            GemmStores.Store(ci + j, sum, op.Alpha, op.Beta);
        }
    }
}
