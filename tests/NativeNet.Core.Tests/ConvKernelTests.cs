using System.Runtime.InteropServices;
using NativeNet.Core.Backends;
using NativeNet.Core.Kernels;
using NativeNet.Core.Threading;

namespace NativeNet.Core.Tests;

public class ConvKernelTests
{
    /// <summary>
    /// im2col is a copy, so it must match a naive unfold exactly and write nothing past cols: output rows of 8 floats two at
    /// a time (8 x 8) or one at a time (9 rows), of 16 (one line each), of 24 and 40 (lines across two output rows), 24 with
    /// an odd count of 8-float pieces (23 rows: the one-row path), and a padded, strided geometry.
    /// </summary>
    public static IEnumerable<object[]> UnfoldGeometries() => CpuLevelCases.Cross(
        [3, 2, 12, 12, 5, 1, 0], [2, 2, 13, 12, 5, 1, 0], [2, 1, 20, 20, 5, 1, 0], [1, 3, 28, 28, 5, 1, 0],
        [2, 1, 8, 44, 5, 1, 0], [1, 2, 27, 28, 5, 1, 0], [3, 2, 7, 5, 3, 2, 1]);

    [Theory]
    [MemberData(nameof(UnfoldGeometries))]
    public void Im2Col_EqualsNaiveUnfold_Exactly(CpuLevel level, int c, int n, int h, int w, int k, int stride, int pad)
    {
        var g = new ConvGeometry(c, n, h, w, k, k, stride, pad);
        var input = Reference.Random(g.InputLength, 3);
        var cols = new float[g.ColRows * g.ColCols + 1];
        cols[^1] = 123f;
        ConvKernels.Im2Col(input, cols.AsSpan(0, g.ColRows * g.ColCols), g, pool: null, CpuContext.For(level));
        for (int ch = 0; ch < c; ch++)
            for (int ky = 0; ky < k; ky++)
                for (int kx = 0; kx < k; kx++)
                    for (int b = 0; b < n; b++)
                        for (int y = 0; y < g.OutHeight; y++)
                            for (int x = 0; x < g.OutWidth; x++)
                            {
                                int iy = y * stride - pad + ky, ix = x * stride - pad + kx;
                                float expected = iy < 0 || iy >= h || ix < 0 || ix >= w ? 0f : input[((ch * n + b) * h + iy) * w + ix];
                                int row = (ch * k + ky) * k + kx, col = (b * g.OutHeight + y) * g.OutWidth + x;
                                Assert.Equal(expected, cols[row * g.ColCols + col]);
                            }
        Assert.Equal(123f, cols[^1]);
    }

    // The last geometry has 8-wide output rows: one vector a row.
    public static IEnumerable<object[]> ConvolutionGeometries() => CpuLevelCases.Cross(
        [1, 2, 6, 6, 3, 1, 0], [3, 2, 7, 5, 3, 2, 1], [2, 3, 9, 9, 5, 1, 2], [1, 1, 28, 28, 5, 1, 0], [3, 2, 12, 12, 5, 1, 0]);

    [Theory]
    [MemberData(nameof(ConvolutionGeometries))]
    public void Im2ColGemm_EqualsNaiveDirectConvolution(CpuLevel level, int c, int n, int h, int w, int k, int stride, int pad)
    {
        var cpu = CpuContext.For(level);
        var g = new ConvGeometry(c, n, h, w, k, k, stride, pad);
        int filters = 4, oh = g.OutHeight, ow = g.OutWidth;
        var input = Reference.Random(g.InputLength, 1);
        var weights = Reference.Random(filters * g.ColRows, 2);
        var cols = new float[g.ColRows * g.ColCols];
        ConvKernels.Im2Col(input, cols, g, pool: null, cpu);
        var output = new float[filters * g.ColCols];
        Gemm.Sgemm.Multiply(false, false, filters, g.ColCols, g.ColRows, 1f, weights, g.ColRows, cols, g.ColCols, 0f, output, g.ColCols, cpu: cpu);
        for (int f = 0; f < filters; f++)
            for (int b = 0; b < n; b++)
                for (int y = 0; y < oh; y++)
                    for (int x = 0; x < ow; x++)
                    {
                        double s = 0;
                        for (int ch = 0; ch < c; ch++)
                            for (int ky = 0; ky < k; ky++)
                                for (int kx = 0; kx < k; kx++)
                                {
                                    int iy = y * stride - pad + ky, ix = x * stride - pad + kx;
                                    if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                                    s += input[((ch * n + b) * h + iy) * w + ix] * (double)weights[f * g.ColRows + (ch * k + ky) * k + kx];
                                }
                        Assert.Equal(s, output[f * g.ColCols + (b * oh + y) * ow + x], 1e-4);
                    }
    }

