using NativeNet.Core.Backends;
using NativeNet.Core.Kernels;

namespace NativeNet.OpenCL.Tests;

/// <summary>
/// Every IComputeBackend primitive on the OpenCL backend against CpuBackend on the same random data.
/// Tolerance 0 means bit for bit: the device kernels round like the CPU everywhere except in GEMM
/// (summation order, FMA), transcendental functions (exp, tanh, sqrt), tree reductions and the optimizer
/// update (the CPU's vectorized SGD path fuses multiply-adds).
/// </summary>
public sealed class ConformanceTests
{
    private static CpuBackend Cpu => OpenClTestEnvironment.Cpu;
    private static OpenClBackend Cl => OpenClTestEnvironment.Backend;

    // ------------------------------------------------------------------ GEMM

    public static TheoryData<OpenClGemmKernel, bool, bool, int, int, int, float, float> GemmCases()
    {
        var data = new TheoryData<OpenClGemmKernel, bool, bool, int, int, int, float, float>();
        (int M, int N, int K)[] shapes = [(1, 1, 1), (2, 3, 4), (17, 31, 7), (64, 64, 64), (65, 63, 129), (30, 10, 784), (5, 300, 2), (1, 130, 65), (129, 1, 33)];
        (float Alpha, float Beta)[] scalars = [(1f, 0f), (0.7f, 1f), (-1.3f, 0.5f)];
        foreach (var kernel in new[] { OpenClGemmKernel.Tiled, OpenClGemmKernel.Direct })
            foreach (bool ta in new[] { false, true })
                foreach (bool tb in new[] { false, true })
                    foreach (var (m, n, k) in shapes)
                        foreach (var (alpha, beta) in scalars)
                            data.Add(kernel, ta, tb, m, n, k, alpha, beta);
        return data;
    }

    [OpenClTheory, MemberData(nameof(GemmCases))]
    public void Gemm(OpenClGemmKernel kernel, bool transA, bool transB, int m, int n, int k, float alpha, float beta)
    {
        var cl = OpenClTestEnvironment.WithGemm(kernel);
        Assert.Equal(kernel, cl.GemmKernel);
        AssertGemmAgrees(cl, transA, transB, m, n, k, alpha, beta, $"{kernel} gemm");
    }

    /// <summary>One product on the CPU and on <paramref name="cl"/> from the same random A, B and C; beta == 0 must never read C.</summary>
    private static void AssertGemmAgrees(OpenClBackend cl, bool transA, bool transB, int m, int n, int k, float alpha, float beta, string label)
    {
        using var a = Twin.Random("A", m * k, 1 + m, backend: cl);
        using var b = Twin.Random("B", k * n, 2 + n, backend: cl);
        // beta == 0 must never read C: fill it with NaN so a read would poison the result.
        float[] c0 = beta == 0f ? Enumerable.Repeat(float.NaN, m * n).ToArray() : Data.Random(m * n, 3 + k);
        using var c = new Twin("C", c0, backend: cl);
        Cpu.Gemm(transA, transB, m, n, k, alpha, a.Cpu, b.Cpu, beta, c.Cpu);
        cl.Gemm(transA, transB, m, n, k, alpha, a.Cl, b.Cl, beta, c.Cl);
        var got = c.ClValues();
        Assert.DoesNotContain(got, float.IsNaN);
        Data.AssertClose(c.CpuValues(), got, 1e-6f * (k + 10), $"{label} {(transA ? "T" : "N")}{(transB ? "T" : "N")} {m}x{n}x{k}");
    }

    public static TheoryData<OpenClGemmKernel, bool, bool, int, int, int, float, float> SplitKCases()
    {
        var data = new TheoryData<OpenClGemmKernel, bool, bool, int, int, int, float, float>();
        (int M, int N, int K)[] shapes = [(1, 1, 1), (2, 3, 2), (17, 31, 7), (65, 63, 129), (20, 25, 1000)];
        foreach (var kernel in new[] { OpenClGemmKernel.Tiled, OpenClGemmKernel.Direct })
            foreach (bool ta in new[] { false, true })
                foreach (bool tb in new[] { false, true })
                    foreach (var (m, n, k) in shapes)
                        foreach (var (alpha, beta) in new[] { (1f, 0f), (-1.3f, 0.5f) })
                            data.Add(kernel, ta, tb, m, n, k, alpha, beta);
        return data;
    }

