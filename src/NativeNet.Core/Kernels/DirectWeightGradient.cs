using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using NativeNet.Core.Backends;
using NativeNet.Core.Gemm;
using NativeNet.Core.Memory;
using NativeNet.Core.Threading;

namespace NativeNet.Core.Kernels;

/// <summary>
/// A convolution's weight gradient without unfolding the input, at AVX2 for stride 1, no padding, kernels at most
/// <see cref="MaxKernelWidth"/> wide and at least <see cref="MinFilters"/> filters (the book's second convolution).
/// gradWeights [F, CKK] = dz [F, P] x cols^T, with P = N*OH*OW pixels and cols [CKK, P] the unfolded input, is computed
/// as its transpose, gradWeights^T [CKK, F] = cols [CKK, P] x dz^T [P, F]: an NN product whose A is read from the images
/// where they lie. The KW rows of cols for one kernel row (c, kh) read input[c, n, y + kh, x + kw], kw = 0..KW-1: KW
/// neighbouring floats of one image row, so a block of those rows broadcasts from one pointer as p = (n, y, x) walks
/// along x. dz is transposed once into strips of 16 filters, each P x 16 floats contiguous, so a step loads 16 filters
/// as two vectors from consecutive lines and a strip (20 KiB for 320 pixels) stays in L1 while the blocks pass over it;
/// a last strip of at most 8 filters is 8 wide and its blocks take two kernel rows, so every block keeps 2 x KW
/// accumulators busy. Neither the unfolded matrix (125 KiB an image for the book's second convolution) is written and
/// read back nor are lanes reduced across. Each element of the gradient is one chain of FMAs over p in order, whatever
/// the worker count.
/// </summary>
internal static unsafe class DirectWeightGradient
{
    /// <summary>The widest kernel: its 2 x KW accumulators, two vectors of dz and a broadcast fit the 16 ymm registers.</summary>
    public const int MaxKernelWidth = 6;

    /// <summary>
    /// The fewest filters. With fewer, the narrow last strip and the transposes weigh more than the unfolding they save:
    /// the book's first convolution (20 filters, one channel, 2,880 pixels a slice of 5 images) measured slower this way
    /// than unfolded (benchmarks/experiments/avx2-zen3.md); <see cref="FewFiltersWeightGradient"/> takes such convolutions.
    /// </summary>
    public const int MinFilters = 32;

    /// <summary>Whether the kernel computes this convolution's weight gradient at this level.</summary>
    public static bool Applies(in ConvGeometry g, int filters, CpuLevel level)
        => level == CpuLevel.Avx2 && g.Stride == 1 && g.Padding == 0 && g.KernelWidth <= MaxKernelWidth && filters >= MinFilters;

    /// <summary>Filters in one strip of dz^T: two vectors.</summary>
    private const int StripFilters = 16;

    /// <summary>
    /// gradWeights [F, CKK] = beta gradWeights + dz [F, P] x cols^T, cols read from <paramref name="input"/> [C, N, H, W];
    /// beta 0 never reads gradWeights.
    /// dz's strips and the transposed result live in the calling thread's scratch; with a pool, workers take ranges of
    /// kernel rows.
    /// </summary>
    public static void Compute(float* input, float* dz, float* gradWeights, int filters, in ConvGeometry g, float beta, WorkerPool? pool)
    {
        int pixels = g.ColCols, rows = g.ColRows;
        int width = (filters + 7) / 8 * 8;   // the result's row length and the strips' filters: whole vectors
        long length = (long)filters * rows;
        float* strips = ThreadScratch.C(checked((int)((pixels + rows) * (long)width + length)));
        float* resultT = strips + (long)pixels * width;
        ToStrips(dz, filters, pixels, strips, width);
        var work = new KernelRows(input, g, strips, width, resultT);
        ConvKernels.RunGradient(ref work, g.Channels * g.KernelHeight, filters, g, pool);   // workers take kernel rows
        // resultT [CKK, width] back to [F, CKK] (the packing's transposes: result[f, r] = resultT[r, f]), straight into the
        // gradient, or for beta into scratch and added there.
        float* result = beta == 0f ? gradWeights : resultT + (long)rows * width;
        Packing.PackPanel(result, resultT, rows, rows, filters, along: 1, across: width, CpuLevel.Avx2);
        if (beta != 0f)
        {
            var sum = new Span<float>(gradWeights, (int)length);
            System.Numerics.Tensors.TensorPrimitives.FusedMultiplyAdd(sum, beta, new ReadOnlySpan<float>(result, (int)length), sum);
        }
    }