    /// <summary>The naive convolution: z[f, n, y, x] = sum over (c, ky, kx) of W[f, (c, ky, kx)] * input[c, n, y*s - p + ky, x*s - p + kx].</summary>
    private static double NaiveConvolution(float[] input, float[] weights, in ConvGeometry g, int f, int b, int y, int x)
    {
        double s = 0;
        int k = g.KernelHeight;
        for (int ch = 0; ch < g.Channels; ch++)
            for (int ky = 0; ky < k; ky++)
                for (int kx = 0; kx < g.KernelWidth; kx++)
                {
                    int iy = y * g.Stride - g.Padding + ky, ix = x * g.Stride - g.Padding + kx;
                    if (iy < 0 || iy >= g.Height || ix < 0 || ix >= g.Width) continue;
                    s += input[((ch * g.Batch + b) * g.Height + iy) * g.Width + ix] * (double)weights[f * g.ColRows + (ch * k + ky) * g.KernelWidth + kx];
                }
        return s;
    }

    // Shapes the direct kernel covers: output rows a multiple of 8, maps a multiple of 32 pixels; filter counts that take
    // every block size (1, 2, 3 and 4 through the 4-filter block, 5, 8, 9, 12, 13 = 6 + 7, 23 = 11 + 12) and the book's two
    // convolutions (20 = 10 + 10, 40 = 4 x 10).
    public static IEnumerable<object[]> DirectGeometries() => CpuLevelCases.Cross(
        [1, 1, 28, 28, 5, 20], [20, 1, 12, 12, 5, 40], [20, 3, 12, 12, 5, 40], [3, 2, 10, 10, 3, 13], [2, 3, 11, 19, 4, 3],
        [1, 1, 12, 20, 5, 1], [4, 2, 9, 17, 2, 9], [2, 1, 8, 40, 1, 5], [3, 1, 12, 12, 5, 8], [2, 2, 12, 12, 5, 12],
        [3, 1, 12, 12, 5, 23], [2, 2, 12, 12, 5, 4], [1, 1, 12, 12, 5, 2],
        [2, 3, 6, 12, 5, 7],    // 2 x 8 output maps: 16 pixels, one AVX2 block, not an AVX-512 one
        [1, 1, 34, 34, 3, 40]); // one image split in claims of 39 (AVX2) or 11 (AVX-512) units: claims that start and end inside a block's filter groups

    /// <summary>
    /// Where the level has a direct kernel whose pixel block tiles the maps, it equals the naive convolution on one and
    /// two threads and on a claiming view of two (one image runs in claimed units); elsewhere it says it does not cover
    /// the geometry and refuses to run.
    /// </summary>
    [Theory]
    [MemberData(nameof(DirectGeometries))]
    public void DirectConvolution_EqualsNaiveConvolution_OnEveryThreadCount(CpuLevel level, int c, int n, int h, int w, int k, int filters)
    {
        var cpu = CpuContext.For(level);
        var g = new ConvGeometry(c, n, h, w, k, k);
        var input = Reference.Random(g.InputLength, 1);
        var weights = Reference.Random(filters * g.ColRows, 2);
        if (level == CpuLevel.Scalar || g.OutHeight * g.OutWidth % DirectConvolution.PixelBlock(level) != 0)
        {
            Assert.False(DirectConvolution.Supports(g, cpu));
            Assert.Throws<ArgumentException>(() => DirectConvolution.Convolve(input, weights, new float[filters * g.ColCols], filters, g, null, cpu));
            return;
        }
        Assert.True(DirectConvolution.Supports(g, cpu));
        var output = new float[filters * g.ColCols + 1];
        output[^1] = 123f;   // one element past z: must stay untouched
        using (var one = new WorkerPool(1)) DirectConvolution.Convolve(input, weights, output, filters, g, one, cpu);
        for (int f = 0; f < filters; f++)
            for (int b = 0; b < n; b++)
                for (int y = 0; y < g.OutHeight; y++)
                    for (int x = 0; x < g.OutWidth; x++)
                        Assert.Equal(NaiveConvolution(input, weights, g, f, b, y, x), output[f * g.ColCols + (b * g.OutHeight + y) * g.OutWidth + x], 1e-4);
        Assert.Equal(123f, output[^1]);
        // Each element is the same fixed-order sum whichever worker computes it.
        var parallel = new float[filters * g.ColCols + 1];
        parallel[^1] = 123f;
        using var two = new WorkerPool(2);
        DirectConvolution.Convolve(input, weights, parallel, filters, g, two, cpu);
        Assert.Equal(output, parallel);
        Array.Clear(parallel, 0, parallel.Length - 1);
        DirectConvolution.Convolve(input, weights, parallel, filters, g, two.ClaimingView(), cpu);
        Assert.Equal(output, parallel);
    }