    /// <summary>Split K (slices summed by a second kernel) against the CPU, with beta == 0 never reading C.</summary>
    [OpenClTheory, MemberData(nameof(SplitKCases))]
    public void Gemm_split_k(OpenClGemmKernel kernel, bool transA, bool transB, int m, int n, int k, float alpha, float beta)
    {
        var cl = OpenClTestEnvironment.SplitK(kernel);
        Assert.Equal(Math.Min(3, k), cl.GemmSlices(m, n, k, out int chunk));
        Assert.True(chunk * Math.Min(3, k) >= k && chunk * (Math.Min(3, k) - 1) < k, $"slice depth {chunk} for k = {k}");
        AssertGemmAgrees(cl, transA, transB, m, n, k, alpha, beta, $"split-K {kernel} gemm");
    }

    /// <summary>
    /// The automatic split: a small C with a long K (conv1's weight gradient at batch 10) splits on the tiled kernel
    /// and agrees with the CPU, run after run bit for bit; a product with many tiles and the direct kernel do not split.
    /// </summary>
    [OpenClFact]
    public void Gemm_splits_k_only_for_small_outputs_with_long_depth()
    {
        var tiled = OpenClTestEnvironment.WithGemm(OpenClGemmKernel.Tiled);
        var direct = OpenClTestEnvironment.WithGemm(OpenClGemmKernel.Direct);
        int slices = tiled.GemmSlices(20, 25, 5760, out int chunk);
        Assert.InRange(slices, 2, 5760 / 256);
        Assert.Equal(0, chunk % (tiled.GemmTile / 4));   // whole panels
        Assert.Equal(1, tiled.GemmSlices(20, 25, 300, out _));                            // too shallow
        int wide = (int)Math.Ceiling(Math.Sqrt(2.0 * tiled.Device.ComputeUnits)) * tiled.GemmTile;
        Assert.Equal(1, tiled.GemmSlices(wide, wide, 100_000, out _));                    // tiles fill the device
        Assert.Equal(1, direct.GemmSlices(20, 25, 5760, out _));

        using var a = Twin.Random("A", 20 * 5760, 11, backend: tiled);
        using var b = Twin.Random("B", 25 * 5760, 12, backend: tiled);
        using var c = new Twin("C", Data.Random(20 * 25, 13), backend: tiled);
        Cpu.Gemm(false, true, 20, 25, 5760, 0.5f, a.Cpu, b.Cpu, 1f, c.Cpu);
        using var c2 = new Twin("C2", Data.Random(20 * 25, 13), backend: tiled);
        tiled.Gemm(false, true, 20, 25, 5760, 0.5f, a.Cl, b.Cl, 1f, c.Cl);
        tiled.Gemm(false, true, 20, 25, 5760, 0.5f, a.Cl, b.Cl, 1f, c2.Cl);
        Data.AssertClose(c.CpuValues(), c.ClValues(), 1e-6f * 5770, "split-K 20x25x5760 NT");
        Data.AssertBitEqual(c.ClValues(), c2.ClValues(), "split-K twice");
    }

    [OpenClFact]
    public void Gemm_tiled_with_small_work_groups()
    {
        var cl = OpenClTestEnvironment.SmallTiles;
        Assert.Equal(32, cl.GemmTile);
        foreach (bool ta in new[] { false, true })
            foreach (bool tb in new[] { false, true })
                foreach (var (m, n, k) in new[] { (1, 1, 1), (31, 33, 9), (32, 32, 32), (70, 45, 100) })
                {
                    using var a = Twin.Random("A", m * k, 5, backend: cl);
                    using var b = Twin.Random("B", k * n, 6, backend: cl);
                    using var c = new Twin("C", Enumerable.Repeat(float.NaN, m * n).ToArray(), backend: cl);
                    Cpu.Gemm(ta, tb, m, n, k, 1f, a.Cpu, b.Cpu, 0f, c.Cpu);
                    cl.Gemm(ta, tb, m, n, k, 1f, a.Cl, b.Cl, 0f, c.Cl);
                    c.AssertAgree(1e-6f * (k + 10), $"small-tile gemm {(ta ? "T" : "N")}{(tb ? "T" : "N")} {m}x{n}x{k}");
                }
    }

