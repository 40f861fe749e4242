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
        // tensors: z, bias, a
        float[][] Run(int threads) => RunOnTensors(threads, [rows * cols, bias.Length, rows * cols], [z, bias],
            (backend, t) => backend.BiasActivation(t[0], t[1], t[2], rows, cols, axis, f));
        var one = Run(1);
        var two = Run(2);
        Assert.Equal(one[2], two[2]);
        Assert.Equal(one[0], two[0]);
        var expectedZ = (float[])z.Clone();
        var expectedA = new float[rows * cols];
        Elementwise.BiasActivation(expectedZ, bias, expectedA, rows, cols, axis, f, null, CpuContext.Default);
        Assert.Equal(expectedA, one[2]);
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
        // tensors: input, output, argmax
        float[][] Run(int threads) => RunOnTensors(threads, [g.InputLength, g.OutputLength, g.OutputLength], [input],
            (backend, t) => backend.PoolForward(kind, t[0], t[1], t[2], g));
        var one = Run(1);
        var two = Run(2);
        Assert.Equal(one[1], two[1]);
        if (kind == PoolKind.Max) Assert.Equal(one[2], two[2]);
        var expected = new float[g.OutputLength];
        var expectedArg = new float[g.OutputLength];
        ConvKernels.PoolForward(kind, input, expected, expectedArg, g, null, CpuContext.Default);
        Assert.Equal(expected, one[1]);
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
        // tensors: input, gradCols, dx (stale values: col2im overwrites), cols
        float[][] Run(int threads) => RunOnTensors(threads, [g.InputLength, (int)colsLength, g.InputLength, (int)colsLength],
            [input, gradCols, Reference.Random(g.InputLength, 6)],
            (backend, t) => { backend.Im2Col(t[0], t[3], g); backend.Col2Im(t[1], t[2], g); });
        var one = Run(1);
        var two = Run(2);
        Assert.Equal(one[3], two[3]);
        Assert.Equal(one[2], two[2]);
        var expectedCols = new float[colsLength];
        var expectedGrad = new float[g.InputLength];
        ConvKernels.Im2Col(input, expectedCols, g, null, CpuContext.Default);
        ConvKernels.Col2Im(gradCols, expectedGrad, g, null, CpuContext.Default);
        Assert.Equal(expectedCols, one[3]);
        Assert.Equal(expectedGrad, one[2]);
    }

    /// <summary>
    /// Runs <paramref name="op"/> on a CpuBackend with <paramref name="threads"/> workers over flat tensors of the given
    /// lengths, the first ones uploaded from <paramref name="inputs"/>; returns every tensor's contents afterwards.
    /// </summary>
    private static float[][] RunOnTensors(int threads, int[] lengths, float[][] inputs, Action<CpuBackend, Tensor[]> op)
    {
        using var backend = new CpuBackend(threads);
        using var arena = new TensorArena(backend);
        var tensors = lengths.Select((length, i) => arena.Allocate($"t{i}", length)).ToArray();
        arena.Commit();
        for (int i = 0; i < inputs.Length; i++) backend.Upload(inputs[i], tensors[i]);
        op(backend, tensors);
        return tensors.Select((t, i) => { var values = new float[lengths[i]]; backend.Download(t, values); return values; }).ToArray();
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
