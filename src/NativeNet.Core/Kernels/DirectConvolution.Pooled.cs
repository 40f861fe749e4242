using NativeNet.Core.Backends;
using NativeNet.Core.Threading;

namespace NativeNet.Core.Kernels;

internal static unsafe partial class DirectConvolution
{
    /// <summary>Whether <see cref="ConvolveMaxPool2"/> covers this geometry: a direct one whose maps split into whole pooled units.</summary>
    public static bool SupportsMaxPool2(in ConvGeometry g, CpuContext cpu) =>
        Supports(g, cpu) && g.OutHeight % 2 == 0 && g.OutHeight / 2 % RowPairsPerUnit(g.OutWidth, cpu.Level) == 0;

    /// <summary>
    /// Row pairs in one unit of <see cref="ConvolveMaxPool2"/>: the fewest whose pixels are whole pixel blocks (AVX2, 16
    /// pixels: one pair of 8- or 24-pixel rows; AVX-512, 32 pixels: two pairs of them).
    /// </summary>
    private static int RowPairsPerUnit(int outWidth, CpuLevel level)
    {
        int pairPixels = 2 * outWidth, block = PixelBlock(level), pairs = 1;
        while (pairs * pairPixels % block != 0) pairs++;
        return pairs;
    }

    /// <summary>
    /// Inference's convolution followed by 2x2 max pooling (stride 2), pooled inside each unit:
    /// pooled [F, N, OH/2, OW/2] = maxpool(W [F, C*KH*KW] applied to input [C, N, H, W]), no bias, no activation (the
    /// layers apply them after pooling). A unit is a few output row pairs of one image by a filter group; it convolves
    /// them into a stack scratch and pools them at once, so z is never written whole, and the thread that computed a
    /// map's rows pools them: nothing crosses between cores but the pooled quarter. The values, ties and NaNs included,
    /// are those of <see cref="Convolve"/> followed by <see cref="ConvKernels.PoolForward"/>. Throws unless
    /// <see cref="SupportsMaxPool2"/>.
    /// </summary>
    public static void ConvolveMaxPool2(ReadOnlySpan<float> input, ReadOnlySpan<float> weights, Span<float> pooled, int filters, in ConvGeometry g,
        WorkerPool? pool, CpuContext cpu)
    {
        CheckOperands(g, filters, input.Length, weights.Length, pooled.Length, (long)filters * g.ColCols / 4, "pooled");
        if (!SupportsMaxPool2(g, cpu))
            throw new ArgumentException($"Direct convolution with 2x2 pooling needs a geometry Convolve covers, even output maps and whole pooled units; got {g} at {CpuContext.Name(cpu.Level)}.", nameof(g));
        fixed (float* pin = input, pw = weights, pout = pooled)
        {
            var work = new PooledWork(pin, pw, pout, filters, g, cpu.Level);
            RunUnits(ref work, work.Units, work.UnitsPerClaim, (long)filters * g.ColRows * g.ColCols, g.Batch, pool ?? WorkerPool.Shared);
        }
    }

    /// <summary>
    /// The units of <see cref="ConvolveMaxPool2"/>: unit u is row-pair group u / groups (image-major) and filter group
    /// u % groups, as in <see cref="Work"/>.
    /// </summary>
    private readonly struct PooledWork(float* input, float* weights, float* pooled, int filters, ConvGeometry g, CpuLevel level)
        : IParallelWork, IClaimedWork
    {
        private int Groups => FilterGroups(filters, level);
        private int UnitPixels => 2 * g.OutWidth * RowPairsPerUnit(g.OutWidth, level);
        private int UnitsPerImage => g.OutHeight * g.OutWidth / UnitPixels;

        public int Units => g.Batch * UnitsPerImage * Groups;

        public int UnitsPerClaim => DirectConvolution.UnitsPerClaim((long)UnitPixels * g.ColRows * filters / Groups);

        public void Execute(int worker, int workers)
        {
            var (start, end) = WorkerPool.Partition(Units, worker, workers, Groups);
            ExecuteUnits(start, end);
        }

        public void ExecuteUnits(int start, int end)
        {
            int ow = g.OutWidth, pixels = g.OutHeight * ow, ckk = g.ColRows, pixelBlock = PixelBlock(level), unitPixels = UnitPixels;
            int groups = Groups, perImage = UnitsPerImage, pooledPlane = pixels / 4;
            long pooledFilterStride = (long)g.Batch * pooledPlane;
            // One filter group's z for the unit's pixels, filter-major: at most 12 x 96 floats.
            float* z = stackalloc float[MaxFilters(level) * unitPixels];
            for (int u = start; u < end; u++)
            {
                int r = u / groups, q = u % groups, n = r / perImage, p0 = r % perImage * unitPixels;
                var (f0, f1) = WorkerPool.Partition(filters, q, groups);
                float* wq = weights + (long)f0 * ckk;
                for (int b = 0; b < unitPixels; b += pixelBlock)
                    FilterGroup(level, new Window(input, g, n, p0 + b, pixelBlock / 8), wq, ckk, z + b, unitPixels, f1 - f0);
                // Each filter's row pairs, pooled into its plane of image n at pooled row p0 / (2 ow).
                for (int f = 0; f < f1 - f0; f++)
                {
                    float* dst = pooled + (f0 + f) * pooledFilterStride + (long)n * pooledPlane + p0 / 4;
                    for (int pair = 0; pair < unitPixels / (2 * ow); pair++)
                    {
                        float* top = z + f * unitPixels + pair * 2 * ow;
                        ConvKernels.MaxPoolRowPair(top, top + ow, ow, dst + pair * (ow / 2));
                    }
                }
            }
        }
    }

    /// <summary>What both entry points check first: a valid geometry, at least one filter, and spans long enough for it.</summary>
    private static void CheckOperands(in ConvGeometry g, int filters, int input, int weights, int output, long outputNeeded, string outputName)
    {
        g.Validate();
        if (filters < 1) throw new ArgumentOutOfRangeException(nameof(filters), filters, "A convolution needs at least one filter.");
        CheckLength(input, g.InputLength, "input");
        CheckLength(weights, (long)filters * g.ColRows, "weights");
        CheckLength(output, outputNeeded, outputName);
    }

    private static void CheckLength(long actual, long needed, string name)
    {
        if (actual < needed)
            throw new ArgumentException($"Direct convolution: {name} has {actual} elements, the geometry needs {needed}.", name);
    }
}