    [OpenClFact]
    public void Gemm_with_zero_rows_does_nothing()
    {
        using var a = Twin.Random("A", 12, 1);
        using var b = Twin.Random("B", 12, 2);
        using var c = Twin.Random("C", 12, 3);
        Cpu.Gemm(false, false, 0, 4, 3, 1f, a.Cpu, b.Cpu, 0f, c.Cpu);
        Cl.Gemm(false, false, 0, 4, 3, 1f, a.Cl, b.Cl, 0f, c.Cl);
        Data.AssertBitEqual(Data.Random(12, 3), c.ClValues(), "C untouched");
        c.AssertAgree(0f, "C untouched on both");
    }

    [OpenClFact]
    public void Gemm_rejects_short_tensors_like_the_cpu()
    {
        using var a = Twin.Random("A", 5, 1);
        using var b = Twin.Random("B", 6, 2);
        using var c = Twin.Random("C", 6, 3);
        Assert.Throws<ArgumentException>(() => Cl.Gemm(false, false, 2, 3, 3, 1f, a.Cl, b.Cl, 0f, c.Cl));
    }

    // ------------------------------------------------------------------ bias, activations, softmax

    public static TheoryData<BiasAxis, Activation, int, int, bool> BiasActivationCases()
    {
        var data = new TheoryData<BiasAxis, Activation, int, int, bool>();
        foreach (var axis in new[] { BiasAxis.PerColumn, BiasAxis.PerRow })
            foreach (var f in new[] { Activation.Identity, Activation.Sigmoid, Activation.Tanh, Activation.ReLU })
                foreach (var (r, c) in new[] { (1, 1), (7, 13), (33, 100), (100, 10) })
                    data.Add(axis, f, r, c, r == 7);
        return data;
    }

    [OpenClTheory, MemberData(nameof(BiasActivationCases))]
    public void BiasActivation(BiasAxis axis, Activation f, int rows, int cols, bool inPlace)
    {
        using var z = Twin.Random("z", rows * cols, 10 + rows, 3f);
        using var bias = Twin.Random("bias", axis == BiasAxis.PerColumn ? cols : rows, 11 + cols);
        using var a = new Twin("a", new float[rows * cols]);
        Cpu.BiasActivation(z.Cpu, bias.Cpu, inPlace ? z.Cpu : a.Cpu, rows, cols, axis, f);
        Cl.BiasActivation(z.Cl, bias.Cl, inPlace ? z.Cl : a.Cl, rows, cols, axis, f);
        float tol = f is Activation.Sigmoid or Activation.Tanh ? 2e-6f : 0f;
        if (inPlace) z.AssertAgree(tol, $"a = z, {axis} {f}");
        else
        {
            z.AssertAgree(0f, $"z + bias, {axis}");
            a.AssertAgree(tol, $"a, {axis} {f}");
        }
    }

    [OpenClTheory]
    [InlineData(1)]
    [InlineData(17)]
    [InlineData(1000)]
    [InlineData(4099)]
    public void ActivationBackward(int length)
    {
        foreach (var f in new[] { Activation.Identity, Activation.Sigmoid, Activation.Tanh, Activation.ReLU })
            foreach (bool inPlace in new[] { false, true })
            {
                using var a = Twin.Random("a", length, 20 + length, 0.9f);
                using var ga = Twin.Random("gradA", length, 21 + length, 2f);
                using var gz = new Twin("gradZ", new float[length]);
                Cpu.ActivationBackward(a.Cpu, ga.Cpu, inPlace ? ga.Cpu : gz.Cpu, length, f);
                Cl.ActivationBackward(a.Cl, ga.Cl, inPlace ? ga.Cl : gz.Cl, length, f);
                (inPlace ? ga : gz).AssertAgree(0f, $"activation backward {f}, in place {inPlace}");
            }
    }

