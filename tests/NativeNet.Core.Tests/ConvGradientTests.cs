using NativeNet.Core.Backends;
using NativeNet.Core.Kernels;
using NativeNet.Core.Threading;

namespace NativeNet.Core.Tests;

/// <summary>
/// A convolution's weight and input gradients, computed a chunk of images at a time (or, at AVX2, without the unfolded
/// matrix), against naive loops over the definition, at every instruction level, inline and on two workers.
/// </summary>
public class ConvGradientTests
{
    // channels, batch, height, width, kernel, stride, padding, filters, chunks the batch splits into.
    public static IEnumerable<object[]> Geometries() => CpuLevelCases.Cross(
        [20, 37, 12, 12, 5, 1, 0, 40, 5],    // the book's second convolution: 4.5 MiB unfolded, five chunks of 7 or 8 images
        [1, 37, 28, 28, 5, 1, 0, 20, 2],     // the book's first: 2 MiB, 18 and 19
        [20, 61, 12, 12, 5, 2, 2, 6, 4],     // strided and padded: 4.2 MiB, 15 or 16 a chunk
        [64, 3, 20, 20, 5, 1, 0, 3, 3],      // one image larger than a chunk: one a chunk
        [3, 2, 7, 5, 3, 2, 1, 4, 1]);        // the whole batch in one chunk

    [Theory]
    [MemberData(nameof(Geometries))]
    public void WeightGradient_EqualsNaiveSum(CpuLevel level, int c, int n, int h, int w, int k, int stride, int pad, int filters, int chunks)
    {
        var g = new ConvGeometry(c, n, h, w, k, k, stride, pad);
        Assert.Equal(chunks, ConvKernels.GradientChunks(g));
        CheckWeightGradient(level, g, filters, [1, 2]);
    }

    /// <summary>
    /// At AVX2 the weight gradient of a dense convolution with at least 32 filters reads the images where they lie
    /// (<see cref="DirectWeightGradient"/>): kernel rows of 3, 6 and 1 taps; filters in whole strips of 16 (32, 48) and
    /// with a last strip of 8 (33, 40), which takes kernel rows in pairs, one left over where their count is odd.
    /// </summary>
    [Theory]
    [InlineData(3, 4, 9, 10, 3, 33)]
    [InlineData(2, 3, 10, 11, 6, 32)]
    [InlineData(5, 2, 7, 7, 1, 48)]
    [InlineData(3, 5, 12, 12, 5, 40)]
    public void DirectWeightGradient_EqualsNaiveSum(int c, int n, int h, int w, int k, int filters)
    {
        var g = new ConvGeometry(c, n, h, w, k, k);
        Assert.False(DirectWeightGradient.Applies(g, 31, CpuLevel.Avx2));
        CheckReadingTheImages(DirectWeightGradient.Applies, g, filters);
    }

    /// <summary>
    /// At AVX2 the weight gradient of a dense convolution with fewer than 32 filters and output rows of whole vectors
    /// runs eight pixels a vector (<see cref="FewFiltersWeightGradient"/>): last filter blocks of 4, 3, 1 and 2 (20, 7, 5,
    /// 1, 6) and last tap blocks of 2, 3, 1 and 2 (5 = 3 + 2, 6 = 3 + 3, 4 = 3 + 1, 2, 3), one channel and several, more
    /// blocks than a worker keeps at once (3 x 5 x 2 x 2 = 60), on 1-3 threads; the first and last geometries are large
    /// enough for the workers to share.
    /// </summary>
    [Theory]
    [InlineData(1, 3, 28, 28, 5, 20)]    // the book's first convolution
    [InlineData(3, 2, 13, 13, 6, 7)]
    [InlineData(2, 3, 11, 11, 4, 5)]
    [InlineData(1, 2, 17, 17, 2, 1)]
    [InlineData(3, 2, 12, 12, 5, 8)]
    [InlineData(2, 6, 18, 18, 3, 6)]
    public void FewFiltersWeightGradient_EqualsNaiveSum(int c, int n, int h, int w, int k, int filters)
    {
        var g = new ConvGeometry(c, n, h, w, k, k);
        Assert.False(FewFiltersWeightGradient.Applies(g, DirectWeightGradient.MinFilters, CpuLevel.Avx2));
        Assert.False(FewFiltersWeightGradient.Applies(g with { Width = w + 1 }, filters, CpuLevel.Avx2));   // rows of 8 and a bit
        Assert.True(DirectInputGradient.Applies(g, CpuLevel.Avx2));   // so no scratch at all, below
        CheckReadingTheImages(FewFiltersWeightGradient.Applies, g, filters);
    }

