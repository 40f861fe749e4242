using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using NativeNet.Core.Backends;
using NativeNet.Core.Gemm;
using NativeNet.Core.Memory;
using NativeNet.Core.Threading;

namespace NativeNet.Core.Kernels;

/// <summary>
/// A convolution's input gradient without the unfolded product, at AVX2 for stride 1, no padding, kernels at most
/// <see cref="DirectWeightGradient.MaxKernelWidth"/> wide and output rows a whole number of vectors (the book's second
/// convolution). gradInput = col2im(W^T dz): output pixel (n, y, x) sends sum over f of W[f, (c, kh, kw)] dz[f, n, y, x]
/// to input pixel (c, n, y + kh, x + kw). A block gathers everything that reaches 8 + KW - 1 pixels of one input row
/// y' (and the same row of the next image): over the kernel rows kh that reach it and the filters f, tap kw's sum
/// W[f, (c, kh, kw)] dz[f, n, y' - kh, x..x+8) is a vector, two loads of dz and KW broadcasts of W feeding 2 x KW
/// FMAs a step; the KW vectors, shifted by their tap, then add onto the row. Neither the unfolded product (125 KiB an
/// image for the book's second convolution) is written and read back nor is it packed. Workers own whole channels; each
/// input pixel gets its additions in one fixed order, whatever the worker count.
/// </summary>
internal static unsafe class DirectInputGradient
{
    /// <summary>Whether the kernel computes this convolution's input gradient at this level.</summary>
    public static bool Applies(in ConvGeometry g, CpuLevel level)
        => level == CpuLevel.Avx2 && g.Stride == 1 && g.Padding == 0 && g.KernelWidth <= DirectWeightGradient.MaxKernelWidth
            && g.OutWidth % Vector256<float>.Count == 0;

    /// <summary>
    /// gradInput [C, N, H, W] (overwritten) from weights [F, CKK] and dz [F, P]; with a pool, workers take ranges of
    /// channels. Each worker copies a pair of images' dz at a time into its thread scratch.
    /// </summary>
    public static void Compute(float* weights, float* dz, float* gradInput, int filters, in ConvGeometry g, WorkerPool? pool)
    {
        var work = new Channels(weights, dz, gradInput, filters, g);
        ConvKernels.RunGradient(ref work, g.Channels, filters, g, pool);
    }

    /// <summary>A worker's range of channels: their planes cleared, then, two images at a time, every input row's blocks.</summary>
    private readonly struct Channels(float* weights, float* dz, float* gradInput, int filters, ConvGeometry g) : IParallelWork
    {
        public void Execute(int worker, int workers)
        {
            var (c0, c1) = WorkerPool.Partition(g.Channels, worker, workers);
            long plane = (long)g.Height * g.Width, outPlane = (long)g.OutHeight * g.OutWidth;
            // AddShifted's shifted taps, zeroed once: a call writes lanes [k, k + 8) of line k only, which the next overwrites.
            float* lines = stackalloc float[DirectWeightGradient.MaxKernelWidth * 16];
            new Span<float>(lines, DirectWeightGradient.MaxKernelWidth * 16).Clear();
            var steps = new Steps(g, filters);
            float* pairDz = ThreadScratch.C((int)(filters * 2 * outPlane));
            for (int c = c0; c < c1; c++) new Span<float>(gradInput + (long)c * g.Batch * plane, (int)(g.Batch * plane)).Clear();
            // Images outer, channels inner: a pair of images' dz, copied to [F, 2, OH, OW] (dz's own rows are N x OH x OW
            // floats apart, 8 KiB for 32 images of 8 x 8, and F of them at that stride fall into a few L1 sets), stays in
            // L1 while every channel reads it.
            for (int n = 0; n < g.Batch; n += 2)
            {
                bool pair = n + 1 < g.Batch;
                for (int f = 0; f < filters; f++)
                    new ReadOnlySpan<float>(dz + (long)f * g.ColCols + n * outPlane, (int)((pair ? 2 : 1) * outPlane)).CopyTo(new Span<float>(pairDz + f * 2 * outPlane, (int)(2 * outPlane)));
                for (int c = c0; c < c1; c++)
                {
                    float* image = gradInput + ((long)c * g.Batch + n) * plane;
                    float* w = weights + (long)c * g.KernelHeight * g.KernelWidth;
                    for (int y = 0; y < g.Height; y++)
                    {
                        // Kernel rows kh reach input row y from output row y - kh: kh in [first, last].
                        int first = Math.Max(0, y - g.OutHeight + 1), last = Math.Min(g.KernelHeight - 1, y);
                        if (first > last) continue;
                        float* to = image + (long)y * g.Width;
                        float* from = pairDz + (long)(y - first) * g.OutWidth;
                        for (int x = 0; x < g.OutWidth; x += Vector256<float>.Count)
                            if (pair) Dispatch<Two>(w + first * g.KernelWidth, from + x, last - first + 1, to + x, lines, steps);
                            else Dispatch<One>(w + first * g.KernelWidth, from + x, last - first + 1, to + x, lines, steps);
                    }
                }
            }
        }

        private void Dispatch<TImages>(float* w, float* d, int kernelRows, float* to, float* lines, in Steps steps) where TImages : struct, IStaticCount
        {
            switch (g.KernelWidth)
            {
                case 1: Block<Rows1, TImages>(w, d, kernelRows, to, lines, steps); break;
                case 2: Block<Rows2, TImages>(w, d, kernelRows, to, lines, steps); break;
                case 3: Block<Rows3, TImages>(w, d, kernelRows, to, lines, steps); break;
                case 4: Block<Rows4, TImages>(w, d, kernelRows, to, lines, steps); break;
                case 5: Block<Rows5, TImages>(w, d, kernelRows, to, lines, steps); break;
                default: Block<Rows6, TImages>(w, d, kernelRows, to, lines, steps); break;
            }
        }
    }