    public static TheoryData<BiasAxis, int, int, float> BiasGradientCases()
    {
        var data = new TheoryData<BiasAxis, int, int, float>();
        foreach (var axis in new[] { BiasAxis.PerColumn, BiasAxis.PerRow })
            foreach (var (r, c) in new[] { (1, 1), (10, 30), (20, 5760), (129, 3) })
                foreach (float beta in new[] { 0f, 1f, 0.7f })
                    data.Add(axis, r, c, beta);
        return data;
    }

    [OpenClTheory, MemberData(nameof(BiasGradientCases))]
    public void BiasGradient(BiasAxis axis, int rows, int cols, float beta)
    {
        using var gz = Twin.Random("gradZ", rows * cols, 30 + rows);
        int outputs = axis == BiasAxis.PerColumn ? cols : rows;
        float[] gb0 = beta == 0f ? Enumerable.Repeat(float.NaN, outputs).ToArray() : Data.Random(outputs, 31);
        using var gb = new Twin("gradBias", gb0);
        Cpu.BiasGradient(gz.Cpu, gb.Cpu, rows, cols, axis, beta);
        Cl.BiasGradient(gz.Cl, gb.Cl, rows, cols, axis, beta);
        // Per column both sum the rows in order; per row the device reduces as a tree.
        gb.AssertAgree(axis == BiasAxis.PerColumn ? 0f : 1e-6f * (10 + MathF.Sqrt(cols)), $"bias gradient {axis} {rows}x{cols} beta {beta}");
    }

    [OpenClTheory]
    [InlineData(1, 1)]
    [InlineData(10, 10)]
    [InlineData(3, 1000)]
    [InlineData(37, 5)]
    [InlineData(200, 65)]
    [InlineData(10, 10, 500f)]    // logits beyond exp's range: both must subtract the row maximum
    [InlineData(3, 1000, -300f)]
    public void Softmax(int rows, int cols, float offset = 0f)
    {
        foreach (bool inPlace in new[] { false, true })
        {
            using var z = Twin.Random("z", rows * cols, 40 + cols, 8f, offset);
            using var a = new Twin("a", new float[rows * cols]);
            Cpu.Softmax(z.Cpu, inPlace ? z.Cpu : a.Cpu, rows, cols);
            Cl.Softmax(z.Cl, inPlace ? z.Cl : a.Cl, rows, cols);
            (inPlace ? z : a).AssertAgree(2e-6f, $"softmax {rows}x{cols} around {offset}");
        }
    }

    // ------------------------------------------------------------------ outputs, costs, reductions

    private static float[] Outputs(int length, int seed)
    {
        var a = Data.Random(length, seed, 0.5f, 0.5f); // in (0, 1)
        if (length > 3) { a[0] = 0f; a[1] = 1f; a[2] = 0.99999994f; }
        return a;
    }

    private static float[] Targets(int length, int seed, OutputCost cost)
    {
        if (cost == OutputCost.SoftmaxLogLikelihood)
        {
            var y = new float[length];
            var rng = new Random(seed);
            for (int i = 0; i < length; i += 10) y[Math.Min(length - 1, i + rng.Next(10))] = 1f;
            return y;
        }
        return Data.Random(length, seed, 0.5f, 0.5f);
    }

    [OpenClTheory]
    [InlineData(OutputCost.SigmoidQuadratic)]
    [InlineData(OutputCost.SigmoidCrossEntropy)]
    [InlineData(OutputCost.SoftmaxLogLikelihood)]
    [InlineData(OutputCost.LinearQuadratic)]
    public void OutputDelta_and_Cost(OutputCost cost)
    {
        foreach (int length in new[] { 1, 10, 1000, 60001 })
        {
            using var a = new Twin("a", Outputs(length, 50 + length));
            using var y = new Twin("y", Targets(length, 51 + length, cost));
            using var d = new Twin("delta", new float[length]);
            Cpu.OutputDelta(cost, a.Cpu, y.Cpu, d.Cpu, length);
            Cl.OutputDelta(cost, a.Cl, y.Cl, d.Cl, length);
            d.AssertAgree(0f, $"delta {cost} n={length}");

            double expected = Cpu.Cost(cost, a.Cpu, y.Cpu, length);
            double actual = Cl.Cost(cost, a.Cl, y.Cl, length);
            double tol = (Cl.HasFp64 ? 1e-9 : 1e-5) * (1 + Math.Abs(expected));
            Assert.True(Math.Abs(expected - actual) <= tol, $"cost {cost} n={length}: CPU {expected} but OpenCL {actual}");
        }
    }

