using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using NativeNet.Core.Backends;
using NativeNet.Core.Kernels;
using NativeNet.Core.Threading;

namespace NativeNet.Core.Tests;

public class ElementwiseTests
{
    public static IEnumerable<object[]> Lengths() => new[] { 0, 1, 2, 7, 8, 15, 16, 17, 31, 33, 64, 71, 257 }.Select(n => new object[] { n });

    [Theory]
    [MemberData(nameof(Lengths))]
    public void ActivationsAndDerivatives_MatchScalarFormulas(int n)
    {
        var z = Reference.Random(n, n, 4f);
        var g = Reference.Random(n, n + 1);
        foreach (var f in Enum.GetValues<Activation>())
        {
            var a = new float[n];
            Elementwise.Activate(f, z, a);
            var da = new float[n];
            Elementwise.ActivationBackward(f, a, g, da);
            for (int i = 0; i < n; i++)
            {
                double x = z[i];
                double expect = f switch { Activation.Sigmoid => 1 / (1 + Math.Exp(-x)), Activation.Tanh => Math.Tanh(x), Activation.ReLU => Math.Max(0, x), _ => x };
                double deriv = f switch { Activation.Sigmoid => expect * (1 - expect), Activation.Tanh => 1 - expect * expect, Activation.ReLU => x > 0 ? 1 : 0, _ => 1 };
                Assert.True(Math.Abs(a[i] - expect) < 1e-5, $"{f}({x}) = {a[i]}, expected {expect}");
                Assert.True(Math.Abs(da[i] - g[i] * deriv) < 1e-5, $"{f}'({x}) * {g[i]} = {da[i]}");
            }
        }
    }

    [Theory]
    [MemberData(nameof(Lengths))]
    public void OutputDeltas_MatchDefinitions(int n)
    {
        var a = Reference.Random(n, 3).Select(v => (v + 1) / 2).ToArray();
        var y = Reference.Random(n, 4).Select(v => (v + 1) / 2).ToArray();
        var d = new float[n];
        Elementwise.OutputDelta(OutputCost.SigmoidQuadratic, a, y, d);
        for (int i = 0; i < n; i++) Assert.Equal((a[i] - y[i]) * a[i] * (1 - a[i]), d[i], 1e-6f);
        Elementwise.OutputDelta(OutputCost.SoftmaxLogLikelihood, a, y, d);
        for (int i = 0; i < n; i++) Assert.Equal(a[i] - y[i], d[i], 1e-6f);
    }

    [Fact]
    public void Softmax_Bias_BiasGradient_ArgMax_MatchNaive()
    {
        int rows = 5, cols = 13;
        var z = Reference.Random(rows * cols, 1, 5f);
        var a = new float[z.Length];
        Elementwise.Softmax(z, a, rows, cols);
        for (int r = 0; r < rows; r++)
        {
            double sum = Enumerable.Range(0, cols).Sum(c => Math.Exp(z[r * cols + c]));
            for (int c = 0; c < cols; c++) Assert.Equal(Math.Exp(z[r * cols + c]) / sum, a[r * cols + c], 1e-5);
        }
        var bias = Reference.Random(cols, 2);
        var x = (float[])z.Clone();
        Elementwise.AddBias(x, bias, rows, cols, BiasAxis.PerColumn);
        for (int i = 0; i < x.Length; i++) Assert.Equal(z[i] + bias[i % cols], x[i], 1e-6f);
        var rowBias = Reference.Random(rows, 3);
        x = (float[])z.Clone();
        Elementwise.AddBias(x, rowBias, rows, cols, BiasAxis.PerRow);
        for (int i = 0; i < x.Length; i++) Assert.Equal(z[i] + rowBias[i / cols], x[i], 1e-6f);
        var gb = new float[cols];
        Elementwise.BiasGradient(z, gb, rows, cols, BiasAxis.PerColumn, 0f);
        for (int c = 0; c < cols; c++) Assert.Equal(Enumerable.Range(0, rows).Sum(r => z[r * cols + c]), gb[c], 1e-5f);
        var gr = new float[rows];
        Elementwise.BiasGradient(z, gr, rows, cols, BiasAxis.PerRow, 0f);
        for (int r = 0; r < rows; r++) Assert.Equal(Enumerable.Range(0, cols).Sum(c => z[r * cols + c]), gr[r], 1e-5f);
        var idx = new int[rows];
        Elementwise.ArgMaxRows(z, rows, cols, idx);
        for (int r = 0; r < rows; r++) Assert.Equal(Array.IndexOf(z, z.Skip(r * cols).Take(cols).Max(), r * cols) - r * cols, idx[r]);
    }