    /// <summary>
    /// The direct convolution with 2x2 max pooling inside its units equals the direct convolution followed by the max
    /// pool, bit for bit (ties and signs of zero included: inputs are rounded so that windows tie), on one and two threads
    /// and on a claiming view; geometries whose maps do not split into whole pooled units are refused.
    /// </summary>
    [Theory]
    [MemberData(nameof(DirectGeometries))]
    public void DirectConvolutionMaxPool_EqualsConvolutionThenPooling(CpuLevel level, int c, int n, int h, int w, int k, int filters)
    {
        var cpu = CpuContext.For(level);
        var g = new ConvGeometry(c, n, h, w, k, k);
        var input = Reference.Random(g.InputLength, 3).Select(v => MathF.Round(v * 4) / 4).ToArray();   // coarse values: ties in the windows
        var weights = Reference.Random(filters * g.ColRows, 4).Select(v => MathF.Round(v * 4) / 4).ToArray();
        if (!DirectConvolution.SupportsMaxPool2(g, cpu))
        {
            Assert.True(!DirectConvolution.Supports(g, cpu) || g.OutHeight % 2 != 0 || level == CpuLevel.Avx512);
            Assert.Throws<ArgumentException>(() => DirectConvolution.ConvolveMaxPool2(input, weights, new float[filters * g.ColCols / 4], filters, g, null, cpu));
            return;
        }
        var z = new float[filters * g.ColCols];
        var expected = new float[filters * g.ColCols / 4];
        var argmax = new float[expected.Length];
        using var one = new WorkerPool(1);
        DirectConvolution.Convolve(input, weights, z, filters, g, one, cpu);
        ConvKernels.PoolForward(PoolKind.Max, z, expected, argmax, new PoolGeometry(filters * n, g.OutHeight, g.OutWidth, 2, 2), one, cpu);
        using var two = new WorkerPool(2);
        foreach (var pool in new[] { one, two, two.ClaimingView() })
        {
            var pooled = new float[expected.Length + 1];
            pooled[^1] = 123f;   // one element past the maps: must stay untouched
            DirectConvolution.ConvolveMaxPool2(input, weights, pooled, filters, g, pool, cpu);
            Assert.Equal(123f, pooled[^1]);
            for (int i = 0; i < expected.Length; i++)
                Assert.True(BitConverter.SingleToInt32Bits(expected[i]) == BitConverter.SingleToInt32Bits(pooled[i]), $"pooled[{i}]: {pooled[i]} against {expected[i]}");
        }
    }

    [Theory]
    [InlineData(1, 1, 28, 28, 5, 2, 0)]   // stride
    [InlineData(1, 1, 28, 28, 5, 1, 2)]   // padding
    [InlineData(1, 1, 12, 14, 5, 1, 0)]   // 8 x 10 output: rows not a multiple of 8
    [InlineData(1, 1, 12, 12, 9, 1, 0)]   // 4 x 4 output: 16 pixels, not a multiple of 32
    public void DirectConvolution_RefusesGeometriesItDoesNotCover(int c, int n, int h, int w, int k, int stride, int pad)
    {
        var g = new ConvGeometry(c, n, h, w, k, k, stride, pad);
        foreach (var level in CpuContext.SupportedLevels)
            Assert.False(DirectConvolution.Supports(g, CpuContext.For(level)));
        var ex = Assert.Throws<ArgumentException>(() => DirectConvolution.Convolve(new float[g.InputLength], new float[g.ColRows], new float[g.ColCols], 1, g, null, CpuContext.Default));
        Assert.Contains("stride 1", ex.Message);
    }