    [OpenClFact]
    public void Cost_and_Sum_with_float_reductions()
    {
        var cl = OpenClTestEnvironment.FloatReductions;
        Assert.False(cl.HasFp64);
        const int length = 50001;
        foreach (var cost in new[] { OutputCost.SigmoidQuadratic, OutputCost.SigmoidCrossEntropy, OutputCost.SoftmaxLogLikelihood, OutputCost.LinearQuadratic })
        {
            using var a = new Twin("a", Outputs(length, 52), backend: cl);
            using var y = new Twin("y", Targets(length, 53, cost), backend: cl);
            double expected = Cpu.Cost(cost, a.Cpu, y.Cpu, length), actual = cl.Cost(cost, a.Cl, y.Cl, length);
            Assert.True(Math.Abs(expected - actual) <= 1e-5 * (1 + Math.Abs(expected)), $"float cost {cost}: CPU {expected} but OpenCL {actual}");
        }
        using var x = Twin.Random("x", length, 54, 3f, backend: cl);
        foreach (bool squares in new[] { true, false })
        {
            double expected = Cpu.Sum(x.Cpu, length, squares), actual = cl.Sum(x.Cl, length, squares);
            Assert.True(Math.Abs(expected - actual) <= 1e-5 * (1 + expected), $"float sum (squares {squares}): CPU {expected} but OpenCL {actual}");
        }
    }

    [OpenClTheory]
    [InlineData(1)]
    [InlineData(63)]
    [InlineData(1000)]
    [InlineData(100003)]
    public void Sum(int length)
    {
        using var x = Twin.Random("x", length, 60 + length, 3f);
        foreach (bool squares in new[] { true, false })
        {
            double expected = Cpu.Sum(x.Cpu, length, squares), actual = Cl.Sum(x.Cl, length, squares);
            Assert.True(Math.Abs(expected - actual) <= 1e-6 * (1 + expected), $"sum (squares {squares}) n={length}: CPU {expected} but OpenCL {actual}");
        }
        // A count below the tensor's length reads only that prefix.
        Assert.Equal(Cpu.Sum(x.Cpu, length / 2, true), Cl.Sum(x.Cl, length / 2, true), 1e-6 * (1 + length));
    }

    // ------------------------------------------------------------------ simple elementwise

    [OpenClTheory]
    [InlineData(1)]
    [InlineData(77)]
    [InlineData(10007)]
    public void Multiply_Scale_Fill(int length)
    {
        using var x = Twin.Random("x", length, 70);
        using var y = Twin.Random("y", length, 71);
        using var dst = new Twin("dst", new float[length]);
        Cpu.Multiply(x.Cpu, y.Cpu, dst.Cpu, length);
        Cl.Multiply(x.Cl, y.Cl, dst.Cl, length);
        dst.AssertAgree(0f, "multiply");
        Cpu.Multiply(x.Cpu, y.Cpu, x.Cpu, length);
        Cl.Multiply(x.Cl, y.Cl, x.Cl, length);
        x.AssertAgree(0f, "multiply in place");
        Cpu.Scale(y.Cpu, -0.37f, length);
        Cl.Scale(y.Cl, -0.37f, length);
        y.AssertAgree(0f, "scale");
        Cpu.Fill(dst.Cpu, 2.5f, length - length / 3);
        Cl.Fill(dst.Cl, 2.5f, length - length / 3);
        dst.AssertAgree(0f, "partial fill");
    }