    /// <summary>
    /// How a block's pointers move: to the next filter (a row of W, a row of dz), and from a kernel row's last filter to
    /// the next kernel row's first (W one kernel row on, dz one output row back); the second image's offsets.
    /// </summary>
    private readonly struct Steps(in ConvGeometry g, int filters)
    {
        public readonly int Filters = filters;
        public readonly long W = g.ColRows, Dz = 2L * g.OutHeight * g.OutWidth;   // dz as copied for a pair of images: [F, 2, OH, OW]
        public readonly long NextKernelRowW = g.KernelWidth - (long)filters * g.ColRows, NextKernelRowDz = -g.OutWidth - filters * (2L * g.OutHeight * g.OutWidth);
        public readonly long SecondImageDz = (long)g.OutHeight * g.OutWidth, SecondImageInput = (long)g.Height * g.Width;
    }

    /// <summary>Two images a block, or the one left over.</summary>
    private readonly struct Two : IStaticCount { public static int Value => 2; }
    private readonly struct One : IStaticCount { public static int Value => 1; }

    /// <summary>
    /// Everything that reaches 8 + KW - 1 pixels of an input row (and the same row of the next image, with two): cK0 and
    /// cK1 hold tap K's sums over the kernel rows and filters for the first and second image, one loop over those
    /// (kernel row, filter) steps; then each image's taps are added onto its row. Static, its values in arguments, so
    /// the JIT keeps the accumulators in registers.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Block<TTaps, TImages>(float* w, float* d, int kernelRows, float* to, float* lines, in Steps steps)
        where TTaps : struct, IStaticCount where TImages : struct, IStaticCount
    {
        int taps = TTaps.Value;
        bool two = TImages.Value == 2;
        Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector256<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        int filters = steps.Filters, total = kernelRows * filters;
        long lw = steps.W, ld = steps.Dz, nextW = steps.NextKernelRowW, nextD = steps.NextKernelRowDz, second = steps.SecondImageDz;
        for (int s = 0, f = 0; s < total; s++)
        {
            var d0 = Vector256.Load(d);
            var d1 = two ? Vector256.Load(d + second) : default;
            Tap(w, 0, d0, d1, two, ref c00, ref c01);
            if (taps > 1) Tap(w, 1, d0, d1, two, ref c10, ref c11);
            if (taps > 2) Tap(w, 2, d0, d1, two, ref c20, ref c21);
            if (taps > 3) Tap(w, 3, d0, d1, two, ref c30, ref c31);
            if (taps > 4) Tap(w, 4, d0, d1, two, ref c40, ref c41);
            if (taps > 5) Tap(w, 5, d0, d1, two, ref c50, ref c51);
            w += lw;
            d += ld;
            if (++f == filters)
            {
                f = 0;
                w += nextW;
                d += nextD;
            }
        }
        AddShifted(to, lines, taps, c00, c10, c20, c30, c40, c50);
        if (two) AddShifted(to + steps.SecondImageInput, lines, taps, c01, c11, c21, c31, c41, c51);
    }

    /// <summary>Tap k's step for one filter: x0 += w[k] d0 and, with two images, x1 += w[k] d1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Tap(float* w, int k, Vector256<float> d0, Vector256<float> d1, bool two, ref Vector256<float> x0, ref Vector256<float> x1)
    {
        var t = Vector256.Create(w[k]);
        x0 = Vector256.FusedMultiplyAdd(t, d0, x0);
        if (two) x1 = Vector256.FusedMultiplyAdd(t, d1, x1);
    }

    /// <summary>
    /// Adds a block's tap sums for one image onto its input row: tap k's vector lands k pixels to the right, so the row's
    /// 8 + taps - 1 pixels from the block's first get sum over k of tap k's lanes shifted by k (each shifted tap laid out in a 16-float
    /// line of <paramref name="lines"/>, zero outside lanes [k, k + 8), the lines summed, the sums added, the lanes past the
    /// reach masked).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void AddShifted(float* to, float* lines, int taps,
        Vector256<float> t0, Vector256<float> t1, Vector256<float> t2, Vector256<float> t3, Vector256<float> t4, Vector256<float> t5)
    {
        if (taps > 1) t1.Store(lines + 16 + 1);
        if (taps > 2) t2.Store(lines + 32 + 2);
        if (taps > 3) t3.Store(lines + 48 + 3);
        if (taps > 4) t4.Store(lines + 64 + 4);
        if (taps > 5) t5.Store(lines + 80 + 5);
        Vector256<float> low = t0, high = Vector256<float>.Zero;
        for (int k = 1; k < taps; k++)
        {
            low += Vector256.Load(lines + 16 * k);
            high += Vector256.Load(lines + 16 * k + 8);
        }
        (Vector256.Load(to) + low).Store(to);
        if (taps > 1)
        {
            var reach = MaskedLanes.LeadingLanes256(taps - 1);   // the pixels past the block's 8 that its taps reach
            Avx.MaskStore(to + 8, reach, Avx.MaskLoad(to + 8, reach) + high);
        }
    }
}