    [Theory]
    [MemberData(nameof(CpuLevels.Supported), MemberType = typeof(CpuLevels))]
    public void CpuBackend_OffersTheDirectKernel_OnlyWhereItsLevelAndTheGeometryAllow(CpuLevel level)
    {
        var covered = new ConvGeometry(20, 1, 12, 12, 5, 5);
        var strided = covered with { Stride = 2 };
        using var cpu = new CpuBackend(1, CpuContext.For(level));
        Assert.Equal(level != CpuLevel.Scalar, cpu.SupportsDirectConvolution(covered));
        Assert.False(cpu.SupportsDirectConvolution(strided));
        using var arena = new TensorArena(cpu);
        var x = arena.Allocate("x", strided.InputLength);
        var w = arena.Allocate("w", 2 * strided.ColRows);
        var z = arena.Allocate("z", 2 * strided.ColCols);
        arena.Commit();
        var ex = Assert.Throws<NotSupportedException>(() => cpu.Convolve(x, w, z, 2, strided));
        Assert.Contains("Im2Col", ex.Message);
    }

    /// <summary>Lengths are checked before anything else, at every level (so the message names the short operand, not the level).</summary>
    [Theory]
    [MemberData(nameof(CpuLevels.Supported), MemberType = typeof(CpuLevels))]
    public void DirectConvolution_ShortSpans_ThrowNamingTheOperand(CpuLevel level)
    {
        var cpu = CpuContext.For(level);
        var g = new ConvGeometry(2, 1, 12, 12, 5, 5);
        var ex = Assert.Throws<ArgumentException>(() => DirectConvolution.Convolve(new float[g.InputLength - 1], new float[3 * g.ColRows], new float[3 * g.ColCols], 3, g, null, cpu));
        Assert.Equal("input", ex.ParamName);
        ex = Assert.Throws<ArgumentException>(() => DirectConvolution.Convolve(new float[g.InputLength], new float[3 * g.ColRows - 1], new float[3 * g.ColCols], 3, g, null, cpu));
        Assert.Equal("weights", ex.ParamName);
        ex = Assert.Throws<ArgumentException>(() => DirectConvolution.Convolve(new float[g.InputLength], new float[3 * g.ColRows], new float[3 * g.ColCols - 1], 3, g, null, cpu));
        Assert.Equal("output", ex.ParamName);
    }