    [OpenClTheory]
    [InlineData(0, 10, 1000)]   // disjoint
    [InlineData(5, 0, 1000)]    // overlapping, destination before source
    [InlineData(0, 7, 1000)]    // overlapping, destination after source
    [InlineData(3, 3, 100)]     // same range
    public void Copy(int srcAt, int dstAt, int length)
    {
        using var buf = Twin.Random("buf", 1100, 80);
        var cpuSrc = new Tensor("s", buf.Cpu.Buffer, buf.Cpu.Offset + srcAt, length);
        var cpuDst = new Tensor("d", buf.Cpu.Buffer, buf.Cpu.Offset + dstAt, length);
        var clSrc = new Tensor("s", buf.Cl.Buffer, buf.Cl.Offset + srcAt, length);
        var clDst = new Tensor("d", buf.Cl.Buffer, buf.Cl.Offset + dstAt, length);
        Cpu.Copy(cpuSrc, cpuDst, length);
        Cl.Copy(clSrc, clDst, length);
        buf.AssertAgree(0f, $"copy {srcAt} -> {dstAt}");

        using var other = new Twin("other", new float[length]);
        Cpu.Copy(cpuSrc, other.Cpu, length);
        Cl.Copy(clSrc, other.Cl, length);
        other.AssertAgree(0f, "copy between buffers");
    }

    [OpenClTheory]
    [InlineData(0.5f, 0UL, 0UL)]
    [InlineData(0.8f, 42UL, 7UL)]
    [InlineData(1.0f, 1234567UL, 3UL)]
    [InlineData(0.1f, ulong.MaxValue, ulong.MaxValue - 1)]
    [InlineData(0.999f, 0x9E3779B97F4A7C15UL, 1UL << 40)]
    public void DropoutMask_is_bit_identical(float keep, ulong seed, ulong stream)
    {
        const int length = 10007;
        using var mask = new Twin("mask", Enumerable.Repeat(-1f, length).ToArray());
        Cpu.DropoutMask(mask.Cpu, length, keep, seed, stream);
        Cl.DropoutMask(mask.Cl, length, keep, seed, stream);
        mask.AssertAgree(0f, $"dropout keep {keep} seed {seed} stream {stream}");
        var got = mask.ClValues();
        double kept = got.Count(v => v == 1f) / (double)length;
        Assert.InRange(kept, keep - 0.03, keep + 0.03);
        Assert.Throws<ArgumentOutOfRangeException>(() => Cl.DropoutMask(mask.Cl, length, 0f, seed, stream));
    }

    // ------------------------------------------------------------------ convolution layout and pooling

    public static TheoryData<int, int, int, int, int, int, int, int> ConvCases() => new()
    {
        { 1, 2, 28, 28, 5, 5, 1, 0 },
        { 3, 2, 7, 9, 3, 2, 2, 1 },
        { 2, 3, 5, 5, 5, 5, 1, 2 },
        { 1, 1, 1, 1, 1, 1, 1, 0 },
        { 20, 3, 12, 12, 5, 5, 1, 0 },
        { 2, 2, 11, 10, 4, 3, 3, 2 },
        { 20, 17, 12, 12, 5, 5, 1, 0 },
    };

    [OpenClTheory, MemberData(nameof(ConvCases))]
    public void Im2Col_and_Col2Im(int channels, int batch, int height, int width, int kh, int kw, int stride, int pad)
    {
        var g = new ConvGeometry(channels, batch, height, width, kh, kw, stride, pad);
        using var input = Twin.Random("input", g.InputLength, 90 + height);
        using var cols = new Twin("cols", new float[g.ColRows * g.ColCols]);
        Cpu.Im2Col(input.Cpu, cols.Cpu, g);
        Cl.Im2Col(input.Cl, cols.Cl, g);
        cols.AssertAgree(0f, $"im2col {g}");

        using var gradCols = Twin.Random("gradCols", g.ColRows * g.ColCols, 91 + width);
        using var gradInput = new Twin("gradInput", Enumerable.Repeat(float.NaN, g.InputLength).ToArray());
        Cpu.Col2Im(gradCols.Cpu, gradInput.Cpu, g);
        Cl.Col2Im(gradCols.Cl, gradInput.Cl, g);
        gradInput.AssertAgree(0f, $"col2im {g}");
    }

