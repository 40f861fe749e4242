using NativeNet.Core.Backends;
using NativeNet.Core.Kernels;

namespace NativeNet.Core.Tests;

public class CpuBackendTests
{
    /// <summary>
    /// Above <see cref="Elementwise.ParallelElements"/>, bias + activation and pooling split rows / planes over the pool:
    /// the results must be the single-threaded kernel's, bit for bit (a batch of 100 images through conv1, 20 maps of 24x24).
    /// </summary>
    [Theory]
    [InlineData(BiasAxis.PerRow, Activation.ReLU)]
    [InlineData(BiasAxis.PerRow, Activation.Sigmoid)]
    [InlineData(BiasAxis.PerColumn, Activation.Tanh)]
    public void LargeBiasActivation_SplitOverThreads_EqualsOneThread(BiasAxis axis, Activation f)
    {
        const int rows = 20, cols = 100 * 576;
        Assert.True((long)rows * cols >= Elementwise.ParallelElements);
        var z = Reference.Random(rows * cols, 1);
        var bias = Reference.Random(axis == BiasAxis.PerRow ? rows : cols, 2);
        float[] Run(int threads, out float[] zOut)
        {
            using var backend = new CpuBackend(threads);
            using var arena = new TensorArena(backend);
            var tz = arena.Allocate("z", rows, cols);
            var tb = arena.Allocate("b", bias.Length);
            var ta = arena.Allocate("a", rows, cols);
            arena.Commit();
            backend.Upload(z, tz);
            backend.Upload(bias, tb);
            backend.BiasActivation(tz, tb, ta, rows, cols, axis, f);
            var a = new float[rows * cols];
            zOut = new float[rows * cols];
            backend.Download(ta, a);
            backend.Download(tz, zOut);
            return a;
        }
        var one = Run(1, out var z1);
        var two = Run(2, out var z2);
        Assert.Equal(one, two);
        Assert.Equal(z1, z2);
        var expectedZ = (float[])z.Clone();
        var expectedA = new float[rows * cols];
        Elementwise.BiasActivation(expectedZ, bias, expectedA, rows, cols, axis, f);
        Assert.Equal(expectedA, one);
    }

    [Theory]
    [InlineData(PoolKind.Max, 2, 2)]
    [InlineData(PoolKind.Max, 3, 2)]
    [InlineData(PoolKind.Average, 2, 2)]
    [InlineData(PoolKind.L2, 2, 2)]
    public void LargePooling_SplitOverThreads_EqualsOneThread(PoolKind kind, int window, int stride)
    {
        var g = new PoolGeometry(20 * 100 + 3, 24, 24, window, stride);   // an odd plane count: the split is uneven
        Assert.True(g.OutputLength >= Elementwise.ParallelElements);
        var input = Reference.Random(g.InputLength, 3);
        (float[] Out, float[] Arg) Run(int threads)
        {
            using var backend = new CpuBackend(threads);
            using var arena = new TensorArena(backend);
            var tx = arena.Allocate("x", g.InputLength);
            var ty = arena.Allocate("y", g.OutputLength);
            var targ = arena.Allocate("argmax", g.OutputLength);
            arena.Commit();
            backend.Upload(input, tx);
            backend.PoolForward(kind, tx, ty, targ, g);
            float[] y = new float[g.OutputLength], arg = new float[g.OutputLength];
            backend.Download(ty, y);
            backend.Download(targ, arg);
            return (y, arg);
        }
        var one = Run(1);
        var two = Run(2);
        Assert.Equal(one.Out, two.Out);
        if (kind == PoolKind.Max) Assert.Equal(one.Arg, two.Arg);
        var expected = new float[g.OutputLength];
        var expectedArg = new float[g.OutputLength];
        ConvKernels.PoolForward(kind, input, expected, expectedArg, g);
        Assert.Equal(expected, one.Out);
    }

    /// <summary>
    /// Im2col splits rows of cols, col2im whole channels, over the pool: bit for bit the single-threaded kernels' results,
    /// with an odd channel count and with padding and stride (the bounds-tested loop) as well as the book's plain case.
    /// </summary>
    [Theory]
    [InlineData(20, 10, 12, 12, 5, 1, 0)]   // conv2 of the book's network: 500 x 640
    [InlineData(7, 20, 15, 13, 3, 2, 1)]
    public void LargeIm2ColAndCol2Im_SplitOverThreads_EqualsOneThread(int channels, int batch, int height, int width, int k, int stride, int pad)
    {
        var g = new ConvGeometry(channels, batch, height, width, k, k, stride, pad);
        long colsLength = (long)g.ColRows * g.ColCols;
        Assert.True(colsLength >= Elementwise.ParallelElements);
        var input = Reference.Random(g.InputLength, 4);
        var gradCols = Reference.Random((int)colsLength, 5);
        (float[] Cols, float[] Grad) Run(int threads)
        {
            using var backend = new CpuBackend(threads);
            using var arena = new TensorArena(backend);
            var tx = arena.Allocate("x", g.InputLength);
            var tc = arena.Allocate("cols", (int)colsLength);
            var tg = arena.Allocate("gradCols", (int)colsLength);
            var tdx = arena.Allocate("dx", g.InputLength);
            arena.Commit();
            backend.Upload(input, tx);
            backend.Upload(gradCols, tg);
            backend.Upload(Reference.Random(g.InputLength, 6), tdx);   // stale values: col2im overwrites
            backend.Im2Col(tx, tc, g);
            backend.Col2Im(tg, tdx, g);
            float[] cols = new float[colsLength], dx = new float[g.InputLength];
            backend.Download(tc, cols);
            backend.Download(tdx, dx);
            return (cols, dx);
        }
        var one = Run(1);
        var two = Run(2);
        Assert.Equal(one.Cols, two.Cols);
        Assert.Equal(one.Grad, two.Grad);
        var expectedCols = new float[colsLength];
        var expectedGrad = new float[g.InputLength];
        ConvKernels.Im2Col(input, expectedCols, g);
        ConvKernels.Col2Im(gradCols, expectedGrad, g);
        Assert.Equal(expectedCols, one.Cols);
        Assert.Equal(expectedGrad, one.Grad);
    }

    [Fact]
    public void LargeKernels_RejectShortTensors_WithTheShapes()
    {
        using var backend = new CpuBackend(2);
        using var arena = new TensorArena(backend);
        var small = arena.Allocate("small", 1000);
        var big = arena.Allocate("big", 400_000);
        arena.Commit();
        var ex = Assert.Throws<ArgumentException>(() => backend.PoolForward(PoolKind.Max, big, big, small, new PoolGeometry(600, 24, 24, 2, 2)));
        Assert.Contains("argmax", ex.Message);
        Assert.ThrowsAny<ArgumentException>(() => backend.BiasActivation(big, small, big, 20, 10_000, BiasAxis.PerColumn, Activation.ReLU));
    }
}