    /// <summary>
    /// Every operand of im2col, col2im, the direct convolution and pooling ends flush against an inaccessible page
    /// (<see cref="GuardedMemory"/>): a vector read or written past a tensor's end kills the test process. The results
    /// must equal, bit for bit (<see cref="AssertSameBits"/>), those computed on ordinary arrays (which the tests above
    /// check against naive loops).
    /// Geometries: the book's two convolutions, an odd-sized padded and strided one, rows that are not whole vectors.
    /// </summary>
    [LinuxTheory]
    [MemberData(nameof(CpuLevels.Supported), MemberType = typeof(CpuLevels))]
    public unsafe void ConvolutionAndPoolingOperands_EndingAtAGuardPage_AreNeverReadOrWrittenPastTheirEnd(CpuLevel level)
    {
        var cpu = CpuContext.For(level);
        foreach (var g in new[]
        {
            new ConvGeometry(1, 3, 28, 28, 5, 5), new ConvGeometry(20, 2, 12, 12, 5, 5), new ConvGeometry(3, 2, 7, 5, 3, 3, 2, 1),
            new ConvGeometry(2, 1, 13, 12, 5, 5), new ConvGeometry(2, 1, 8, 44, 5, 5), new ConvGeometry(4, 2, 9, 17, 2, 2),
        })
        {
            var input = Reference.Random(g.InputLength, 1);
            var cols = new float[g.ColRows * g.ColCols];
            ConvKernels.Im2Col(input, cols, g, null, cpu);
            using (var gIn = GuardedMemory.CopyOf(input))
            using (var gCols = new GuardedMemory(cols.Length))
            {
                ConvKernels.Im2Col(gIn.Span, gCols.Span, g, null, cpu);
                AssertSameBits(cols, gCols.Span);
            }

            var gradInput = new float[g.InputLength];
            ConvKernels.Col2Im(cols, gradInput, g, null, cpu);
            using (var gCols = GuardedMemory.CopyOf(cols))
            using (var gGrad = new GuardedMemory(gradInput.Length))
            {
                ConvKernels.Col2Im(gCols.Span, gGrad.Span, g, null, cpu);
                AssertSameBits(gradInput, gGrad.Span);
            }

            if (!DirectConvolution.Supports(g, cpu)) continue;
            foreach (int filters in new[] { 1, 5, 20 })
            {
                var weights = Reference.Random(filters * g.ColRows, 2);
                var output = new float[filters * g.ColCols];
                DirectConvolution.Convolve(input, weights, output, filters, g, null, cpu);
                using var gIn = GuardedMemory.CopyOf(input);
                using var gW = GuardedMemory.CopyOf(weights);
                using var gOut = new GuardedMemory(output.Length);
                DirectConvolution.Convolve(gIn.Span, gW.Span, gOut.Span, filters, g, null, cpu);
                AssertSameBits(output, gOut.Span);
            }
        }

        // Pooling: every plane width 2..66 (each count of 8- and 4-wide blocks of the 2x2 kernels, each tail), odd heights too.
        foreach (var kind in new[] { PoolKind.Max, PoolKind.Average, PoolKind.L2 })
        foreach (var (h, w) in Enumerable.Range(2, 65).Select(w => (w % 5 + 2, w)).Append((24, 24)).Append((8, 8)))
        {
            var g = new PoolGeometry(3, h, w, 2, 2);
            var input = Reference.Random(g.InputLength, 7);
            var gradOut = Reference.Random(g.OutputLength, 8);
            float[] output = new float[g.OutputLength], argmax = new float[g.OutputLength], gradIn = new float[g.InputLength];
            ConvKernels.PoolForward(kind, input, output, argmax, g, null, cpu);
            ConvKernels.PoolBackward(kind, input, output, argmax, gradOut, gradIn, g, cpu);
            using var gIn = GuardedMemory.CopyOf(input);
            using var gOut = new GuardedMemory(output.Length);
            using var gArg = new GuardedMemory(argmax.Length);
            using var gGradOut = GuardedMemory.CopyOf(gradOut);
            using var gGradIn = new GuardedMemory(gradIn.Length);
            ConvKernels.PoolForward(kind, gIn.Span, gOut.Span, gArg.Span, g, null, cpu);
            ConvKernels.PoolBackward(kind, gIn.Span, gOut.Span, gArg.Span, gGradOut.Span, gGradIn.Span, g, cpu);
            AssertSameBits(output, gOut.Span);
            AssertSameBits(argmax, gArg.Span);
            AssertSameBits(gradIn, gGradIn.Span);
        }
    }

    /// <summary>Equal bits, element by element (float equality would let -0 stand for +0).</summary>
    private static void AssertSameBits(float[] expected, ReadOnlySpan<float> actual) =>
        Assert.Equal(MemoryMarshal.Cast<float, int>(expected).ToArray(), MemoryMarshal.Cast<float, int>(actual).ToArray());

    // The second geometry has 8-wide output rows without padding: one vector a row.
    public static IEnumerable<object[]> AdjointGeometries() => CpuLevelCases.Cross([8, 7, 3, 2, 1], [12, 12, 5, 1, 0]);

    [Theory]
    [MemberData(nameof(AdjointGeometries))]
    public void Col2Im_IsTheAdjointOfIm2Col(CpuLevel level, int h, int w, int k, int stride, int pad)
    {
        var cpu = CpuContext.For(level);
        // <im2col(x), y> = <x, col2im(y)> for random x, y: checks every index mapping, including padding and stride.
        var g = new ConvGeometry(2, 3, h, w, k, k, stride, pad);
        var x = Reference.Random(g.InputLength, 5);
        var y = Reference.Random(g.ColRows * g.ColCols, 6);
        var cols = new float[y.Length];
        ConvKernels.Im2Col(x, cols, g, null, cpu);
        var back = new float[x.Length];
        ConvKernels.Col2Im(y, back, g, null, cpu);
        double lhs = cols.Zip(y, (p, q) => (double)p * q).Sum(), rhs = x.Zip(back, (p, q) => (double)p * q).Sum();
        Assert.Equal(lhs, rhs, 1e-3);
    }

