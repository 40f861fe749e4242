using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using NativeNet.Core.Memory;

namespace NativeNet.Core.Gemm;

/// <summary>
/// Unpacked NT products (A's rows and B's columns contiguous along k: C = A B^T with both row-major) as dot products.
/// Blocks of rows x columns of C are accumulated as vector dot products sharing their loads, then reduced horizontally
/// (<see cref="HorizontalSums"/>); nothing is packed. The loop over B's rows is outside: a group of B's rows (the large
/// operand, a layer's weights) stays in L1 while every row of A passes over it, so B is read from memory once, and A
/// (from L2 when it is large) once per group. One file per instruction level holds the blocks:
/// <list type="bullet">
/// <item>AVX-512: 4 rows x 6 columns (then 2 and 1 rows, fewer columns in the last group), <see cref="DotProductBlock{TRows, TCols, TStore}"/>.</item>
/// <item>AVX2: 4 rows x 3 columns (then the 1-3 rows left), <see cref="DotProductBlock256{TRows, TCols, TStore}"/>; a single row of A
/// in groups of 8 columns, <see cref="DotProductRow256{TStore}"/>.</item>
/// <item>Scalar: one TensorPrimitives.Dot per element.</item>
/// </list>
/// </summary>
internal static unsafe partial class DotProducts
{
    /// <summary>Columns per group at AVX-512: a step loads 6 + 4 vectors for 24 FMAs, and A is read once per six columns.</summary>
    public const int Columns = 6;

    /// <summary>Columns per group at AVX2: 4 x 3 accumulators, 12 of the 16 ymm registers.</summary>
    public const int Columns256 = 3;

    /// <summary>Columns per group at AVX2 when A has one row (<see cref="DotProductRow256"/>): eight chains of FMAs.</summary>
    private const int RowColumns256 = 8;

    /// <summary>
    /// The fewest columns of C for which misaligned rows of A are first copied to aligned scratch: A's rows, read again for
    /// every group of columns, come from L2 once A outgrows L1, and where they do not start on 64-byte boundaries most of
    /// those loads straddle two cache lines. The copy costs about 1/n of the loads that read A. (Copying B's groups too was
    /// slower: each is read from L1 by every block of rows.)
    /// </summary>
    private const int AlignedCopyMinColumns = 32;

    /// <summary>The largest copy (floats, 4 MiB) that scratch takes for it; longer rows are read where they lie.</summary>
    private const long AlignedCopyMaxFloats = 1 << 20;

    private const int AlignedFloats = NativeBuffer.AlignmentFloats;

    /// <summary>C[0..m, j0..j1) for the operands' level.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization), SkipLocalsInit]
    public static void Run<TStore>(in Operands op, int m, int j0, int j1, int k) where TStore : struct, IStoreMode
    {
        int j = j0;
        if (op.Level == CpuLevel.Avx512)
        {
            var ops = op;
            int ld = (k + AlignedFloats - 1) / AlignedFloats * AlignedFloats;
            if (j1 - j0 >= AlignedCopyMinColumns && !RowsAligned(op.A, op.ARow) && (long)m * ld <= AlignedCopyMaxFloats)
                ops = op.WithA(CopyRows(ThreadScratch.A(m * ld), ld, op.A, op.ARow, m, k), ld);
            for (; j <= j1 - Columns; j += Columns) DotProductColumns<Cols6, TStore>(ops, m, j, k);
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
        if (op.Level == CpuLevel.Avx2)
        {
            if (m == 1)
                for (; j <= j1 - RowColumns256; j += RowColumns256) DotProductRow256<TStore>(op, 0, j, k);
            for (; j <= j1 - Columns256; j += Columns256) DotProductColumns256<Cols3, TStore>(op, m, j, k);
            if (j1 - j == 2) DotProductColumns256<Cols2, TStore>(op, m, j, k);
            else if (j1 - j == 1) DotProductColumns256<Cols1, TStore>(op, m, j, k);
            return;
        }
        for (; j < j1; j++)
        {
            var bj = new ReadOnlySpan<float>(op.B + (long)j * op.BCol, k);
            for (int i = 0; i < m; i++)
                GemmStores.Store(op.C + (long)i * op.Ldc + j, TensorPrimitives.Dot(new ReadOnlySpan<float>(op.A + (long)i * op.ARow, k), bj), op.Alpha, op.Beta);
        }
    }

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
}