    /// <summary>
    /// A convolution's weight and input gradients: the contract's default on OpenCL (the whole batch unfolded, one GEMM)
    /// against the CPU backend's, which works a few images at a time (the book's second convolution at 17 images: two
    /// chunks).
    /// </summary>
    [OpenClTheory, MemberData(nameof(ConvCases))]
    public void Convolution_gradients(int channels, int batch, int height, int width, int kh, int kw, int stride, int pad)
    {
        var g = new ConvGeometry(channels, batch, height, width, kh, kw, stride, pad);
        const int filters = 5;
        int depth = g.Batch * g.OutHeight * g.OutWidth;
        using var input = Twin.Random("input", g.InputLength, 92 + height);
        using var weights = Twin.Random("weights", filters * g.ColRows, 93 + width);
        using var dz = Twin.Random("dz", filters * g.ColCols, 94 + channels);
        using var cols = new Twin("cols", new float[g.ColRows * g.ColCols]);
        using var gradW = new Twin("gradW", Enumerable.Repeat(float.NaN, filters * g.ColRows).ToArray());
        Cpu.ConvolutionWeightGradient(input.Cpu, dz.Cpu, cols.Cpu, gradW.Cpu, filters, g, 0f);
        ((IComputeBackend)Cl).ConvolutionWeightGradient(input.Cl, dz.Cl, cols.Cl, gradW.Cl, filters, g, 0f);
        gradW.AssertAgree(1e-6f * (depth + 10), $"conv weight gradient {g}");
        // A second pass adds onto the first (a batch's gradient summed over passes).
        Cpu.ConvolutionWeightGradient(input.Cpu, dz.Cpu, cols.Cpu, gradW.Cpu, filters, g, 1f);
        ((IComputeBackend)Cl).ConvolutionWeightGradient(input.Cl, dz.Cl, cols.Cl, gradW.Cl, filters, g, 1f);
        gradW.AssertAgree(2e-6f * (depth + 10), $"conv weight gradient added {g}");

        using var gradInput = new Twin("gradInput", Enumerable.Repeat(float.NaN, g.InputLength).ToArray());
        Cpu.ConvolutionInputGradient(weights.Cpu, dz.Cpu, cols.Cpu, gradInput.Cpu, filters, g);
        ((IComputeBackend)Cl).ConvolutionInputGradient(weights.Cl, dz.Cl, cols.Cl, gradInput.Cl, filters, g);
        gradInput.AssertAgree(1e-6f * (filters * kh * kw + 10), $"conv input gradient {g}");
    }

    public static TheoryData<PoolKind, int, int, int, int, int> PoolCases()
    {
        var data = new TheoryData<PoolKind, int, int, int, int, int>();
        foreach (var kind in new[] { PoolKind.Max, PoolKind.Average, PoolKind.L2 })
        {
            data.Add(kind, 6, 24, 24, 2, 2);   // the book's 2x2 max-pool
            data.Add(kind, 3, 7, 9, 3, 2);     // overlapping windows, ragged edge
            data.Add(kind, 2, 5, 5, 2, 3);     // gaps between windows
            data.Add(kind, 1, 1, 1, 1, 1);
            data.Add(kind, 4, 8, 8, 3, 1);     // heavy overlap
        }
        return data;
    }