    // 20 x 34: 17 outputs per row, two 8-wide SIMD blocks and a scalar tail; 24 x 24: 12 outputs per row, one 8-wide and
    // one 4-wide block (the book's first conv layer); 8 x 8: one 4-wide block (the second). With ties (values in {0, 1, 2})
    // most windows have several maxima, and the first one wins.
    public static IEnumerable<object[]> PoolCases() => CpuLevelCases.Cross(
        [PoolKind.Max, 7, 6, false], [PoolKind.Max, 20, 34, false], [PoolKind.Max, 24, 24, false], [PoolKind.Max, 8, 8, false],
        [PoolKind.Max, 20, 34, true], [PoolKind.Max, 24, 24, true], [PoolKind.Max, 7, 6, true],
        [PoolKind.Average, 7, 6, false], [PoolKind.L2, 8, 10, false]);

    [Theory]
    [MemberData(nameof(PoolCases))]
    public void Pooling_MatchesNaiveWindows(CpuLevel level, PoolKind kind, int h, int w, bool ties)
    {
        var cpu = CpuContext.For(level);
        var g = new PoolGeometry(3, h, w, 2, 2);
        var input = Reference.Random(g.InputLength, 7);
        if (ties) for (int i = 0; i < input.Length; i++) input[i] = MathF.Round(input[i] + 1f);
        var output = new float[g.OutputLength];
        var argmax = new float[g.OutputLength];
        ConvKernels.PoolForward(kind, input, output, argmax, g, null, cpu);
        var gradOut = Reference.Random(g.OutputLength, 8);
        var gradIn = new float[g.InputLength];
        ConvKernels.PoolBackward(kind, input, output, argmax, gradOut, gradIn, g, cpu);
        var expectGrad = new double[g.InputLength];
        for (int p = 0; p < g.Planes; p++)
            for (int y = 0; y < g.OutHeight; y++)
                for (int x = 0; x < g.OutWidth; x++)
                {
                    var at = (from dy in Enumerable.Range(0, 2) from dx in Enumerable.Range(0, 2) select p * h * w + (2 * y + dy) * w + 2 * x + dx).ToArray();
                    var vals = at.Select(i => (double)input[i]).ToArray();
                    int o = (p * g.OutHeight + y) * g.OutWidth + x;
                    double expect = kind switch { PoolKind.Max => vals.Max(), PoolKind.Average => vals.Average(), _ => Math.Sqrt(vals.Sum(v => v * v)) };
                    Assert.Equal(expect, output[o], 1e-5);
                    if (kind == PoolKind.Max) Assert.Equal(at[Array.IndexOf(vals, vals.Max())] - p * h * w, argmax[o]);
                    for (int j = 0; j < 4; j++)
                        expectGrad[at[j]] += kind switch
                        {
                            PoolKind.Max => vals[j] == vals.Max() && Array.IndexOf(vals, vals.Max()) == j ? gradOut[o] : 0,
                            PoolKind.Average => gradOut[o] / 4.0,
                            _ => gradOut[o] * vals[j] / expect,
                        };
                }
        for (int i = 0; i < gradIn.Length; i++) Assert.Equal(expectGrad[i], gradIn[i], 1e-5);
    }

    [Fact]
    public void LayoutChange_RoundTrips()
    {
        var src = Reference.Random(3 * 4 * 5, 9);
        var mid = new float[src.Length];
        var back = new float[src.Length];
        ConvKernels.ChannelMajorToBatchMajor(src, mid, 3, 4, 5);
        Assert.Equal(src[(2 * 4 + 1) * 5 + 3], mid[(1 * 3 + 2) * 5 + 3]);
        ConvKernels.ChannelMajorToBatchMajor(mid, back, 3, 4, 5, inverse: true);
        Assert.Equal(src, back);
    }
}