    private delegate bool AppliesTo(in ConvGeometry g, int filters, CpuLevel level);

    /// <summary>
    /// A weight-gradient kernel that reads the images directly: it applies at AVX2 only, not to a padded convolution; the
    /// scratch is none where the input gradient reads the images too, else the unfolded chunk; and its gradient is checked
    /// on 1-3 threads.
    /// </summary>
    private static void CheckReadingTheImages(AppliesTo applies, ConvGeometry g, int filters)
    {
        Assert.True(applies(g, filters, CpuLevel.Avx2));
        Assert.False(applies(g, filters, CpuLevel.Avx512));
        Assert.False(applies(g with { Padding = 1 }, filters, CpuLevel.Avx2));
        Assert.Equal(DirectInputGradient.Applies(g, CpuLevel.Avx2) ? 0 : ConvKernels.GradientScratchLength(g), ConvKernels.GradientScratchLength(g, filters, CpuLevel.Avx2));
        if (CpuContext.SupportedLevels.Contains(CpuLevel.Avx2)) CheckWeightGradient(CpuLevel.Avx2, g, filters, [1, 2, 3]);
    }

    /// <summary>
    /// The weight gradient on each thread count against naive loops over the definition, the same bits on every count:
    /// overwriting (beta 0, the start NaN so a read would show) and added onto a gradient already there (beta 1).
    /// </summary>
    private static void CheckWeightGradient(CpuLevel level, ConvGeometry g, int filters, int[] threadCounts)
    {
        int n = g.Batch, h = g.Height, w = g.Width, k = g.KernelWidth, stride = g.Stride, pad = g.Padding;
        var input = Reference.Random(g.InputLength, 1);
        var dz = Reference.Random(filters * g.ColCols, 2);
        var expected = new float[filters * g.ColRows];
        for (int f = 0; f < filters; f++)
            for (int row = 0; row < g.ColRows; row++)
            {
                int ch = row / (k * k), ky = row / k % k, kx = row % k;
                double s = 0;
                for (int b = 0; b < n; b++)
                    for (int y = 0; y < g.OutHeight; y++)
                        for (int x = 0; x < g.OutWidth; x++)
                        {
                            int iy = y * stride - pad + ky, ix = x * stride - pad + kx;
                            if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                            s += (double)dz[f * g.ColCols + (b * g.OutHeight + y) * g.OutWidth + x] * input[((ch * n + b) * h + iy) * w + ix];
                        }
                expected[f * g.ColRows + row] = (float)s;
            }

        var earlier = Reference.Random(filters * g.ColRows, 3);   // the gradient of an earlier pass, for beta 1
        var expectedSum = expected.Select((e, i) => e + earlier[i]).ToArray();
        float[]? oneThread = null;
        foreach (int threads in threadCounts)
        {
            using var pool = threads > 1 ? new WorkerPool(threads) : null;
            var scratch = GuardedScratch(g);
            var gradW = Enumerable.Repeat(float.NaN, filters * g.ColRows).ToArray();   // overwritten, never read
            ConvKernels.WeightGradient(input, dz, scratch.Usable, gradW, filters, g, 0f, pool, CpuContext.For(level));
            Reference.AssertClose(expected, gradW, 2e-6f * n * g.OutHeight * g.OutWidth, $"dW at {level}, {threads} threads");
            scratch.AssertUntouched();
            if (oneThread is null) oneThread = gradW;
            else Assert.Equal(oneThread, gradW);   // the same sums in the same order, whatever the thread count

            var summed = earlier.ToArray();
            ConvKernels.WeightGradient(input, dz, scratch.Usable, summed, filters, g, 1f, pool, CpuContext.For(level));
            Reference.AssertClose(expectedSum, summed, 2e-6f * n * g.OutHeight * g.OutWidth, $"dW added at {level}, {threads} threads");
        }
    }