    [Theory]
    [InlineData(Activation.ReLU, BiasAxis.PerRow)]
    [InlineData(Activation.Identity, BiasAxis.PerRow)]
    [InlineData(Activation.Sigmoid, BiasAxis.PerRow)]
    [InlineData(Activation.ReLU, BiasAxis.PerColumn)]
    public void BiasActivation_EqualsBiasThenActivation(Activation f, BiasAxis axis)
    {
        int rows = 5, cols = 37;
        var z = Reference.Random(rows * cols, 4, 3f);
        var bias = Reference.Random(axis == BiasAxis.PerRow ? rows : cols, 5);
        var expectZ = (float[])z.Clone();
        Elementwise.AddBias(expectZ, bias, rows, cols, axis);
        var expectA = new float[z.Length];
        Elementwise.Activate(f, expectZ, expectA);
        var a = new float[z.Length];
        Elementwise.BiasActivation(z, bias, a, rows, cols, axis, f);
        Assert.Equal(expectZ, z);
        Assert.Equal(expectA, a);
        Elementwise.BiasActivation(z, bias, z, rows, cols, axis, f);   // in place
    }

    [Fact]
    public void Softmax_OfLogitsBeyondExpRange_IsFiniteAndExact()
    {
        // exp(100) overflows a float: a softmax that does not subtract the row maximum returns NaN here (a ReLU network
        // trained on the expanded set reached such logits and diverged).
        float[] z = [100f, 0f, 50f, -1000f, 1000f, 999f];
        var a = new float[z.Length];
        Elementwise.Softmax(z, a, 2, 3);
        Assert.All(a, v => Assert.True(float.IsFinite(v), $"softmax gave {v}"));
        Assert.Equal(1.0, a[0], 1e-6);
        Assert.Equal(Math.Exp(-50), a[2], 1e-12);
        Assert.Equal(0f, a[3]);
        Assert.Equal(1 / (1 + Math.Exp(-1)), a[4], 1e-6);
        Assert.Equal(Math.Exp(-1) / (1 + Math.Exp(-1)), a[5], 1e-6);
    }

    [Fact]
    public void LogSoftmax_MatchesLogOfSoftmax_AndStaysFiniteWhereSoftmaxUnderflows()
    {
        int rows = 3, cols = 11;
        var z = Reference.Random(rows * cols, 8, 6f);
        var log = new float[z.Length];
        Elementwise.LogSoftmax(z, log, rows, cols);
        for (int r = 0; r < rows; r++)
        {
            double max = z.Skip(r * cols).Take(cols).Max();
            double sum = z.Skip(r * cols).Take(cols).Sum(v => Math.Exp(v - max));
            for (int c = 0; c < cols; c++) Assert.Equal(z[r * cols + c] - max - Math.Log(sum), log[r * cols + c], 1e-5);
        }
        float[] extreme = [0f, -200f, 300f];
        Elementwise.LogSoftmax(extreme, extreme, 1, 3);
        Assert.Equal(-300f, extreme[0], 1e-3f);
        Assert.Equal(-500f, extreme[1], 1e-3f);
        Assert.Equal(0f, extreme[2], 1e-6f);
    }

    [Fact]
    public void MismatchedLengths_ThrowArgumentException()
    {
        Assert.Throws<ArgumentException>(() => Elementwise.Activate(Activation.Sigmoid, new float[3], new float[4]));
        Assert.Throws<ArgumentException>(() => Elementwise.Softmax(new float[5], new float[6], 2, 3));
        Assert.Throws<ArgumentException>(() => Elementwise.AddBias(new float[6], new float[2], 2, 3, BiasAxis.PerColumn));
    }
}

