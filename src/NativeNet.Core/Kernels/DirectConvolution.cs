using System.Runtime.CompilerServices;
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
    /// Products of at least <see cref="WorkerPool.ParallelThreshold"/> multiply-adds split over the pool: a batch in fixed
    /// shares of whole pixel blocks, one image in units the caller and any running worker claim (<see cref="WorkerPool.RunClaimed{T}"/>).
    /// </summary>
    public static void Convolve(ReadOnlySpan<float> input, ReadOnlySpan<float> weights, Span<float> output, int filters, in ConvGeometry g,
        WorkerPool? pool, CpuContext cpu)
    {
        CheckOperands(g, filters, input.Length, weights.Length, output.Length, (long)filters * g.ColCols, "output");
        if (!Supports(g, cpu))
            throw new ArgumentException($"Direct convolution needs the AVX2 or AVX-512 level, stride 1, no padding, output width a multiple of 8 and output maps a multiple of {PixelBlock(cpu.Level)} pixels; got {g} at {CpuContext.Name(cpu.Level)}.", nameof(g));
        fixed (float* pin = input, pw = weights, pout = output)
        {
            var work = new Work(pin, pw, pout, filters, g, cpu.Level);
            RunUnits(ref work, work.Units, work.UnitsPerClaim, (long)filters * g.ColRows * g.ColCols, g.Batch, pool ?? WorkerPool.Shared);
        }
    }

    /// <summary>
    /// Runs a convolution's units: on the calling thread below the pool's threshold; one image (tens of microseconds) in
    /// claimed units, so a worker that is not running already never delays it; a batch in fixed shares.
    /// </summary>
    private static void RunUnits<T>(ref T work, int units, int unitsPerClaim, long macs, int batch, WorkerPool pool)
        where T : unmanaged, IParallelWork, IClaimedWork
    {
        if (macs < pool.ParallelThreshold) work.ExecuteUnits(0, units);
        else if (batch == 1) pool.RunClaimed(ref work, units, unitsPerClaim);
        else pool.Run(ref work, pool.DegreeOfParallelism);
    }

    /// <summary>
    /// The units of a convolution: every pixel block of every image by every group of at most MaxFilters filters (the
    /// filters in as few groups as cover them, of sizes differing by at most one: AVX-512, 20 filters: 10 + 10; AVX2, 40:
    /// 7 groups of 5 or 6). Unit u is pixel block u / groups and filter group u % groups, so a range of units walks the
    /// groups of one block while its input window is in L1.
    /// </summary>
    private readonly struct Work(float* input, float* weights, float* output, int filters, ConvGeometry g, CpuLevel level)
        : IParallelWork, IClaimedWork
    {
        private int Groups => FilterGroups(filters, level);

        public int Units => g.Batch * (g.OutHeight * g.OutWidth / PixelBlock(level)) * Groups;

        public int UnitsPerClaim => DirectConvolution.UnitsPerClaim((long)PixelBlock(level) * g.ColRows * filters / Groups);

        /// <summary>A fixed share: whole pixel blocks, contiguous, one range per worker.</summary>
        public void Execute(int worker, int workers)
        {
            var (start, end) = WorkerPool.Partition(Units, worker, workers, Groups);
            ExecuteUnits(start, end);
        }

        public void ExecuteUnits(int start, int end)
        {
            int pixels = g.OutHeight * g.OutWidth, ckk = g.ColRows, pixelBlock = PixelBlock(level), perImage = pixels / pixelBlock;
            int groups = Groups;
            long filterStride = (long)g.Batch * pixels;
            for (int u = start; u < end;)
            {
                int b = u / groups, n = b / perImage, q0 = b % perImage * pixelBlock;
                var window = new Window(input, g, n, q0, pixelBlock / 8);
                float* z = output + (long)n * pixels + q0;
                for (int lastGroup = Math.Min(groups, u % groups + end - u), q = u % groups; q < lastGroup; q++, u++)
                {
                    var (f0, f1) = WorkerPool.Partition(filters, q, groups);
                    FilterGroup(level, window, weights + (long)f0 * ckk, ckk, z + f0 * filterStride, filterStride, f1 - f0);
                }
            }
        }
    }

    /// <summary>The filter groups of a unit: as few of at most MaxFilters as cover the filters, of sizes differing by at most one.</summary>
    private static int FilterGroups(int filters, CpuLevel level) => (filters + MaxFilters(level) - 1) / MaxFilters(level);

    /// <summary>Units per claim for units of <paramref name="macsPerUnit"/>: at least 2^15 multiply-adds (about half a microsecond), so claims cost little beside the work.</summary>
    private static int UnitsPerClaim(long macsPerUnit) => (int)Math.Max(1, (1L << 15) / macsPerUnit);

    /// <summary>A group of <paramref name="count"/> filters over one pixel block, through the level's block kernel.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void FilterGroup(CpuLevel level, in Window window, float* w, int ckk, float* z, long filterStride, int count)
    {
        if (level == CpuLevel.Avx512) Filters512(window, w, ckk, z, filterStride, count);
        else Filters256(window, w, ckk, z, filterStride, count);
    }

    /// <summary>One image's input and where the runs of a pixel block (2 or 4 runs of 8 output pixels) start in it.</summary>
    private readonly struct Window
    {
        public readonly float* Image;
        public readonly long ChannelStride;
        public readonly int Channels, KernelHeight, KernelWidth, Width;
        public readonly int Run0, Run1, Run2, Run3;

        /// <summary>The block of image <paramref name="n"/> whose first output pixel is <paramref name="q0"/>.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Window(float* input, in ConvGeometry g, int n, int q0, int runCount)
        {
            long plane = (long)g.Height * g.Width;
            Image = input + n * plane;
            ChannelStride = plane * g.Batch;
            Channels = g.Channels; KernelHeight = g.KernelHeight; KernelWidth = g.KernelWidth; Width = g.Width;
            Run0 = RunStart(g, q0);
            Run1 = RunStart(g, q0 + 8);
            Run2 = runCount > 2 ? RunStart(g, q0 + 16) : 0;
            Run3 = runCount > 3 ? RunStart(g, q0 + 24) : 0;
        }

        /// <summary>Where the run of output pixels from q starts in the input: output pixel (y, x) reads input row y + kh.</summary>
        private static int RunStart(in ConvGeometry g, int q) => q / g.OutWidth * g.Width + q % g.OutWidth;
    }
}
