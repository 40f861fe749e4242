using NativeNet.Core.Backends;
using NativeNet.Core.Kernels;
using NativeNet.Core.Threading;

namespace NativeNet.Core.Tests;

/// <summary>
/// A convolution's weight and input gradients, computed a chunk of images at a time, against naive loops over the
/// definition, at every instruction level, inline and on two workers.
/// </summary>
public class ConvGradientTests
{
    // channels, batch, height, width, kernel, stride, padding, filters, chunks the batch splits into.
    public static IEnumerable<object[]> Geometries() => CpuLevelCases.Cross(
        [20, 37, 12, 12, 5, 1, 0, 40, 5],    // the book's second convolution: 4.5 MiB unfolded, so five chunks, 8 images and 5 last
        [1, 37, 28, 28, 5, 1, 0, 20, 2],     // the book's first: 2 MiB, so 19 and 18
        [20, 61, 12, 12, 5, 2, 2, 6, 4],     // strided and padded: 4.2 MiB, so 16, 16, 16 and 13
        [64, 3, 20, 20, 5, 1, 0, 3, 3],      // one image larger than a chunk: one a chunk
        [3, 2, 7, 5, 3, 2, 1, 4, 1]);        // the whole batch in one chunk

    [Theory]
    [MemberData(nameof(Geometries))]
    public void WeightGradient_EqualsNaiveSum(CpuLevel level, int c, int n, int h, int w, int k, int stride, int pad, int filters, int chunks)
    {
        var g = new ConvGeometry(c, n, h, w, k, k, stride, pad);
        Assert.Equal(chunks, (n + ConvKernels.ImagesPerChunk(g) - 1) / ConvKernels.ImagesPerChunk(g));
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

        foreach (int threads in new[] { 1, 2 })
        {
            using var pool = threads > 1 ? new WorkerPool(threads) : null;
            var (scratch, sentinel) = GuardedScratch(g);
            var gradW = Enumerable.Repeat(float.NaN, filters * g.ColRows).ToArray();   // overwritten, never read
            ConvKernels.WeightGradient(input, dz, scratch.AsSpan(0, sentinel), gradW, filters, g, pool, CpuContext.For(level));
            Reference.AssertClose(expected, gradW, 2e-6f * n * g.OutHeight * g.OutWidth, $"dW at {level}, {threads} threads");
            Assert.Equal(123f, scratch[sentinel]);
        }
    }

    [Theory]
    [MemberData(nameof(Geometries))]
    public void InputGradient_EqualsNaiveSum(CpuLevel level, int c, int n, int h, int w, int k, int stride, int pad, int filters, int chunks)
    {
        var g = new ConvGeometry(c, n, h, w, k, k, stride, pad);
        Assert.Equal(chunks, (n + ConvKernels.ImagesPerChunk(g) - 1) / ConvKernels.ImagesPerChunk(g));
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

        foreach (int threads in new[] { 1, 2 })
        {
            using var pool = threads > 1 ? new WorkerPool(threads) : null;
            var (scratch, sentinel) = GuardedScratch(g);
            var gradInput = Enumerable.Repeat(float.NaN, g.InputLength + 1).ToArray();   // overwritten; the last float is past the end
            gradInput[^1] = 321f;
            ConvKernels.InputGradient(weights, dz, scratch.AsSpan(0, sentinel), gradInput.AsSpan(0, g.InputLength), filters, g, pool, CpuContext.For(level));
            Reference.AssertClose(expected.Select(v => (float)v).ToArray(), gradInput.AsSpan(0, g.InputLength), 2e-6f * filters * k * k, $"dx at {level}, {threads} threads");
            Assert.Equal(321f, gradInput[^1]);
            Assert.Equal(123f, scratch[sentinel]);
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
        var cpu = CpuContext.Default;
        Assert.Contains("scratch", Assert.Throws<ArgumentException>(() => ConvKernels.WeightGradient(input, dz, scratch.AsSpan(1), gradW, filters, g, null, cpu)).Message);
        Assert.Contains("dz", Assert.Throws<ArgumentException>(() => ConvKernels.WeightGradient(input, dz.AsSpan(1), scratch, gradW, filters, g, null, cpu)).Message);
        Assert.Contains("gradWeights", Assert.Throws<ArgumentException>(() => ConvKernels.WeightGradient(input, dz, scratch, gradW.AsSpan(1), filters, g, null, cpu)).Message);
        Assert.Contains("gradInput", Assert.Throws<ArgumentException>(() => ConvKernels.InputGradient(gradW, dz, scratch, input.AsSpan(1), filters, g, null, cpu)).Message);
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
                var smaller = g with { Batch = n - 1 };
                Assert.True(ConvKernels.GradientScratchLength(smaller) <= ConvKernels.GradientScratchLength(g), $"{smaller} needs more scratch than {g}");
                long unfolded = (long)g.ColRows * g.OutHeight * g.OutWidth;
                Assert.True(unfolded * ConvKernels.ImagesPerChunk(g) <= ConvKernels.GradientScratchLength(g), $"{g}: a chunk overflows");
                if (unfolded * n * sizeof(float) < ConvKernels.GradientChunkBytes * 3 / 2) Assert.Equal(n, ConvKernels.ImagesPerChunk(g));
            }
    }

    /// <summary>Scratch of exactly the length the kernels may use, with a sentinel after it that they must not touch.</summary>
    private static (float[] Scratch, int Sentinel) GuardedScratch(in ConvGeometry g)
    {
        int length = (int)ConvKernels.GradientScratchLength(g);
        var scratch = new float[length + 1];
        scratch[length] = 123f;
        return (scratch, length);
    }
}
