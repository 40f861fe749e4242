using CommunityToolkit.HighPerformance;
using NativeNet.Core.Gemm;
using NativeNet.Core.Memory;
using NativeNet.Core.Threading;

namespace NativeNet.Core.Tests;

public class SgemmTests
{
    // With m, every remainder of the unpacked path's blocks of six and twelve rows (and whole blocks: 6, 12, 24).
    private static readonly int[] SmallSizes = [0, 1, 2, 3, 5, 6, 7, 10, 12, 13, 16, 17, 24, 31, 32, 33, 47, 64, 71];

    [Theory]
    [MemberData(nameof(CpuLevels.Supported), MemberType = typeof(CpuLevels))]
    public void AllTransposes_SweptSmallShapes_MatchNaiveReference(CpuLevel level)
    {
        int seed = 0;
        foreach (bool ta in new[] { false, true })
        foreach (bool tb in new[] { false, true })
        foreach (int m in SmallSizes)
        // 49 = a 32-column block, a 16-column one and a masked 1; 64 = one 64-column stripe; 100 = a stripe, then 32 + 4 more
        foreach (int n in new[] { 1, 7, 16, 33, 49, 64, 71, 100 })
        foreach (int k in new[] { 0, 1, 5, 29, 64 })
            CheckAgainstReference(level, ta, tb, m, n, k, 1.5f, 0.5f, padding: 3, seed++);
        // NN and TN over 128 columns take the packed path whatever the rows: its edge tiles, every row count, a last panel
        // of 12, 17, 1, 24 or 15 columns on AVX-512 (NR 32) and of 12, 1, 8 or 15 on AVX2 (NR 16: one vector of B up to 8).
        foreach (bool ta in new[] { false, true })
        foreach (int m in SmallSizes)
        foreach (int n in new[] { 140, 145, 161, 152, 143 })
        foreach (int k in new[] { 29, 64 })
            CheckAgainstReference(level, ta, false, m, n, k, 1.5f, 0.5f, padding: 3, seed++);
        // NT with k = 37 (two whole 16-float steps and a masked tail of 5), up to the 40 rows the dot products take on AVX-512.
        foreach (int n in SmallSizes)
        foreach (int m in new[] { 1, 6, 19, 40 })
            CheckAgainstReference(level, false, true, m, n, 37, 1f, 0f, padding: 0, seed++);
    }

    [Theory]
    [MemberData(nameof(CpuLevels.Supported), MemberType = typeof(CpuLevels))]
    public void BlockBoundaries_AndLargeLeadingDimensions_MatchNaiveReference(CpuLevel level)
    {
        // k crosses KC (256), m crosses MC (144), n crosses several NR tiles.
        CheckAgainstReference(level, false, false, 150, 70, 300, 1f, 0f, padding: 5, seed: 1);
        CheckAgainstReference(level, true, false, 149, 65, 257, -0.5f, 2f, padding: 0, seed: 2);
        CheckAgainstReference(level, false, true, 10, 30, 784, 1f, 1f, padding: 11, seed: 3);
        CheckAgainstReference(level, true, true, 97, 101, 513, 0.25f, -1f, padding: 1, seed: 4);
        // Few rows and long rows of B (read in place whatever their length), k over two 64-row blocks, a 12-column edge.
        CheckAgainstReference(level, false, false, 21, 1100, 150, 1f, 0.5f, padding: 0, seed: 5);
        // NT dot products over 64 rows (k long enough): a last block of one row, a last group of 1 column, a k tail of 12.
        CheckAgainstReference(level, false, true, 101, 37, 300, 1f, 0.5f, padding: 2, seed: 6);
        CheckAgainstReference(level, false, true, 128, 66, 256, -1f, 0f, padding: 0, seed: 7);
    }