    [OpenClTheory, MemberData(nameof(PoolCases))]
    public void Pooling(PoolKind kind, int planes, int height, int width, int window, int stride)
    {
        var g = new PoolGeometry(planes, height, width, window, stride);
        // Values on a coarse grid so windows have ties: argmax must pick the first, like the CPU.
        var x = Data.Random(g.InputLength, 100 + height, 2f);
        for (int i = 0; i < x.Length; i++) x[i] = MathF.Round(x[i] * 2f) / 2f;
        using var input = new Twin("input", x);
        using var output = new Twin("output", new float[g.OutputLength]);
        using var argmax = new Twin("argmax", Enumerable.Repeat(-7f, g.OutputLength).ToArray());
        Cpu.PoolForward(kind, input.Cpu, output.Cpu, argmax.Cpu, g);
        Cl.PoolForward(kind, input.Cl, output.Cl, argmax.Cl, g);
        output.AssertAgree(kind == PoolKind.L2 ? 1e-6f : 0f, $"pool forward {kind} {g}");
        argmax.AssertAgree(0f, $"argmax {kind} {g}");

        using var gradOutput = Twin.Random("gradOutput", g.OutputLength, 101 + width);
        using var gradInput = new Twin("gradInput", Enumerable.Repeat(float.NaN, g.InputLength).ToArray());
        Cpu.PoolBackward(kind, input.Cpu, output.Cpu, argmax.Cpu, gradOutput.Cpu, gradInput.Cpu, g);
        Cl.PoolBackward(kind, input.Cl, output.Cl, argmax.Cl, gradOutput.Cl, gradInput.Cl, g);
        gradInput.AssertAgree(kind == PoolKind.L2 ? 1e-5f : 0f, $"pool backward {kind} {g}");
    }

    [OpenClTheory]
    [InlineData(1, 1, 1)]
    [InlineData(20, 10, 144)]
    [InlineData(3, 7, 5)]
    public void ChannelMajorToBatchMajor(int channels, int batch, int pixels)
    {
        int n = channels * batch * pixels;
        foreach (bool inverse in new[] { false, true })
        {
            using var src = Twin.Random("src", n, 110 + n);
            using var dst = new Twin("dst", new float[n]);
            Cpu.ChannelMajorToBatchMajor(src.Cpu, dst.Cpu, channels, batch, pixels, inverse);
            Cl.ChannelMajorToBatchMajor(src.Cl, dst.Cl, channels, batch, pixels, inverse);
            dst.AssertAgree(0f, $"permute {channels}x{batch}x{pixels} inverse {inverse}");
        }
    }

    // ------------------------------------------------------------------ optimizer

    public static TheoryData<string, UpdateRule> UpdateRules() => new()
    {
        { "sgd", new UpdateRule(0.5f, 0.1f) },
        { "sgd+l2", new UpdateRule(0.5f, 0.1f, L2: 5e-5f) },
        { "sgd+l1", new UpdateRule(0.25f, 0.1f, L1: 1e-3f) },
        { "momentum", new UpdateRule(0.1f, 0.1f, Momentum: 0.9f) },
        { "nesterov+l2", new UpdateRule(0.1f, 0.1f, L2: 1e-4f, Momentum: 0.9f, Nesterov: true) },
        { "everything", new UpdateRule(0.03f, 0.5f, L2: 1e-3f, L1: 2e-3f, Momentum: 0.5f, Nesterov: true) },
    };

    [OpenClTheory, MemberData(nameof(UpdateRules))]
    public void Update(string name, UpdateRule rule)
    {
        const int length = 3001;
        var w0 = Data.Random(length, 120);
        w0[0] = 0f; w0[1] = -0f;
        using var w = new Twin("w", w0);
        using var grad = Twin.Random("grad", length, 121);
        using var v = Twin.Random("velocity", length, 122, 0.1f);
        for (int step = 0; step < 3; step++)
        {
            Cpu.Update(w.Cpu, grad.Cpu, rule.UsesVelocity ? v.Cpu : null, length, rule);
            Cl.Update(w.Cl, grad.Cl, rule.UsesVelocity ? v.Cl : null, length, rule);
        }
        // A few ulps: the CPU may fuse (its plain-SGD path is a vectorized FMA); the device does not.
        w.AssertAgree(1e-6f, $"{name}: weights");
        v.AssertAgree(1e-6f, $"{name}: velocity");
    }

    [OpenClFact]
    public void Update_with_momentum_needs_velocity()
    {
        using var w = Twin.Random("w", 10, 1);
        Assert.Throws<ArgumentException>(() => Cl.Update(w.Cl, w.Cl, null, 10, new UpdateRule(0.1f, 1f, Momentum: 0.9f)));
    }
}
