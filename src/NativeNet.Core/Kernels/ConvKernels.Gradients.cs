using NativeNet.Core.Backends;
using NativeNet.Core.Gemm;
using NativeNet.Core.Threading;

namespace NativeNet.Core.Kernels;

/// <summary>
/// The two products of a convolution's backward pass, a few images at a time: each chunk of images is unfolded into a
/// scratch matrix small enough to stay in cache and multiplied at once, instead of unfolding the whole batch (the book's
/// second convolution: 125 KiB of cols an image, 7.8 MiB at batch 64) and reading it back from L3 or memory.
/// </summary>
internal static partial class ConvKernels
{
    /// <summary>
    /// Bytes of unfolded input a chunk aims at. Smaller chunks make each GEMM shallow (k = chunk images x OH x OW: 128
    /// for two images of the book's second convolution), and the per-call costs (packing, C read and written once per
    /// call) grow; larger ones leave the cache before the GEMM reads them. Chosen from the ch6-relu profiles at batches
    /// 10 and 64 (benchmarks/experiments/avx2-zen3.md).
    /// </summary>
    internal const int GradientChunkBytes = 1024 * 1024;

    /// <summary>
    /// Chunks a gradient of <paramref name="g"/> runs in: the batch's unfolded bytes over <see cref="GradientChunkBytes"/>,
    /// rounded to the nearest whole number (at least one, at most one an image). A batch of up to one and a half times
    /// the target runs as one chunk; chunk i holds images [i*N/chunks, (i+1)*N/chunks), so their sizes differ by at most
    /// one image and none is a shallow remainder.
    /// </summary>
    /// <param name="g">The convolution's shape.</param>
    internal static int GradientChunks(in ConvGeometry g) => GradientChunks(g.Batch, BytesPerImage(g));

    /// <summary>The most images in one chunk of <paramref name="g"/>'s gradients.</summary>
    /// <param name="g">The convolution's shape.</param>
    internal static int ImagesPerChunk(in ConvGeometry g) => CeilDiv(g.Batch, GradientChunks(g));

    /// <summary>
    /// Floats of scratch the gradients use for <paramref name="g"/>: C*KH*KW rows by the columns of the largest chunk
    /// of any batch up to g's. It never shrinks as the batch grows, so a layer sizes it once for its largest batch and
    /// an epoch's smaller last batch, whose chunks can hold more images, fits too.
    /// </summary>
    /// <param name="g">The convolution's shape.</param>
    internal static long GradientScratchLength(in ConvGeometry g)
    {
        long bytesPerImage = BytesPerImage(g);
        int most = 1;
        for (int batch = 2; batch <= g.Batch; batch++) most = Math.Max(most, CeilDiv(batch, GradientChunks(batch, bytesPerImage)));
        return most * bytesPerImage / sizeof(float);
    }

    /// <summary>
    /// Floats of scratch <see cref="WeightGradient"/> and <see cref="InputGradient"/> need for <paramref name="g"/> at
    /// <paramref name="level"/>: none where both read the images directly, else <see cref="GradientScratchLength(in ConvGeometry)"/>.
    /// </summary>
    /// <param name="g">The convolution's shape.</param>
    /// <param name="filters">F, the number of filters.</param>
    /// <param name="level">The instruction level the gradients run at.</param>
    internal static long GradientScratchLength(in ConvGeometry g, int filters, CpuLevel level) =>
        ReadsImagesDirectly(g, filters, level) && DirectInputGradient.Applies(g, level) ? 0 : GradientScratchLength(g);

    /// <summary>Whether <see cref="WeightGradient"/> reads the images where they lie (no unfolding) for this convolution at this level.</summary>
    private static bool ReadsImagesDirectly(in ConvGeometry g, int filters, CpuLevel level) =>
        DirectWeightGradient.Applies(g, filters, level) || FewFiltersWeightGradient.Applies(g, filters, level);