    /// <summary>
    /// dz [filters x pixels] into strips: strip s holds filters [16 s, 16 s + 16) of each pixel p at 16 p; a last strip
    /// of 8 filters (width - 16 s = 8) at 8 p. Filters past <paramref name="filters"/> are 0. Each strip is a packed
    /// panel of dz's rows (the packing's register transposes, 8 and 4 rows at a time).
    /// </summary>
    private static void ToStrips(float* dz, int filters, int pixels, float* strips, int width)
    {
        for (int s0 = 0; s0 < width; s0 += StripFilters)
        {
            int stride = Math.Min(StripFilters, width - s0), real = Math.Clamp(filters - s0, 0, stride);
            Packing.PackPanel(strips + (long)s0 * pixels, dz + (long)s0 * pixels, stride, real, pixels, along: 1, across: pixels, CpuLevel.Avx2);
        }
    }

    /// <summary>A worker's range of kernel rows (c, kh), every strip of filters.</summary>
    private readonly struct KernelRows(float* input, ConvGeometry g, float* strips, int width, float* resultT) : IParallelWork
    {
        public void Execute(int worker, int workers)
        {
            var (k0, k1) = WorkerPool.Partition(g.Channels * g.KernelHeight, worker, workers);
            for (int f0 = 0; f0 < width; f0 += StripFilters)
            {
                float* strip = strips + (long)f0 * g.ColCols;
                if (width - f0 >= StripFilters)
                    for (int kr = k0; kr < k1; kr++) Dispatch<Wide>(strip, f0, kr, kr);
                else
                {
                    int kr = k0;
                    for (; kr + 1 < k1; kr += 2) Dispatch<Tall>(strip, f0, kr, kr + 1);
                    if (kr < k1) Dispatch<Single>(strip, f0, kr, kr);
                }
            }
        }

        private void Dispatch<TShape>(float* strip, int f0, int first, int second) where TShape : struct, IBlockShape
        {
            float* a = input + Offset(first), a2 = input + Offset(second);
            int taps = g.KernelWidth;
            float* c = resultT + (long)first * taps * width + f0, c2 = resultT + (long)second * taps * width + f0;
            var rows = new ImageRows(g);
            switch (taps)
            {
                case 1: Block<Rows1, TShape>(a, a2, strip, rows, c, c2, width); break;
                case 2: Block<Rows2, TShape>(a, a2, strip, rows, c, c2, width); break;
                case 3: Block<Rows3, TShape>(a, a2, strip, rows, c, c2, width); break;
                case 4: Block<Rows4, TShape>(a, a2, strip, rows, c, c2, width); break;
                case 5: Block<Rows5, TShape>(a, a2, strip, rows, c, c2, width); break;
                default: Block<Rows6, TShape>(a, a2, strip, rows, c, c2, width); break;
            }
        }

        /// <summary>Where kernel row kr = (c, kh) reads each image row from: its offset from pixel (n, y)'s row start.</summary>
        private long Offset(int kr) => (long)(kr / g.KernelHeight) * g.Batch * g.Height * g.Width + (long)(kr % g.KernelHeight) * g.Width;

        /// <summary>
        /// The gradient of one kernel row's KW taps (and, tall, of a second's) for a strip's filters: a and a2 point at
        /// the kernel rows' first tap in image 0's first row, b at the strip, c and c2 at the rows' results. cK0 and cK1
        /// hold tap K's sums, for the strip's filters 0..7 and 8..15 (wide), or for the two kernel rows' filters 0..7
        /// (tall). A tap's broadcast is the image row's float K past the pixel. Static, its values in arguments: as an
        /// instance method the JIT kept the accumulators in memory.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private static void Block<TTaps, TShape>(float* a, float* a2, float* b, ImageRows rows, float* c, float* c2, int width)
            where TTaps : struct, IStaticCount where TShape : struct, IBlockShape
        {
            int taps = TTaps.Value;
            bool wide = TShape.IsWide, tall = TShape.IsTall;
            Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
            Vector256<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
            int step = wide ? StripFilters : 8, ow = rows.Width, oh = rows.Height, pixels = rows.Pixels;
            long rowSkip = rows.RowSkip, imageSkip = rows.ImageSkip;
            // One loop over the pixels p = (n, y, x), the image pointers stepped along x and moved on at the end of each
            // row and image.
            for (int p = 0, x = 0, y = 0; p < pixels; p++, b += step)
            {
                var b0 = Vector256.Load(b);
                var b1 = wide ? Vector256.Load(b + 8) : default;
                Tap<TShape>(a, a2, 0, b0, b1, ref c00, ref c01);
                if (taps > 1) Tap<TShape>(a, a2, 1, b0, b1, ref c10, ref c11);
                if (taps > 2) Tap<TShape>(a, a2, 2, b0, b1, ref c20, ref c21);
                if (taps > 3) Tap<TShape>(a, a2, 3, b0, b1, ref c30, ref c31);
                if (taps > 4) Tap<TShape>(a, a2, 4, b0, b1, ref c40, ref c41);
                if (taps > 5) Tap<TShape>(a, a2, 5, b0, b1, ref c50, ref c51);
                long skip = 1;
                if (++x == ow)
                {
                    x = 0;
                    skip += rowSkip;
                    if (++y == oh)
                    {
                        y = 0;
                        skip += imageSkip;
                    }
                }
                a += skip;
                a2 += skip;
            }
            // cK0 holds filters 0..7 of tap K's row; cK1 filters 8..15 of the same row (wide) or 0..7 of the second kernel
            // row's (tall).
            float* second = wide ? c + 8 : c2;
            bool both = wide || tall;
            c00.Store(c); if (both) c01.Store(second);
            if (taps > 1) { c10.Store(c + width); if (both) c11.Store(second + width); }
            if (taps > 2) { c20.Store(c + 2L * width); if (both) c21.Store(second + 2L * width); }
            if (taps > 3) { c30.Store(c + 3L * width); if (both) c31.Store(second + 3L * width); }
            if (taps > 4) { c40.Store(c + 4L * width); if (both) c41.Store(second + 4L * width); }
            if (taps > 5) { c50.Store(c + 5L * width); if (both) c51.Store(second + 5L * width); }
        }

        /// <summary>Tap k's step: wide, x0 += a[k] b0 and x1 += a[k] b1; tall, x0 += a[k] b0 and x1 += a2[k] b0; single, x0 += a[k] b0.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void Tap<TShape>(float* a, float* a2, int k, Vector256<float> b0, Vector256<float> b1, ref Vector256<float> x0, ref Vector256<float> x1)
            where TShape : struct, IBlockShape
        {
            var t = Vector256.Create(a[k]);
            x0 = Vector256.FusedMultiplyAdd(t, b0, x0);
            if (TShape.IsWide) x1 = Vector256.FusedMultiplyAdd(t, b1, x1);
            else if (TShape.IsTall) x1 = Vector256.FusedMultiplyAdd(Vector256.Create(a2[k]), b0, x1);
        }
    }

    /// <summary>How a block walks the pixels: OW x OH output pixels an image, N images; the floats skipped in the input at each row's and each image's end.</summary>
    private readonly struct ImageRows(in ConvGeometry g)
    {
        public readonly int Width = g.OutWidth, Height = g.OutHeight, Pixels = g.ColCols;
        public readonly long RowSkip = g.Width - g.OutWidth, ImageSkip = (long)g.Height * g.Width - (long)g.OutHeight * g.Width;
    }

    /// <summary>What a block computes: 16 filters of one kernel row, 8 of two, or 8 of one.</summary>
    private interface IBlockShape
    {
        /// <summary>16 filters of one kernel row.</summary>
        static abstract bool IsWide { get; }

        /// <summary>8 filters of two kernel rows.</summary>
        static abstract bool IsTall { get; }
    }

    private readonly struct Wide : IBlockShape { public static bool IsWide => true; public static bool IsTall => false; }
    private readonly struct Tall : IBlockShape { public static bool IsWide => false; public static bool IsTall => true; }
    private readonly struct Single : IBlockShape { public static bool IsWide => false; public static bool IsTall => false; }
}