    [Theory]
    [MemberData(nameof(Geometries))]
    public void InputGradient_EqualsNaiveSum(CpuLevel level, int c, int n, int h, int w, int k, int stride, int pad, int filters, int chunks)
    {
        var g = new ConvGeometry(c, n, h, w, k, k, stride, pad);
        Assert.Equal(chunks, ConvKernels.GradientChunks(g));
        CheckInputGradient(level, g, filters, [1, 2]);
    }

    /// <summary>
    /// At AVX2 the input gradient of a dense convolution whose output rows are whole vectors skips the unfolded product
    /// (<see cref="DirectInputGradient"/>): 1, 3, 5 and 6 taps, rows of one and three vectors, one image and an odd number
    /// (one left over after the pairs), input rows reached by one to all kernel rows, one channel and several, on 1-3
    /// threads.
    /// </summary>
    [Theory]
    [InlineData(3, 1, 11, 12, 5, 7)]
    [InlineData(2, 3, 10, 10, 3, 9)]
    [InlineData(4, 2, 13, 13, 6, 16)]
    [InlineData(1, 3, 8, 24, 1, 5)]
    [InlineData(5, 2, 12, 28, 5, 40)]
    public void DirectInputGradient_EqualsNaiveSum(int c, int n, int h, int w, int k, int filters)
    {
        var g = new ConvGeometry(c, n, h, w, k, k);
        Assert.True(DirectInputGradient.Applies(g, CpuLevel.Avx2));
        Assert.False(DirectInputGradient.Applies(g, CpuLevel.Avx512));
        Assert.False(DirectInputGradient.Applies(g with { Width = w + 1 }, CpuLevel.Avx2));   // a row of 8 + 1 pixels
        if (CpuContext.SupportedLevels.Contains(CpuLevel.Avx2)) CheckInputGradient(CpuLevel.Avx2, g, filters, [1, 2, 3]);
    }

    /// <summary>The input gradient on each thread count against naive loops over the definition, the same bits on every count.</summary>
    private static void CheckInputGradient(CpuLevel level, ConvGeometry g, int filters, int[] threadCounts)
    {
        int n = g.Batch, h = g.Height, w = g.Width, k = g.KernelWidth, stride = g.Stride, pad = g.Padding;
        var weights = Reference.Random(filters * g.ColRows, 3);
        var dz = Reference.Random(filters * g.ColCols, 4);
        var expected = new double[g.InputLength];
        for (int f = 0; f < filters; f++)
            for (int row = 0; row < g.ColRows; row++)
            {
                int ch = row / (k * k), ky = row / k % k, kx = row % k;
                for (int b = 0; b < n; b++)
                    for (int y = 0; y < g.OutHeight; y++)
                        for (int x = 0; x < g.OutWidth; x++)
                        {
                            int iy = y * stride - pad + ky, ix = x * stride - pad + kx;
                            if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                            expected[((ch * n + b) * h + iy) * w + ix] += (double)weights[f * g.ColRows + row] * dz[f * g.ColCols + (b * g.OutHeight + y) * g.OutWidth + x];
                        }
            }

        float[]? oneThread = null;
        foreach (int threads in threadCounts)
        {
            using var pool = threads > 1 ? new WorkerPool(threads) : null;
            var scratch = GuardedScratch(g);
            var gradInput = Enumerable.Repeat(float.NaN, g.InputLength + 1).ToArray();   // overwritten; the last float is past the end
            gradInput[^1] = 321f;
            ConvKernels.InputGradient(weights, dz, scratch.Usable, gradInput.AsSpan(0, g.InputLength), filters, g, pool, CpuContext.For(level));
            Reference.AssertClose(expected.Select(v => (float)v).ToArray(), gradInput.AsSpan(0, g.InputLength), 2e-6f * filters * k * k, $"dx at {level}, {threads} threads");
            Assert.Equal(321f, gradInput[^1]);
            scratch.AssertUntouched();
            if (oneThread is null) oneThread = gradInput;
            else Assert.Equal(oneThread, gradInput);
        }
    }