    /// <summary>
    /// Runs the work of a gradient kernel that reads the images directly (<see cref="DirectWeightGradient"/>,
    /// <see cref="FewFiltersWeightGradient"/>, <see cref="DirectInputGradient"/>) inline, or over the pool when it has
    /// at least two parts and its 2 F CKK P floating-point operations reach the pool's threshold.
    /// </summary>
    internal static void RunGradient<T>(ref T work, int parts, int filters, in ConvGeometry g, WorkerPool? pool) where T : unmanaged, IParallelWork
    {
        if (pool is null || parts < 2 || 2L * filters * g.ColRows * g.ColCols < pool.ParallelThreshold) work.Execute(0, 1);
        else pool.Run(ref work, pool.DegreeOfParallelism);
    }

    private static long BytesPerImage(in ConvGeometry g) => (long)g.ColRows * g.OutHeight * g.OutWidth * sizeof(float);

    private static int GradientChunks(int batch, long bytesPerImage) =>
        (int)Math.Clamp((batch * bytesPerImage + GradientChunkBytes / 2) / GradientChunkBytes, 1, batch);

    private static int CeilDiv(int a, int b) => (a + b - 1) / b;

    /// <summary>The first image of chunk <paramref name="i"/> of <paramref name="chunks"/> over <paramref name="batch"/> images.</summary>
    private static int ChunkStart(int i, int chunks, int batch) => (int)((long)i * batch / chunks);

    /// <summary>
    /// gradWeights [F, C*KH*KW] = beta gradWeights + dz [F, N*OH*OW] x im2col(input)^T: where
    /// <see cref="DirectWeightGradient"/> (many filters) or <see cref="FewFiltersWeightGradient"/> applies, from the images
    /// where they lie; otherwise each chunk of images is unfolded into <paramref name="scratch"/> and its product added
    /// (the first chunk's scaled by beta). The sum over a row's columns runs chunk after chunk, so it depends on the
    /// geometry alone, not on the thread count.
    /// </summary>
    /// <param name="input">The images, channel-major [C, N, H, W].</param>
    /// <param name="dz">The error at the convolution's output [F, N*OH*OW].</param>
    /// <param name="scratch">At least <see cref="GradientScratchLength(in ConvGeometry, int, CpuLevel)"/> floats; overwritten.</param>
    /// <param name="gradWeights">The weight gradient [F, C*KH*KW] (written).</param>
    /// <param name="filters">F, the number of filters.</param>
    /// <param name="g">The convolution's shape.</param>
    /// <param name="beta">0 overwrites gradWeights without reading it; 1 adds to it.</param>
    /// <param name="pool">Workers for the unfolding and the products; null runs the unfolding inline.</param>
    /// <param name="cpu">The instruction level of every kernel called.</param>
    public static unsafe void WeightGradient(ReadOnlySpan<float> input, ReadOnlySpan<float> dz, Span<float> scratch, Span<float> gradWeights,
        int filters, in ConvGeometry g, float beta, WorkerPool? pool, CpuContext cpu)
    {
        CheckGradient(g, filters, cpu.Level, input.Length, "input", g.InputLength, dz.Length, scratch.Length, gradWeights.Length, "gradWeights", (long)filters * g.ColRows);
        int chunks = GradientChunks(g), pixels = g.OutHeight * g.OutWidth;
        fixed (float* pin = input, pdz = dz, pscratch = scratch, pw = gradWeights)
        {
            if (DirectWeightGradient.Applies(g, filters, cpu.Level))
            {
                DirectWeightGradient.Compute(pin, pdz, pw, filters, g, beta, pool);
                return;
            }
            if (FewFiltersWeightGradient.Applies(g, filters, cpu.Level))
            {
                FewFiltersWeightGradient.Compute(pin, pdz, pw, filters, g, beta, pool);
                return;
            }
            for (int i = 0; i < chunks; i++)
            {
                int n0 = ChunkStart(i, chunks, g.Batch), n1 = ChunkStart(i + 1, chunks, g.Batch), k = (n1 - n0) * pixels;
                RunUnfold(pin, pscratch, g, fold: false, pool, cpu.Level, n0, n1);
                // dW [F, CKK] (+)= dz[:, chunk] [F, k] (leading dimension N*OH*OW) x chunk^T [k, CKK]
                Sgemm.MultiplyUnchecked(false, true, filters, g.ColRows, k, 1f, pdz + (long)n0 * pixels, g.ColCols, pscratch, k,
                    i == 0 ? beta : 1f, pw, g.ColRows, pool, cpu);
            }
        }
    }