public class ConvKernelTests
{
    /// <summary>
    /// im2col is a copy, so it must match a naive unfold exactly and write nothing past cols: output rows of 8 floats two at
    /// a time (8 x 8) or one at a time (9 rows), of 16 (one line each), of 24 and 40 (lines across two output rows), 24 with
    /// an odd count of 8-float pieces (23 rows: the one-row path), and a padded, strided geometry.
    /// </summary>
    [Theory]
    [InlineData(3, 2, 12, 12, 5, 1, 0)]
    [InlineData(2, 2, 13, 12, 5, 1, 0)]
    [InlineData(2, 1, 20, 20, 5, 1, 0)]
    [InlineData(1, 3, 28, 28, 5, 1, 0)]
    [InlineData(2, 1, 8, 44, 5, 1, 0)]
    [InlineData(1, 2, 27, 28, 5, 1, 0)]
    [InlineData(3, 2, 7, 5, 3, 2, 1)]
    public void Im2Col_EqualsNaiveUnfold_Exactly(int c, int n, int h, int w, int k, int stride, int pad)
    {
        var g = new ConvGeometry(c, n, h, w, k, k, stride, pad);
        var input = Reference.Random(g.InputLength, 3);
        var cols = new float[g.ColRows * g.ColCols + 1];
        cols[^1] = 123f;
        ConvKernels.Im2Col(input, cols.AsSpan(0, g.ColRows * g.ColCols), g);
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

    [Theory]
    [InlineData(1, 2, 6, 6, 3, 1, 0)]
    [InlineData(3, 2, 7, 5, 3, 2, 1)]
    [InlineData(2, 3, 9, 9, 5, 1, 2)]
    [InlineData(1, 1, 28, 28, 5, 1, 0)]
    [InlineData(3, 2, 12, 12, 5, 1, 0)]   // 8-wide output rows: one vector a row
    public void Im2ColGemm_EqualsNaiveDirectConvolution(int c, int n, int h, int w, int k, int stride, int pad)
    {
        var g = new ConvGeometry(c, n, h, w, k, k, stride, pad);
        int filters = 4, oh = g.OutHeight, ow = g.OutWidth;
        var input = Reference.Random(g.InputLength, 1);
        var weights = Reference.Random(filters * g.ColRows, 2);
        var cols = new float[g.ColRows * g.ColCols];
        ConvKernels.Im2Col(input, cols, g);
        var output = new float[filters * g.ColCols];
        Gemm.Sgemm.Multiply(false, false, filters, g.ColCols, g.ColRows, 1f, weights, g.ColRows, cols, g.ColCols, 0f, output, g.ColCols);
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
    [Theory]
    [InlineData(1, 1, 28, 28, 5, 20)]
    [InlineData(20, 1, 12, 12, 5, 40)]
    [InlineData(20, 3, 12, 12, 5, 40)]
    [InlineData(3, 2, 10, 10, 3, 13)]
    [InlineData(2, 3, 11, 19, 4, 3)]
    [InlineData(1, 1, 12, 20, 5, 1)]
    [InlineData(4, 2, 9, 17, 2, 9)]
    [InlineData(2, 1, 8, 40, 1, 5)]
    [InlineData(3, 1, 12, 12, 5, 8)]
    [InlineData(2, 2, 12, 12, 5, 12)]
    [InlineData(3, 1, 12, 12, 5, 23)]
    [InlineData(2, 2, 12, 12, 5, 4)]
    [InlineData(1, 1, 12, 12, 5, 2)]
    public void DirectConvolution_EqualsNaiveConvolution_OnEveryThreadCount(int c, int n, int h, int w, int k, int filters)
    {
        var g = new ConvGeometry(c, n, h, w, k, k);
        var input = Reference.Random(g.InputLength, 1);
        var weights = Reference.Random(filters * g.ColRows, 2);
        if (!Vector512.IsHardwareAccelerated)
        {
            Assert.False(DirectConvolution.Supports(g));
            Assert.Throws<ArgumentException>(() => DirectConvolution.Convolve(input, weights, new float[filters * g.ColCols], filters, g));
            return;
        }
        Assert.True(DirectConvolution.Supports(g));
        var output = new float[filters * g.ColCols + 1];
        output[^1] = 123f;   // one element past z: must stay untouched
        using (var one = new WorkerPool(1)) DirectConvolution.Convolve(input, weights, output, filters, g, one);
        for (int f = 0; f < filters; f++)
            for (int b = 0; b < n; b++)
                for (int y = 0; y < g.OutHeight; y++)
                    for (int x = 0; x < g.OutWidth; x++)
                        Assert.Equal(NaiveConvolution(input, weights, g, f, b, y, x), output[f * g.ColCols + (b * g.OutHeight + y) * g.OutWidth + x], 1e-4);
        Assert.Equal(123f, output[^1]);
        // Each element is the same fixed-order sum whichever worker computes it.
        var parallel = new float[filters * g.ColCols + 1];
        parallel[^1] = 123f;
        using (var two = new WorkerPool(2)) DirectConvolution.Convolve(input, weights, parallel, filters, g, two);
        Assert.Equal(output, parallel);
    }

    [Theory]
    [InlineData(1, 1, 28, 28, 5, 2, 0)]   // stride
    [InlineData(1, 1, 28, 28, 5, 1, 2)]   // padding
    [InlineData(1, 1, 12, 14, 5, 1, 0)]   // 8 x 10 output: rows not a multiple of 8
    [InlineData(1, 1, 12, 12, 9, 1, 0)]   // 4 x 4 output: 16 pixels, not a multiple of 32
    public void DirectConvolution_RefusesGeometriesItDoesNotCover(int c, int n, int h, int w, int k, int stride, int pad)
    {
        var g = new ConvGeometry(c, n, h, w, k, k, stride, pad);
        Assert.False(DirectConvolution.Supports(g));
        var ex = Assert.Throws<ArgumentException>(() => DirectConvolution.Convolve(new float[g.InputLength], new float[g.ColRows], new float[g.ColCols], 1, g));
        Assert.Contains("stride 1", ex.Message);
    }

    [Fact]
    public void CpuBackend_OffersTheDirectKernel_OnlyWhereItCoversTheGeometry()
    {
        var covered = new ConvGeometry(20, 1, 12, 12, 5, 5);
        var strided = covered with { Stride = 2 };
        using var cpu = new CpuBackend(1);
        using var scalar = new CpuBackend(1, Gemm.GemmKernelKind.Scalar);
        Assert.Equal(Vector512.IsHardwareAccelerated, cpu.SupportsDirectConvolution(covered));
        Assert.False(cpu.SupportsDirectConvolution(strided));
        Assert.False(scalar.SupportsDirectConvolution(covered));   // a forced GEMM kernel keeps the unfolded path
        using var arena = new TensorArena(cpu);
        var x = arena.Allocate("x", strided.InputLength);
        var w = arena.Allocate("w", 2 * strided.ColRows);
        var z = arena.Allocate("z", 2 * strided.ColCols);
        arena.Commit();
        var ex = Assert.Throws<NotSupportedException>(() => cpu.Convolve(x, w, z, 2, strided));
        Assert.Contains("Im2Col", ex.Message);
    }

    [Fact]
    public void DirectConvolution_ShortSpans_ThrowNamingTheOperand()
    {
        var g = new ConvGeometry(2, 1, 12, 12, 5, 5);
        if (!DirectConvolution.Supports(g)) return;   // refusal is covered above
        var ex = Assert.Throws<ArgumentException>(() => DirectConvolution.Convolve(new float[g.InputLength], new float[3 * g.ColRows - 1], new float[3 * g.ColCols], 3, g));
        Assert.Equal("weights", ex.ParamName);
        ex = Assert.Throws<ArgumentException>(() => DirectConvolution.Convolve(new float[g.InputLength], new float[3 * g.ColRows], new float[3 * g.ColCols - 1], 3, g));
        Assert.Equal("output", ex.ParamName);
    }

    /// <summary>
    /// Every operand of im2col, col2im, the direct convolution and pooling ends flush against an inaccessible page
    /// (<see cref="GuardedMemory"/>): a vector read or written past a tensor's end kills the test process. The results
    /// must equal, bit for bit (<see cref="AssertSameBits"/>), those computed on ordinary arrays (which the tests above
    /// check against naive loops).
    /// Geometries: the book's two convolutions, an odd-sized padded and strided one, rows that are not whole vectors.
    /// </summary>
    [LinuxFact]
    public unsafe void ConvolutionAndPoolingOperands_EndingAtAGuardPage_AreNeverReadOrWrittenPastTheirEnd()
    {
        foreach (var g in new[]
        {
            new ConvGeometry(1, 3, 28, 28, 5, 5), new ConvGeometry(20, 2, 12, 12, 5, 5), new ConvGeometry(3, 2, 7, 5, 3, 3, 2, 1),
            new ConvGeometry(2, 1, 13, 12, 5, 5), new ConvGeometry(2, 1, 8, 44, 5, 5), new ConvGeometry(4, 2, 9, 17, 2, 2),
        })
        {
            var input = Reference.Random(g.InputLength, 1);
            var cols = new float[g.ColRows * g.ColCols];
            ConvKernels.Im2Col(input, cols, g);
            using (var gIn = GuardedMemory.CopyOf(input))
            using (var gCols = new GuardedMemory(cols.Length))
            {
                ConvKernels.Im2Col(gIn.Span, gCols.Span, g);
                AssertSameBits(cols, gCols.Span);
            }

            var gradInput = new float[g.InputLength];
            ConvKernels.Col2Im(cols, gradInput, g);
            using (var gCols = GuardedMemory.CopyOf(cols))
            using (var gGrad = new GuardedMemory(gradInput.Length))
            {
                ConvKernels.Col2Im(gCols.Span, gGrad.Span, g);
                AssertSameBits(gradInput, gGrad.Span);
            }

            if (!DirectConvolution.Supports(g)) continue;
            foreach (int filters in new[] { 1, 5, 20 })
            {
                var weights = Reference.Random(filters * g.ColRows, 2);
                var output = new float[filters * g.ColCols];
                DirectConvolution.Convolve(input, weights, output, filters, g);
                using var gIn = GuardedMemory.CopyOf(input);
                using var gW = GuardedMemory.CopyOf(weights);
                using var gOut = new GuardedMemory(output.Length);
                DirectConvolution.Convolve(gIn.Span, gW.Span, gOut.Span, filters, g);
                AssertSameBits(output, gOut.Span);
            }
        }

        foreach (var kind in new[] { PoolKind.Max, PoolKind.Average, PoolKind.L2 })
        foreach (var (h, w) in new[] { (24, 24), (8, 8), (7, 6), (20, 34) })
        {
            var g = new PoolGeometry(3, h, w, 2, 2);
            var input = Reference.Random(g.InputLength, 7);
            var gradOut = Reference.Random(g.OutputLength, 8);
            float[] output = new float[g.OutputLength], argmax = new float[g.OutputLength], gradIn = new float[g.InputLength];
            ConvKernels.PoolForward(kind, input, output, argmax, g);
            ConvKernels.PoolBackward(kind, input, output, argmax, gradOut, gradIn, g);
            using var gIn = GuardedMemory.CopyOf(input);
            using var gOut = new GuardedMemory(output.Length);
            using var gArg = new GuardedMemory(argmax.Length);
            using var gGradOut = GuardedMemory.CopyOf(gradOut);
            using var gGradIn = new GuardedMemory(gradIn.Length);
            ConvKernels.PoolForward(kind, gIn.Span, gOut.Span, gArg.Span, g);
            ConvKernels.PoolBackward(kind, gIn.Span, gOut.Span, gArg.Span, gGradOut.Span, gGradIn.Span, g);
            AssertSameBits(output, gOut.Span);
            AssertSameBits(argmax, gArg.Span);
            AssertSameBits(gradIn, gGradIn.Span);
        }
    }

    /// <summary>Equal bits, element by element (float equality would let -0 stand for +0).</summary>
    private static void AssertSameBits(float[] expected, ReadOnlySpan<float> actual) =>
        Assert.Equal(MemoryMarshal.Cast<float, int>(expected).ToArray(), MemoryMarshal.Cast<float, int>(actual).ToArray());

    [Theory]
    [InlineData(8, 7, 3, 2, 1)]
    [InlineData(12, 12, 5, 1, 0)]   // 8-wide output rows without padding: one vector a row
    public void Col2Im_IsTheAdjointOfIm2Col(int h, int w, int k, int stride, int pad)
    {
        // <im2col(x), y> = <x, col2im(y)> for random x, y: checks every index mapping, including padding and stride.
        var g = new ConvGeometry(2, 3, h, w, k, k, stride, pad);
        var x = Reference.Random(g.InputLength, 5);
        var y = Reference.Random(g.ColRows * g.ColCols, 6);
        var cols = new float[y.Length];
        ConvKernels.Im2Col(x, cols, g);
        var back = new float[x.Length];
        ConvKernels.Col2Im(y, back, g);
        double lhs = cols.Zip(y, (p, q) => (double)p * q).Sum(), rhs = x.Zip(back, (p, q) => (double)p * q).Sum();
        Assert.Equal(lhs, rhs, 1e-3);
    }

    [Theory]
    [InlineData(PoolKind.Max, 7, 6)]
    [InlineData(PoolKind.Max, 20, 34)]   // 17 outputs per row: two 8-wide SIMD blocks and a scalar tail
    [InlineData(PoolKind.Max, 24, 24)]   // 12 outputs per row: one 8-wide and one 4-wide block (the book's first conv layer)
    [InlineData(PoolKind.Max, 8, 8)]     // 4 outputs per row: one 4-wide block (the second)
    [InlineData(PoolKind.Max, 20, 34, true)]   // values in {0, 1, 2}: ties in most windows, which go to the first maximum
    [InlineData(PoolKind.Max, 24, 24, true)]
    [InlineData(PoolKind.Max, 7, 6, true)]
    [InlineData(PoolKind.Average, 7, 6)]
    [InlineData(PoolKind.L2, 8, 10)]
    public void Pooling_MatchesNaiveWindows(PoolKind kind, int h, int w, bool ties = false)
    {
        var g = new PoolGeometry(3, h, w, 2, 2);
        var input = Reference.Random(g.InputLength, 7);
        if (ties) for (int i = 0; i < input.Length; i++) input[i] = MathF.Round(input[i] + 1f);
        var output = new float[g.OutputLength];
        var argmax = new float[g.OutputLength];
        ConvKernels.PoolForward(kind, input, output, argmax, g);
        var gradOut = Reference.Random(g.OutputLength, 8);
        var gradIn = new float[g.InputLength];
        ConvKernels.PoolBackward(kind, input, output, argmax, gradOut, gradIn, g);
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

public class OptimizerAndDropoutTests
{
    [Theory]
    [InlineData(0f, 0f, false)]
    [InlineData(0.9f, 0f, false)]
    [InlineData(0.9f, 0f, true)]
    [InlineData(0f, 0.01f, false)]
    public void Update_MatchesTheFormulas(float mu, float l1, bool nesterov)
    {
        foreach (int n in new[] { 1, 15, 16, 17, 100 })
        {
            var w = Reference.Random(n, 1); var g = Reference.Random(n, 2); var v = Reference.Random(n, 3);
            var (w0, v0) = ((float[])w.Clone(), (float[])v.Clone());
            var rule = new UpdateRule(0.5f, 0.1f, 0.02f, l1, mu, nesterov);
            Optimizer.Update(w, g, v, rule);
            for (int i = 0; i < n; i++)
            {
                double grad = g[i] * 0.1 + 0.02 * w0[i] + l1 * Math.Sign(w0[i]);
                if (mu == 0) { Assert.Equal(w0[i] - 0.5 * grad, w[i], 1e-5); continue; }
                double vNew = mu * v0[i] - 0.5 * grad;
                Assert.Equal(vNew, v[i], 1e-5);
                Assert.Equal(nesterov ? w0[i] - mu * v0[i] + (1 + mu) * vNew : w0[i] + vNew, w[i], 1e-5);
            }
        }
    }

    [Fact]
    public void DropoutMask_IsDeterministic_AndKeepsTheRightFraction()
    {
        var a = new float[100_000]; var b = new float[100_000]; var c = new float[100_000];
        Dropout.Mask(a, 0.7f, 42, 3);
        Dropout.Mask(b, 0.7f, 42, 3);
        Dropout.Mask(c, 0.7f, 42, 4);
        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
        Assert.All(a, x => Assert.True(x == 0f || x == 1f));
        Assert.InRange(a.Average(), 0.69, 0.71);
        Assert.Throws<ArgumentOutOfRangeException>(() => Dropout.Mask(a, 0f, 1, 1));
    }

    [Fact]
    public void DropoutMask_EqualsTheScalarHash_AtEveryLengthAndOffset()
    {
        // The vector loop and the scalar tail must both compute Uniform24 (the OpenCL kernel computes it too).
        foreach (float keep in new[] { 0.5f, 0.8f, 1f })
            for (int length = 0; length <= 70; length++)
            {
                var mask = new float[length];
                Dropout.Mask(mask, keep, 0xFEED, 7);
                uint threshold = (uint)Math.Min(keep * 16777216.0, 16777216.0);
                for (int i = 0; i < length; i++)
                    Assert.Equal(Dropout.Uniform24(0xFEED, 7, (ulong)i) < threshold ? 1f : 0f, mask[i]);
            }
    }
}

public class WorkerPoolTests
{
    private unsafe struct FillWork : IParallelWork
    {
        public int* Data; public int Length;
        public void Execute(int worker, int workers)
        {
            var (s, e) = WorkerPool.Partition(Length, worker, workers);
            for (int i = s; i < e; i++) Data[i] += worker + 1;
        }
    }

    private struct ThrowWork : IParallelWork
    {
        public void Execute(int worker, int workers) { if (worker == workers - 1) throw new InvalidOperationException("boom"); }
    }

    [Fact]
    public unsafe void Run_CoversEveryIndexOnce_WithoutAllocating_AndPropagatesErrors()
    {
        using var pool = new WorkerPool(2);
        var data = new int[1001];
        fixed (int* p = data)
        {
            var work = new FillWork { Data = p, Length = data.Length };
            for (int i = 0; i < 1000; i++) pool.Run(ref work, 2);
            int runs = 1000;
            SteadyState.AssertAllocatesNothing(() => { for (int i = 0; i < 100; i++, runs++) pool.Run(ref work, 2); });
            Assert.All(data.Take(500), x => Assert.Equal(runs, x));          // worker 0 adds 1 per run
            Assert.All(data.Skip(501), x => Assert.Equal(2 * runs, x));      // worker 1 adds 2 per run
        }
        var bad = new ThrowWork();
        Assert.Throws<InvalidOperationException>(() => pool.Run(ref bad, 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => new WorkerPool(0));
    }

    [Theory]
    [InlineData(0)]      // workers block after every run: the wake-up handshake runs every time
    [InlineData(20)]     // workers sometimes catch the next run while spinning, sometimes sleep
    public async Task ManyRuns_WithIdleGaps_NeverLoseAWakeUp(int spinMicroseconds)
    {
        // A lost wake-up hangs Run forever; the test fails on a time bound instead of hanging the suite.
        var pool = new WorkerPool(2, spinMicroseconds);   // disposed only on success: Dispose waits for a hung Run
        var run = Task.Run(() =>
        {
            var work = new CountWork();
            var rng = new Random(3);
            for (int i = 0; i < 100_000; i++)
            {
                pool.Run(ref work, 2);
                if (rng.Next(4) == 0) Thread.SpinWait(rng.Next(2000));   // let a worker go back to sleep
            }
        });
        var finished = await Task.WhenAny(run, Task.Delay(TimeSpan.FromSeconds(60)));
        Assert.True(finished == run, "WorkerPool.Run did not return: a worker missed its wake-up.");
        await run;
        pool.Dispose();
    }

    private struct CountWork : IParallelWork
    {
        public void Execute(int worker, int workers) => Thread.SpinWait(10);
    }

    [Fact]
    public void Partition_IsContiguousAndComplete()
    {
        for (int total = 0; total < 50; total++)
            for (int workers = 1; workers <= 4; workers++)
            {
                int next = 0;
                for (int w = 0; w < workers; w++)
                {
                    var (s, e) = WorkerPool.Partition(total, w, workers, grain: 3);
                    Assert.Equal(next, s);
                    next = e;
                }
                Assert.Equal(total, next);
            }
    }
}

public class ArenaTests
{
    [Fact]
    public void Arena_CarvesAlignedTensors_FromOneBuffer()
    {
        using var backend = new CpuBackend(1);
        using var arena = new TensorArena(backend);
        var a = arena.Allocate("a", 3, 5);
        var b = arena.Allocate("b", 7);
        Assert.False(a.IsBound);
        Assert.Throws<InvalidOperationException>(() => a.Buffer);
        arena.Commit();
        Assert.Same(a.Buffer, b.Buffer);
        Assert.Equal(0, b.Offset % 16);
        Assert.True(b.Offset >= 15);
        backend.Upload([1f, 2f, 3f], b);
        var back = new float[3];
        backend.Download(b, back);
        Assert.Equal([1f, 2f, 3f], back);
        Assert.Throws<InvalidOperationException>(() => arena.Allocate("late", 1));
        Assert.Throws<ArgumentException>(() => CpuBackend.Span(a, 16));
    }
}
