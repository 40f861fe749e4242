using NativeNet.Core.Backends;
using NativeNet.Core.Gemm;
using NativeNet.Core.Threading;

namespace NativeNet.Core.Kernels;

/// <summary>
/// The two products of a convolution's backward pass, a few images at a time: each chunk of images is unfolded into a
/// scratch matrix small enough to stay in cache and multiplied at once, instead of unfolding the whole batch (the book's
/// second convolution: 128 KiB of cols an image, 8 MiB at batch 64) and reading it back from L3 or memory.
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
    /// Images in each chunk of a gradient: the batch's unfolded bytes over <see cref="GradientChunkBytes"/>, rounded to
    /// the nearest whole number of chunks (at least one, at most one an image), split evenly (the last may be smaller).
    /// A batch up to one and a half times the target runs as one chunk and no chunk is a shallow remainder.
    /// </summary>
    /// <param name="g">The convolution's shape.</param>
    internal static int ImagesPerChunk(in ConvGeometry g) => ImagesPerChunk(g.Batch, (long)g.ColRows * g.OutHeight * g.OutWidth * sizeof(float));

    private static int ImagesPerChunk(int batch, long bytesPerImage)
    {
        long chunks = Math.Clamp((batch * bytesPerImage + GradientChunkBytes / 2) / GradientChunkBytes, 1, batch);
        return (int)((batch + chunks - 1) / chunks);
    }

    /// <summary>
    /// Floats of scratch the gradients use for <paramref name="g"/>: C*KH*KW rows by the columns of the largest chunk
    /// of any batch up to g's. A layer sizes it once for its largest batch, and an epoch's smaller last batch, whose
    /// chunks can hold more images, fits too.
    /// </summary>
    /// <param name="g">The convolution's shape.</param>
    internal static long GradientScratchLength(in ConvGeometry g)
    {
        long bytesPerImage = (long)g.ColRows * g.OutHeight * g.OutWidth * sizeof(float);
        int most = 1;
        for (int batch = 2; batch <= g.Batch; batch++) most = Math.Max(most, ImagesPerChunk(batch, bytesPerImage));
        return most * bytesPerImage / sizeof(float);
    }

    /// <summary>
    /// gradWeights [F, C*KH*KW] = dz [F, N*OH*OW] x im2col(input)^T, overwritten: each chunk of images is unfolded into
    /// <paramref name="scratch"/> and its product added (the first chunk's overwrites). The sum over a row's columns runs
    /// chunk after chunk, so it depends on the geometry alone, not on the thread count.
    /// </summary>
    /// <param name="input">The images, channel-major [C, N, H, W].</param>
    /// <param name="dz">The error at the convolution's output [F, N*OH*OW].</param>
    /// <param name="scratch">At least <see cref="GradientScratchLength"/> floats; overwritten.</param>
    /// <param name="gradWeights">The weight gradient [F, C*KH*KW] (written).</param>
    /// <param name="filters">F, the number of filters.</param>
    /// <param name="g">The convolution's shape.</param>
    /// <param name="pool">Workers for the unfolding and the products; null runs the unfolding inline.</param>
    /// <param name="cpu">The instruction level of every kernel called.</param>
    public static unsafe void WeightGradient(ReadOnlySpan<float> input, ReadOnlySpan<float> dz, Span<float> scratch, Span<float> gradWeights,
        int filters, in ConvGeometry g, WorkerPool? pool, CpuContext cpu)
    {
        CheckGradient(g, filters, input.Length, "input", g.InputLength, dz.Length, scratch.Length, gradWeights.Length, "gradWeights", (long)filters * g.ColRows);
        int images = ImagesPerChunk(g), pixels = g.OutHeight * g.OutWidth;
        fixed (float* pin = input, pdz = dz, pscratch = scratch, pw = gradWeights)
        {
            for (int n0 = 0; n0 < g.Batch; n0 += images)
            {
                int n1 = Math.Min(n0 + images, g.Batch), k = (n1 - n0) * pixels;
                RunUnfold(pin, pscratch, g, fold: false, pool, cpu.Level, n0, n1);
                // dW [F, CKK] (+)= dz[:, chunk] [F, k] (leading dimension N*OH*OW) x chunk^T [k, CKK]
                Sgemm.MultiplyUnchecked(false, true, filters, g.ColRows, k, 1f, pdz + (long)n0 * pixels, g.ColCols, pscratch, k,
                    n0 == 0 ? 0f : 1f, pw, g.ColRows, pool, cpu);
            }
        }
    }

    /// <summary>
    /// gradInput [C, N, H, W] = col2im(weights^T x dz), overwritten: each chunk's columns of the product go to
    /// <paramref name="scratch"/> and are folded onto that chunk's images at once.
    /// </summary>
    /// <param name="weights">The filters [F, C*KH*KW].</param>
    /// <param name="dz">The error at the convolution's output [F, N*OH*OW].</param>
    /// <param name="scratch">At least <see cref="GradientScratchLength"/> floats; overwritten.</param>
    /// <param name="gradInput">The gradient of the images [C, N, H, W] (written).</param>
    /// <param name="filters">F, the number of filters.</param>
    /// <param name="g">The convolution's shape.</param>
    /// <param name="pool">Workers for the products and the folding; null runs the folding inline.</param>
    /// <param name="cpu">The instruction level of every kernel called.</param>
    public static unsafe void InputGradient(ReadOnlySpan<float> weights, ReadOnlySpan<float> dz, Span<float> scratch, Span<float> gradInput,
        int filters, in ConvGeometry g, WorkerPool? pool, CpuContext cpu)
    {
        CheckGradient(g, filters, gradInput.Length, "gradInput", g.InputLength, dz.Length, scratch.Length, weights.Length, "weights", (long)filters * g.ColRows);
        int images = ImagesPerChunk(g), pixels = g.OutHeight * g.OutWidth;
        fixed (float* pw = weights, pdz = dz, pscratch = scratch, pgrad = gradInput)
        {
            for (int n0 = 0; n0 < g.Batch; n0 += images)
            {
                int n1 = Math.Min(n0 + images, g.Batch), n = (n1 - n0) * pixels;
                // chunk [CKK, n] = W^T [CKK, F] x dz[:, chunk] [F, n] (leading dimension N*OH*OW)
                Sgemm.MultiplyUnchecked(true, false, g.ColRows, n, filters, 1f, pw, g.ColRows, pdz + (long)n0 * pixels, g.ColCols,
                    0f, pscratch, n, pool, cpu);
                RunUnfold(pgrad, pscratch, g, fold: true, pool, cpu.Level, n0, n1);
            }
        }
    }

    private static void CheckGradient(in ConvGeometry g, int filters, int imageLength, string imageName, long imageNeeded, int dzLength, int scratchLength,
        int weightsLength, string weightsName, long weightsNeeded)
    {
        g.Validate();
        if (filters < 1) throw new ArgumentOutOfRangeException(nameof(filters), filters, "A convolution needs at least one filter.");
        CheckLength(imageLength, imageNeeded, imageName);
        CheckLength(dzLength, (long)filters * g.ColCols, "dz");
        CheckLength(scratchLength, GradientScratchLength(g), "scratch");
        CheckLength(weightsLength, weightsNeeded, weightsName);
    }
}