    /// <summary>
    /// gradInput [C, N, H, W] = col2im(weights^T x dz), overwritten: where <see cref="DirectInputGradient"/> applies,
    /// without the product's columns; otherwise each chunk's columns of the product go to <paramref name="scratch"/> and
    /// are folded onto that chunk's images at once.
    /// </summary>
    /// <param name="weights">The filters [F, C*KH*KW].</param>
    /// <param name="dz">The error at the convolution's output [F, N*OH*OW].</param>
    /// <param name="scratch">At least <see cref="GradientScratchLength(in ConvGeometry, int, CpuLevel)"/> floats; overwritten.</param>
    /// <param name="gradInput">The gradient of the images [C, N, H, W] (written).</param>
    /// <param name="filters">F, the number of filters.</param>
    /// <param name="g">The convolution's shape.</param>
    /// <param name="pool">Workers for the products and the folding; null runs the folding inline.</param>
    /// <param name="cpu">The instruction level of every kernel called.</param>
    public static unsafe void InputGradient(ReadOnlySpan<float> weights, ReadOnlySpan<float> dz, Span<float> scratch, Span<float> gradInput,
        int filters, in ConvGeometry g, WorkerPool? pool, CpuContext cpu)
    {
        CheckGradient(g, filters, cpu.Level, gradInput.Length, "gradInput", g.InputLength, dz.Length, scratch.Length, weights.Length, "weights", (long)filters * g.ColRows);
        int chunks = GradientChunks(g), pixels = g.OutHeight * g.OutWidth;
        fixed (float* pw = weights, pdz = dz, pscratch = scratch, pgrad = gradInput)
        {
            if (DirectInputGradient.Applies(g, cpu.Level))
            {
                DirectInputGradient.Compute(pw, pdz, pgrad, filters, g, pool);
                return;
            }
            for (int i = 0; i < chunks; i++)
            {
                int n0 = ChunkStart(i, chunks, g.Batch), n1 = ChunkStart(i + 1, chunks, g.Batch), n = (n1 - n0) * pixels;
                // chunk [CKK, n] = W^T [CKK, F] x dz[:, chunk] [F, n] (leading dimension N*OH*OW)
                Sgemm.MultiplyUnchecked(true, false, g.ColRows, n, filters, 1f, pw, g.ColRows, pdz + (long)n0 * pixels, g.ColCols,
                    0f, pscratch, n, pool, cpu);
                RunUnfold(pgrad, pscratch, g, fold: true, pool, cpu.Level, n0, n1);
            }
        }
    }

    private static void CheckGradient(in ConvGeometry g, int filters, CpuLevel level, int imageLength, string imageName, long imageNeeded, int dzLength,
        int scratchLength, int weightsLength, string weightsName, long weightsNeeded)
    {
        g.Validate();
        if (filters < 1) throw new ArgumentOutOfRangeException(nameof(filters), filters, "A convolution needs at least one filter.");
        CheckLength(imageLength, imageNeeded, imageName);
        CheckLength(dzLength, (long)filters * g.ColCols, "dz");
        CheckLength(scratchLength, GradientScratchLength(g, filters, level), "scratch");
        CheckLength(weightsLength, weightsNeeded, weightsName);
    }
}