    [Theory]
    [MemberData(nameof(CpuLevels.Supported), MemberType = typeof(CpuLevels))]
    public void BetaZero_NeverReadsC_EvenWhenItHoldsNaN(CpuLevel level)
    {
        // Packed, single-row, 4- and 6-row blocks with a masked last block (k <= 16, n = 33 / 49), and NT dot products with a
        // masked k tail (19 x 7 x 37, 40 x 9 x 40), and k split in two halves (5 x 600 x 700 NN: the second half goes to
        // scratch), on every transpose. Alpha 1 (stores of the bare sums) and -2 (scaled sums).
        foreach (var (m, n, k) in new[] { (1, 5, 3), (7, 40, 20), (50, 70, 90), (4, 33, 5), (6, 49, 5), (19, 7, 37), (40, 9, 40), (5, 600, 700) })
        foreach (bool ta in new[] { false, true })
        foreach (bool tb in new[] { false, true })
        foreach (float alpha in new[] { 1f, -2f })
        {
            int lda = ta ? m : k, ldb = tb ? k : n;
            var a = Reference.Random(m * k, 1);
            var b = Reference.Random(k * n, 2);
            var c = Enumerable.Repeat(float.NaN, m * n).ToArray();
            var expected = new float[m * n];
            Reference.Gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, 0f, expected, n);
            Sgemm.Multiply(ta, tb, m, n, k, alpha, a, lda, b, ldb, 0f, c, n, cpu: CpuContext.For(level));
            Reference.AssertClose(expected, c, 1e-4f, $"beta=0 alpha={alpha} ta={ta} tb={tb} {m}x{n}x{k}");
        }
    }

    /// <summary>
    /// The stores are compiled per mode (bare sums for alpha 1 and beta 0, scaled sums, alpha * sum + beta * C), and each
    /// must give the bits of the general formula: with k in one block each element is one sum s, so alpha 2 must give
    /// exactly 2s and alpha 1, beta 1 exactly C0 + s rounded once. Unpacked NN and TN blocks (a 64-column stripe, then
    /// 36 columns, 13 rows), NT dot products (a k tail, a last group of 3 columns), a single row, and the packed path.
    /// </summary>
    [Theory]
    [MemberData(nameof(CpuLevels.Supported), MemberType = typeof(CpuLevels))]
    public void StoreModes_GiveTheBitsOfTheGeneralFormula(CpuLevel level)
    {
        foreach (var (ta, tb, m, n, k) in new[] { (false, false, 13, 100, 40), (true, false, 13, 100, 40), (false, true, 10, 45, 37),
                     (false, false, 1, 70, 40), (false, false, 150, 300, 40), (false, true, 200, 50, 40) })
        {
            int lda = ta ? m : k, ldb = tb ? k : n;
            var a = Reference.Random(m * k, 31);
            var b = Reference.Random(k * n, 32);
            var c0 = Reference.Random(m * n, 33);
            var sums = new float[m * n];
            Sgemm.Multiply(ta, tb, m, n, k, 1f, a, lda, b, ldb, 0f, sums, n, cpu: CpuContext.For(level));
            var twice = Enumerable.Repeat(float.NaN, m * n).ToArray();
            Sgemm.Multiply(ta, tb, m, n, k, 2f, a, lda, b, ldb, 0f, twice, n, cpu: CpuContext.For(level));
            var updated = (float[])c0.Clone();
            Sgemm.Multiply(ta, tb, m, n, k, 1f, a, lda, b, ldb, 1f, updated, n, cpu: CpuContext.For(level));
            for (int i = 0; i < m * n; i++)
            {
                Assert.True(2f * sums[i] == twice[i], $"{level} {m}x{n}x{k} ta={ta} tb={tb} [{i}]: alpha 2 gave {twice[i]}, not 2 x {sums[i]}");
                Assert.True(c0[i] + sums[i] == updated[i], $"{level} {m}x{n}x{k} ta={ta} tb={tb} [{i}]: beta 1 gave {updated[i]}, not {c0[i]} + {sums[i]}");
            }
        }
    }

    [Fact]
    public void AlphaZeroOrKZero_ScalesCByBeta()
    {
        var c = new float[] { 1, 2, 3, 4 };
        Sgemm.Multiply(false, false, 2, 2, 0, 1f, [], 1, [], 2, 3f, c, 2);
        Assert.Equal(new float[] { 3, 6, 9, 12 }, c);
        var nan = new float[] { float.NaN, float.NaN };
        Sgemm.Multiply(false, false, 1, 2, 1, 0f, [1f], 1, [1f, 1f], 2, 0f, nan, 2);
        Assert.Equal(new float[] { 0, 0 }, nan);
    }

    [Theory]
    [MemberData(nameof(CpuLevels.Supported), MemberType = typeof(CpuLevels))]
    public void LargeShapes_PassRandomVectorCheck(CpuLevel level)
    {
        // C*t must equal A*(B*t) for a random vector t: O(n^2) to check an O(n^3) product.
        foreach (var (m, n, k, ta, tb) in new[] { (513, 700, 611, false, false), (300, 1025, 400, true, true), (1024, 64, 800, false, true) })
        {
            var a = Reference.Random(m * k, m);
            var b = Reference.Random(k * n, n);
            var c = new float[m * n];
            Sgemm.Multiply(ta, tb, m, n, k, 1f, a, ta ? m : k, b, tb ? k : n, 0f, c, n, cpu: CpuContext.For(level));
            var t = Reference.Random(n, 99);
            var bt = new double[k];
            for (int p = 0; p < k; p++)
                for (int j = 0; j < n; j++) bt[p] += (tb ? b[j * k + p] : b[p * n + j]) * (double)t[j];
            for (int i = 0; i < m; i++)
            {
                double ct = 0, abt = 0;
                for (int j = 0; j < n; j++) ct += c[i * n + j] * (double)t[j];
                for (int p = 0; p < k; p++) abt += (ta ? a[p * m + i] : a[i * k + p]) * bt[p];
                Assert.True(Math.Abs(ct - abt) <= 1e-3 * (1 + Math.Abs(abt)), $"{level} {m}x{n}x{k} row {i}: C*t={ct} but A*(B*t)={abt}");
            }
        }
    }

    /// <summary>
    /// NT 301 x 257 x 333, NN 400 x 300 x 500 and TN 290 x 270 x 257 with beta take the packed path, split along m, each
    /// worker packing all of B; NT 40 x 500 x 320 (a convolution's weight gradient) the dot products;
    /// NN 10 x 1000 x 1000 with beta (a mini-batch times a layer's weights) reads B in place in short k blocks, split in two
    /// halves of k; NN 150 x 200 x 300 reads
    /// B in place only on two or more threads (75 rows each), with the k blocks of the whole product; TN 1002 x 1000 x 10 with
    /// beta (a layer's weight update) splits C by rows in blocks of four, two rows left over; NN 100 x 100 x 784 runs
    /// unpacked from packed strips of B at AVX2, split by strips of columns; TN 70 x 128 x 500 in blocks of six and twelve
    /// rows, split by rows; NT 100 x 100 x 784 as dot products over
    /// 64 rows, split by columns.
    /// </summary>
    [Theory]
    [InlineData(false, true, 301, 257, 333, 0f)]
    [InlineData(false, true, 40, 500, 320, 0f)]
    [InlineData(false, false, 10, 1000, 1000, 0.7f)]
    [InlineData(false, false, 150, 200, 300, 0f)]
    [InlineData(false, false, 100, 100, 784, 0.5f)]
    [InlineData(false, true, 100, 100, 784, 0f)]
    [InlineData(true, false, 70, 128, 500, 0f)]
    [InlineData(true, false, 1002, 1000, 10, 0.9f)]
    [InlineData(false, false, 400, 300, 500, 0f)]
    [InlineData(true, false, 290, 270, 257, 0.5f)]
    public void SameInputs_GiveIdenticalBits_ForAnyThreadCount(bool ta, bool tb, int m, int n, int k, float beta)
    {
        var a = Reference.Random(m * k, 5);
        var b = Reference.Random(k * n, 6);
        var c0 = Reference.Random(m * n, 7);
        int lda = ta ? m : k, ldb = tb ? k : n;
        float[] Run(int threads)
        {
            using var pool = new WorkerPool(threads);
            var c = (float[])c0.Clone();
            Sgemm.Multiply(ta, tb, m, n, k, 0.5f, a, lda, b, ldb, beta, c, n, pool);
            return c;
        }
        var one = Run(1);
        var expected = (float[])c0.Clone();
        Reference.Gemm(ta, tb, m, n, k, 0.5f, a, lda, b, ldb, beta, expected, n);
        Reference.AssertClose(expected, one, 1e-3f, $"{m}x{n}x{k} {(ta ? 'T' : 'N')}{(tb ? 'T' : 'N')}");
        Assert.Equal(one, Run(1));
        Assert.Equal(one, Run(2));
        Assert.Equal(one, Run(3));
    }

    /// <summary>
    /// An NT dot product's sums are reduced in one fixed order whichever block computes them. On AVX-512 blocks have 4, 2
    /// or 1 rows and groups 6 or fewer columns; on AVX2 4, 3, 2 or 1 rows and 3, 2 or 1 columns, and a single row of A
    /// (m = 1) in groups of 8; with neither each element
    /// is one TensorPrimitives.Dot. Row r of C must get the same bits whatever its block (m = 12, 11, 10, 9, 7, 5, 2, 1
    /// leave every remainder of rows), and a column the same bits in the last, smaller group of n = 100 (a group of four
    /// on AVX-512, of one on AVX2) as in other groups (the last 6 and the last 5 columns computed on their own).
    /// </summary>
    [Theory]
    [InlineData(640, 0f)]
    [InlineData(784, 0.5f)]
    [InlineData(37, 1f)]
    public void DotProducts_GiveTheSameBits_InEveryBlockShape(int k, float beta)
    {
        const int n = 100;
        var a = Reference.Random(12 * k, 11);
        var b = Reference.Random(n * k, 12);
        var c0 = Reference.Random(12 * n, 13);
        float[] Run(int m, int cols, int firstColumn)
        {
            var c = c0.AsSpan(0, m * n).ToArray();
            Sgemm.Multiply(false, true, m, cols, k, 1.5f, a, k, b.AsSpan(firstColumn * k).ToArray(), k, beta, c.AsSpan(firstColumn), n);
            return c;
        }
        var twelve = Run(12, n, 0);
        foreach (int m in new[] { 11, 10, 9, 7, 5, 2, 1 })
            Assert.Equal(twelve.AsSpan(0, m * n).ToArray(), Run(m, n, 0));
        // The last columns on their own: 6 from column 94 (columns 96-99, the last group of four on AVX-512, are then its
        // last four) and 5 from column 95 (groups of 3 and 2 on AVX2).
        foreach (int first in new[] { 94, 95 })
        {
            var shifted = Run(12, n - first, first);
            for (int i = 0; i < 12; i++)
                for (int j = first; j < n; j++)
                    Assert.Equal(twelve[i * n + j], shifted[i * n + j]);
        }
    }

    /// <summary>
    /// At AVX2 the row blocks read B from packed 16-column strips when C has at least 60 rows, k is at least 256 and B's
    /// rows are at least 64 floats apart; each element sees the same operations as from B read in place, so the first rows
    /// of C must get the same bits as in a product of 54 rows (B read in place), and the whole product must match the
    /// reference, on one worker and split over two or three. Cases: NN with a last strip of 4 columns, TN with one of 13 (a whole vector and a masked one), a
    /// narrow C in widely spaced rows of B (one strip and 4 columns), and full 16-column strips only.
    /// </summary>
    [Theory]
    [InlineData(false, 61, 100, 300, 0, 1.5f, 0.5f)]
    [InlineData(true, 66, 77, 256, 0, 1f, 0f)]
    [InlineData(false, 60, 20, 400, 50, -1f, 1f)]
    [InlineData(false, 100, 128, 784, 3, 1f, 0f)]
    public void RowsOfB_ReadFromPackedStrips_GiveTheSameBitsAsInPlace(bool ta, int m, int n, int k, int padding, float alpha, float beta)
    {
        const int fewRows = 54;
        int lda = (ta ? m : k) + padding, ldb = n + padding;
        var a = Reference.Random((ta ? k : m) * lda, 31);
        var b = Reference.Random(k * ldb, 32);
        var c0 = Reference.Random(m * n, 33);
        var expected = (float[])c0.Clone();
        Reference.Gemm(ta, false, m, n, k, alpha, a, lda, b, ldb, beta, expected, n);
        foreach (var level in CpuContext.SupportedLevels)
            foreach (int threads in new[] { 1, 2, 3 })   // split by strips of columns, one worker the odd ones
            {
                using var pool = new WorkerPool(threads);
                var cpu = CpuContext.For(level);
                var c = (float[])c0.Clone();
                Sgemm.Multiply(ta, false, m, n, k, alpha, a, lda, b, ldb, beta, c, n, pool, cpu);
                Reference.AssertClose(expected, c, 1e-4f, $"{level} ta={ta} {m}x{n}x{k} on {threads} threads");
                // The first rows alone: op(A)'s first rows are A's first rows (NN) or its first columns (TN, same lda).
                var few = c0.AsSpan(0, fewRows * n).ToArray();
                Sgemm.Multiply(ta, false, fewRows, n, k, alpha, a, lda, b, ldb, beta, few, n, pool, cpu);
                Assert.Equal(few, c.AsSpan(0, fewRows * n).ToArray());
            }
    }

    /// <summary>
    /// NT dot products copy A to aligned scratch when its rows do not start on 64-byte boundaries (k = 500 here, or an
    /// offset base) and C has at least 32 columns; the copy holds the same floats, so C must get the same bits as from A
    /// read in place, aligned (leading dimension 512 in a 64-byte aligned buffer), or with too few columns to copy.
    /// </summary>
    [Theory]
    [InlineData(40, 640, 500, 0f)]
    [InlineData(10, 40, 300, 0.5f)]
    [InlineData(64, 37, 33, 1f)]
    public unsafe void MisalignedRowsOfA_CopiedForDotProducts_GiveTheSameBits(int m, int n, int k, float beta)
    {
        var a = Reference.Random(m * k, 21);
        var b = Reference.Random(n * k, 22);
        var c0 = Reference.Random(m * n, 23);
        using var aligned = new NativeBuffer(m * 512 + 16);
        for (int i = 0; i < m; i++) a.AsSpan(i * k, k).CopyTo(aligned.Span.Slice(i * 512, k));
        float[] Run(float* pa, int lda, int cols)
        {
            var c = (float[])c0.Clone();
            fixed (float* pb = b, pc = c)
                Sgemm.MultiplyUnchecked(false, true, m, cols, k, 0.5f, pa, lda, pb, k, beta, pc, n);
            return c;
        }
        float[] inPlace = Run(aligned.Pointer, 512, n);
        float[] shifted;
        using (var offset = new NativeBuffer(m * k + 16))
        {
            a.CopyTo(offset.Span.Slice(3));   // rows start 12 bytes past a boundary whatever k is
            shifted = Run(offset.Pointer + 3, k, n);
        }
        fixed (float* pa = a)
        {
            Assert.Equal(inPlace, Run(pa, k, n));
            Assert.Equal(inPlace, shifted);
            // The first 31 columns alone (no copy) against the same columns of the whole product.
            var narrow = Run(pa, k, Math.Min(n, 31));
            for (int i = 0; i < m; i++)
                Assert.Equal(inPlace.AsSpan(i * n, Math.Min(n, 31)).ToArray(), narrow.AsSpan(i * n, Math.Min(n, 31)).ToArray());
        }
        var expected = (float[])c0.Clone();
        Reference.Gemm(false, true, m, n, k, 0.5f, a, k, b, k, beta, expected, n);
        Reference.AssertClose(expected, inPlace, 1e-3f, $"{m}x{n}x{k} NT");
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void SteadyState_AllocatesNothing(int threads)
    {
        using var pool = new WorkerPool(threads);
        // NT dot products and packed; NN with k split in two (scratch for the second half); TN weight update split by rows;
        // NN unpacked (a 64-column stripe in blocks of six rows, the rest in blocks of twelve), split by rows.
        foreach (var (ta, tb, m, n, k) in new[] { (false, true, 1, 30, 784), (false, true, 10, 30, 784), (false, true, 256, 256, 256),
                     (false, false, 10, 1000, 1000), (true, false, 1000, 1000, 10), (false, false, 100, 100, 784) })
        {
            var a = Reference.Random(m * k, 1);
            var b = Reference.Random(k * n, 2);
            var c = new float[m * n];
            int lda = ta ? m : k, ldb = tb ? k : n;
            for (int i = 0; i < 3; i++) Sgemm.Multiply(ta, tb, m, n, k, 1f, a, lda, b, ldb, 0.5f, c, n, pool);
            SteadyState.AssertAllocatesNothing(() => { for (int i = 0; i < 10; i++) Sgemm.Multiply(ta, tb, m, n, k, 1f, a, lda, b, ldb, 0.5f, c, n, pool); });
        }
    }

    [Fact]
    public void Span2DViews_MultiplySubmatricesInPlace()
    {
        // C's 5 x 6 block at (2, 3) of a 9 x 12 matrix = A's 5 x 7 block times the transpose of B's 6 x 7 block.
        var big = Reference.Random(9 * 12, 1);
        var a = Reference.Random(8 * 10, 2);
        var b = Reference.Random(7 * 9, 3);
        var expected = (float[])big.Clone();
        var aView = new ReadOnlySpan2D<float>(a, 1 * 10 + 2, 5, 7, 3);      // rows 1..5, cols 2..8 of an 8 x 10 matrix
        var bView = new ReadOnlySpan2D<float>(b, 0 * 9 + 1, 6, 7, 2);      // rows 0..5, cols 1..7 of a 7 x 9 matrix
        for (int i = 0; i < 5; i++)
            for (int j = 0; j < 6; j++)
            {
                double s = 0;
                for (int p = 0; p < 7; p++) s += (double)aView[i, p] * bView[j, p];
                expected[(2 + i) * 12 + 3 + j] = (float)(2 * s + 0.5 * big[(2 + i) * 12 + 3 + j]);
            }
        Sgemm.Multiply(false, true, aView, bView, new Span2D<float>(big, 2 * 12 + 3, 5, 6, 6), alpha: 2f, beta: 0.5f);
        Reference.AssertClose(expected, big, 1e-5f, "2-D views");
        bool threw = false;
        try { Sgemm.Multiply(false, false, aView, bView, new Span2D<float>(big, 5, 6)); }   // op(B) is 6 x 7, not 7 x 6
        catch (ArgumentException e) { threw = e.Message.Contains("views disagree"); }
        Assert.True(threw);
    }

    [Fact]
    public void BadShapes_ThrowArgumentException_NamingTheShapes()
    {
        var ex = Assert.Throws<ArgumentException>(() => Sgemm.Multiply(false, false, 2, 3, 4, 1f, new float[7], 4, new float[12], 3, 0f, new float[6], 3));
        Assert.Contains("A is m x k = 2 x 4", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => Sgemm.Multiply(false, true, 2, 3, 4, 1f, new float[8], 4, new float[12], 3, 0f, new float[6], 3));
        Assert.Contains("leading dimension of B", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => Sgemm.Multiply(false, false, 2, 3, 4, 1f, new float[8], 4, new float[12], 3, 0f, new float[5], 3));
        Assert.Contains("C is m x n = 2 x 3", ex.Message);
        Assert.Throws<ArgumentException>(() => Sgemm.Multiply(false, false, -1, 3, 4, 1f, new float[8], 4, new float[12], 3, 0f, new float[6], 3));
    }

    /// <summary>
    /// A, B and C each end flush against an inaccessible page, holding exactly the floats their shapes need ((rows - 1) *
    /// ld + cols): a kernel that reads a vector past a matrix's end, which masked loads exist to prevent, kills the test
    /// process. The shapes reach the unpacked blocks with masked or partly used last vectors (down to B one float wide),
    /// the dot products' k tails, the packed edge tiles, and a product split along k; beta 0 and 0.5, rows with and
    /// without padding.
    /// </summary>
    [LinuxFact]
    public unsafe void OperandsEndingAtAGuardPage_AreNeverReadOrWrittenPastTheirEnd()
    {
        var shapes = (from m in new[] { 1, 5, 10, 13, 40 }
                      from n in new[] { 1, 10, 15, 17, 30, 33, 100, 145 }
                      from k in new[] { 1, 3, 30, 257 }
                      select (m, n, k)).Append((10, 1100, 257));   // B read in place, k split in two halves
        int seed = 0;
        foreach (var level in CpuContext.SupportedLevels)
        foreach (bool ta in new[] { false, true })
        foreach (bool tb in new[] { false, true })
        foreach (var (m, n, k) in shapes)
        foreach (int padding in new[] { 0, 3 })
        {
            float beta = seed % 2 == 0 ? 0f : 0.5f;
            int lda = (ta ? m : k) + padding, ldb = (tb ? k : n) + padding, ldc = n + padding;
            using var a = Guarded(ta ? k : m, ta ? m : k, lda, seed);
            using var b = Guarded(tb ? n : k, tb ? k : n, ldb, seed + 1);
            using var c = Guarded(m, n, ldc, seed + 2);
            float[] expected = c.Span.ToArray(), aCopy = a.Span.ToArray(), bCopy = b.Span.ToArray();
            Reference.Gemm(ta, tb, m, n, k, 1f, aCopy, lda, bCopy, ldb, beta, expected, ldc);
            Sgemm.Multiply(ta, tb, m, n, k, 1f, a.Span, lda, b.Span, ldb, beta, c.Span, ldc, cpu: CpuContext.For(level));
            Reference.AssertClose(expected, c.Span, 1e-4f, $"{level} ta={ta} tb={tb} {m}x{n}x{k} pad={padding} beta={beta}");
            seed += 3;
        }

        // Exactly the floats a rows x cols matrix with leading dimension ld needs.
        static GuardedMemory Guarded(int rows, int cols, int ld, int seed) => GuardedMemory.CopyOf(Reference.Random((rows - 1) * ld + cols, seed));
    }

    private static void CheckAgainstReference(CpuLevel level, bool ta, bool tb, int m, int n, int k, float alpha, float beta, int padding, int seed)
    {
        int lda = (ta ? m : k) + padding, ldb = (tb ? k : n) + padding, ldc = n + padding;
        var a = Reference.Random(Math.Max(1, (ta ? k : m) * lda), seed);
        var b = Reference.Random(Math.Max(1, (tb ? n : k) * ldb), seed + 1000);
        var c = Reference.Random(Math.Max(1, m * ldc), seed + 2000);
        var expected = (float[])c.Clone();
        Reference.Gemm(ta, tb, m, n, k, alpha, a, Math.Max(1, lda), b, Math.Max(1, ldb), beta, expected, Math.Max(1, ldc));
        Sgemm.Multiply(ta, tb, m, n, k, alpha, a, Math.Max(1, lda), b, Math.Max(1, ldb), beta, c, Math.Max(1, ldc), cpu: CpuContext.For(level));
        Reference.AssertClose(expected, c, 1e-4f, $"{level} ta={ta} tb={tb} {m}x{n}x{k} alpha={alpha} beta={beta} pad={padding}");
    }
}
