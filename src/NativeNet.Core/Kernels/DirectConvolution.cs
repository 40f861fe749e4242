using NativeNet.Core.Gemm;
using NativeNet.Core.Threading;
using NativeNet.Core.Backends;

namespace NativeNet.Core.Kernels;

/// <summary>
/// Convolution without im2col, for the forward pass (inference and training): z [F, N, OH, OW] = W [F, C*KH*KW] applied
/// to input [C, N, H, W] (channel-major, as the convolutional layers keep activations), with no bias or activation.
/// <para>
/// im2col writes C*KH*KW copies of every output pixel's window before the GEMM reads them back, and on a single image
/// that memory traffic costs as much as the arithmetic. Here the windows are read straight from the input: a block of
/// output pixels is built from 8-pixel runs of input rows, and every (c, kh, kw) step multiplies it by one weight of each
/// of a group of filters. Nothing is written but z. One file per level holds the blocks:
/// <list type="bullet">
/// <item>AVX-512: 32 pixels (two zmm of two runs each) by up to 12 filters, 24 accumulators.</item>
/// <item>AVX2: 16 pixels (two ymm runs) by up to 6 filters, 12 accumulators of the 16 registers.</item>
/// </list>
/// </para>
/// <para>
/// Covered geometries (<see cref="Supports"/>): stride 1, no padding, output rows a multiple of 8 pixels wide and
/// output maps a multiple of the block's pixels (the book's 24x24 and 8x8 maps), at a level with vectors
/// (<see cref="CpuContext.HasDirectConvolution"/>). Others take im2col + GEMM. Every output element is one fixed-order sum
/// over (c, kh, kw), so results do not depend on batch or thread count.
/// </para>
/// </summary>
internal static unsafe partial class DirectConvolution
{
    /// <summary>Output pixels one block computes at this level: 32 (AVX-512) or 16 (AVX2).</summary>
    public static int PixelBlock(CpuLevel level) => level == CpuLevel.Avx512 ? 32 : 16;

    /// <summary>
    /// The most filters one block computes: accumulators (two vectors each), the two pixel vectors and a broadcast weight
    /// fill the register file (27 of AVX-512's 32, 15 of AVX2's 16).
    /// </summary>
    private static int MaxFilters(CpuLevel level) => level == CpuLevel.Avx512 ? 12 : 6;

    /// <summary>Whether <see cref="Convolve"/> covers this geometry in this context.</summary>
    public static bool Supports(in ConvGeometry g, CpuContext cpu) =>
        cpu.HasDirectConvolution && g.Stride == 1 && g.Padding == 0
        && g.OutWidth % 8 == 0 && g.OutHeight * g.OutWidth % PixelBlock(cpu.Level) == 0;

    /// <summary>
    /// z [F, N, OH, OW] = W [F, C*KH*KW] applied to input [C, N, H, W]; throws when <see cref="Supports"/> is false.
    /// Products of at least <see cref="Sgemm.ParallelThreshold"/> multiply-adds split their pixel blocks over the pool.
    /// </summary>
    public static void Convolve(ReadOnlySpan<float> input, ReadOnlySpan<float> weights, Span<float> output, int filters, in ConvGeometry g,
        WorkerPool? pool, CpuContext cpu)
    {
        g.Validate();
        if (filters < 1) throw new ArgumentOutOfRangeException(nameof(filters), filters, "A convolution needs at least one filter.");
        Check(input.Length, g.InputLength, "input");
        Check(weights.Length, (long)filters * g.ColRows, "weights");
        Check(output.Length, (long)filters * g.ColCols, "output");
        if (!Supports(g, cpu))
            throw new ArgumentException($"Direct convolution needs the AVX2 or AVX-512 level, stride 1, no padding, output width a multiple of 8 and output maps a multiple of {PixelBlock(cpu.Level)} pixels; got {g} at {CpuContext.Name(cpu.Level)}.", nameof(g));
        fixed (float* pin = input, pw = weights, pout = output)
        {
            var work = new Work(pin, pw, pout, filters, g, cpu.Level);
            pool ??= WorkerPool.Shared;
            long macs = (long)filters * g.ColRows * g.ColCols;
            int workers = macs < Sgemm.ParallelThreshold ? 1 : Math.Min(pool.DegreeOfParallelism, work.Blocks);
            pool.Run(ref work, workers);   // one worker runs inline
        }

        static void Check(long actual, long needed, string name)
        {
            if (actual < needed)
                throw new ArgumentException($"Direct convolution: {name} has {actual} elements, the geometry needs {needed}.", name);
        }
    }

    /// <summary>The pixel blocks of every image, split into contiguous ranges, one per worker.</summary>
    private readonly struct Work(float* input, float* weights, float* output, int filters, ConvGeometry g, CpuLevel level) : IParallelWork
    {
        public int Blocks => g.Batch * (g.OutHeight * g.OutWidth / PixelBlock(level));

        public void Execute(int worker, int workers)
        {
            int ow = g.OutWidth, pixels = g.OutHeight * ow, ckk = g.ColRows, pixelBlock = PixelBlock(level), perImage = pixels / pixelBlock;
            long plane = (long)g.Height * g.Width, channelStride = plane * g.Batch, filterStride = (long)g.Batch * pixels;
            var (b0, b1) = WorkerPool.Partition(Blocks, worker, workers);
            int* runs = stackalloc int[4];
            for (int b = b0; b < b1; b++)
            {
                int n = b / perImage, q0 = b % perImage * pixelBlock;
                // Where each 8-pixel run of the block starts in the input (output pixel (y, x) reads input row y + kh).
                for (int r = 0; r < pixelBlock / 8; r++)
                {
                    int q = q0 + 8 * r;
                    runs[r] = q / ow * g.Width + q % ow;
                }
                var window = new Window(input + n * plane, channelStride, g.Channels, g.KernelHeight, g.KernelWidth, g.Width, runs, pixelBlock / 8);
                float* z = output + (long)n * pixels + q0;
                // The filters in as few blocks of at most MaxFilters as cover them, of sizes differing by at most one,
                // each through the kernel compiled for its size (AVX-512, 20 filters: 10 + 10; 40: 4 x 10).
                int maxFilters = MaxFilters(level), blocks = (filters + maxFilters - 1) / maxFilters;
                for (int q = 0; q < blocks; q++)
                {
                    var (f0, f1) = WorkerPool.Partition(filters, q, blocks);
                    float* wq = weights + (long)f0 * ckk, zq = z + f0 * filterStride;
                    if (level == CpuLevel.Avx512) Filters512(window, wq, ckk, zq, filterStride, f1 - f0);
                    else Filters256(window, wq, ckk, zq, filterStride, f1 - f0);
                }
            }
        }
    }

    /// <summary>One image's input and the run offsets of a pixel block (2 or 4 runs of 8 pixels).</summary>
    private readonly struct Window(float* image, long channelStride, int channels, int kernelHeight, int kernelWidth, int width, int* runs, int runCount)
    {
        public readonly float* Image = image;
        public readonly long ChannelStride = channelStride;
        public readonly int Channels = channels, KernelHeight = kernelHeight, KernelWidth = kernelWidth, Width = width;
        public readonly int Run0 = runs[0], Run1 = runs[1], Run2 = runCount > 2 ? runs[2] : 0, Run3 = runCount > 3 ? runs[3] : 0;
    }
}