    [Fact]
    public void Too_small_buffers_are_refused_naming_them()
    {
        var g = new ConvGeometry(20, 17, 12, 12, 5, 5);
        int filters = 40;
        var input = new float[g.InputLength];
        var dz = new float[filters * g.ColCols];
        var gradW = new float[filters * g.ColRows];
        var scratch = new float[ConvKernels.GradientScratchLength(g)];
        var cpu = CpuContext.For(CpuLevel.Scalar);   // the unfolded path, which needs the scratch (AVX2 reads the images directly)
        Assert.Contains("scratch", Assert.Throws<ArgumentException>(() => ConvKernels.WeightGradient(input, dz, scratch.AsSpan(1), gradW, filters, g, 0f, null, cpu)).Message);
        Assert.Contains("dz", Assert.Throws<ArgumentException>(() => ConvKernels.WeightGradient(input, dz.AsSpan(1), scratch, gradW, filters, g, 0f, null, cpu)).Message);
        Assert.Contains("gradWeights", Assert.Throws<ArgumentException>(() => ConvKernels.WeightGradient(input, dz, scratch, gradW.AsSpan(1), filters, g, 0f, null, cpu)).Message);
        Assert.Contains("gradInput", Assert.Throws<ArgumentException>(() => ConvKernels.InputGradient(gradW, dz, scratch, input.AsSpan(1), filters, g, null, cpu)).Message);
        Assert.Contains("input", Assert.Throws<ArgumentException>(() => ConvKernels.WeightGradient(input.AsSpan(1), dz, scratch, gradW, filters, g, 0f, null, cpu)).Message);
        Assert.Contains("weights", Assert.Throws<ArgumentException>(() => ConvKernels.InputGradient(gradW.AsSpan(1), dz, scratch, input, filters, g, null, cpu)).Message);
        Assert.Contains("scratch", Assert.Throws<ArgumentException>(() => ConvKernels.InputGradient(gradW, dz, scratch.AsSpan(1), input, filters, g, null, cpu)).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => ConvKernels.InputGradient(gradW, dz, scratch, input, 0, g, null, cpu));
    }

    /// <summary>
    /// A layer sizes its scratch for its largest batch; every smaller batch (an epoch's last) must fit in it, and a
    /// batch of up to one and a half chunks' bytes runs whole.
    /// </summary>
    [Fact]
    public void ScratchForABatch_ServesEverySmallerBatch()
    {
        foreach (var (c, h, k) in new[] { (20, 12, 5), (1, 28, 5), (64, 20, 5) })
            for (int n = 2; n <= 130; n++)
            {
                var g = new ConvGeometry(c, n, h, h, k, k);
                long unfolded = (long)g.ColRows * g.OutHeight * g.OutWidth, scratch = ConvKernels.GradientScratchLength(g);
                for (int m = 1; m <= n; m++)
                    Assert.True(unfolded * ConvKernels.ImagesPerChunk(g with { Batch = m }) <= scratch, $"a chunk of {m} images overflows the scratch for {g}");
                if (unfolded * n * sizeof(float) < ConvKernels.GradientChunkBytes * 3 / 2) Assert.Equal(n, ConvKernels.ImagesPerChunk(g));
            }
    }

    /// <summary>
    /// The scratch the layer would hold for <paramref name="g"/> (<see cref="ConvKernels.GradientScratchLength"/>, which
    /// can exceed what this batch's chunks need), every float past the largest chunk a sentinel, and one more past the end.
    /// </summary>
    private static GuardedBuffer GuardedScratch(in ConvGeometry g)
    {
        int length = (int)ConvKernels.GradientScratchLength(g);
        int used = g.ColRows * ConvKernels.ImagesPerChunk(g) * g.OutHeight * g.OutWidth;
        Assert.True(used <= length, $"{g}: a chunk of {used} floats in a scratch of {length}");
        var scratch = new float[length + 1];
        scratch.AsSpan(used).Fill(123f);
        return new GuardedBuffer(scratch, used, length);
    }

    private readonly record struct GuardedBuffer(float[] Scratch, int Used, int Length)
    {
        public Span<float> Usable => Scratch.AsSpan(0, Length);

        public void AssertUntouched()
        {
            for (int i = Used; i <= Length; i++) Assert.True(Scratch[i] == 123f, $"scratch[{i}] written past the largest chunk ({Used} floats)");
        }
    }
}
