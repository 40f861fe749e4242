using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using NativeNet.Core.Gemm;
using NativeNet.Core.Threading;

namespace NativeNet.Core.Kernels;

/// <summary>
/// Convolution without im2col, for the forward pass (inference and training): z [F, N, OH, OW] = W [F, C*KH*KW] applied to
/// input [C, N, H, W] (channel-major, as the convolutional layers keep activations), with no bias or activation.
/// <para>
/// im2col writes C*KH*KW copies of every output pixel's window before the GEMM reads them back, and on a single image
/// that memory traffic costs as much as the arithmetic. Here the windows are read straight from the input: a block of
/// 32 output pixels is two 512-bit vectors, each built from two 8-pixel runs of an input row, and every (c, kh, kw)
/// step multiplies them by one weight of up to 12 filters (24 independent accumulators). Nothing is written but z.
/// </para>
/// <para>
/// Covered geometries (<see cref="Supports"/>): stride 1, no padding, output rows a multiple of 8 pixels wide and
/// output maps a multiple of 32 pixels (the book's 24x24 and 8x8 maps), at the AVX-512 level
/// (<see cref="CpuContext.ConvolvesDirectly"/>). Others take im2col + GEMM.
/// Every output element is one fixed-order sum over (c, kh, kw), so results do not depend on batch or thread count.
/// </para>
/// </summary>
public static unsafe class DirectConvolution
{
    /// <summary>Output pixels computed together: two 512-bit vectors.</summary>
    public const int PixelBlock = 32;

    /// <summary>
    /// The most filters one block computes: 24 accumulators (two vectors each), with the two pixel vectors and a broadcast
    /// weight, 27 of the 32 vector registers.
    /// </summary>
    private const int MaxFilters = 12;

    /// <summary>Whether <see cref="Convolve"/> covers this geometry in this context.</summary>
    public static bool Supports(in ConvGeometry g, CpuContext cpu) =>
        cpu.ConvolvesDirectly && g.Stride == 1 && g.Padding == 0
        && g.OutWidth % 8 == 0 && g.OutHeight * g.OutWidth % PixelBlock == 0;

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
            throw new ArgumentException($"Direct convolution needs the AVX-512 level, stride 1, no padding, output width a multiple of 8 and output maps a multiple of {PixelBlock} pixels; got {g} at {CpuContext.Name(cpu.Level)}.", nameof(g));
        fixed (float* pin = input, pw = weights, pout = output)
        {
            var work = new Work(pin, pw, pout, filters, g);
            pool ??= WorkerPool.Shared;
            long macs = (long)filters * g.ColRows * g.ColCols;
            int workers = macs < Sgemm.ParallelThreshold ? 1 : Math.Min(pool.DegreeOfParallelism, work.Blocks);
            if (workers == 1) work.Execute(0, 1);
            else pool.Run(ref work, workers);
        }

        static void Check(long actual, long needed, string name)
        {
            if (actual < needed)
                throw new ArgumentException($"Direct convolution: {name} has {actual} elements, the geometry needs {needed}.", name);
        }
    }

    /// <summary>The blocks of 32 output pixels of every image, split into contiguous ranges, one per worker.</summary>
    private readonly struct Work(float* input, float* weights, float* output, int filters, ConvGeometry g) : IParallelWork
    {
        public int Blocks => g.Batch * (g.OutHeight * g.OutWidth / PixelBlock);

        public void Execute(int worker, int workers)
        {
            int ow = g.OutWidth, pixels = g.OutHeight * ow, ckk = g.ColRows, perImage = pixels / PixelBlock;
            long plane = (long)g.Height * g.Width, channelStride = plane * g.Batch, filterStride = (long)g.Batch * pixels;
            var (b0, b1) = WorkerPool.Partition(Blocks, worker, workers);
            int* runs = stackalloc int[4];
            for (int b = b0; b < b1; b++)
            {
                int n = b / perImage, q0 = b % perImage * PixelBlock;
                // Where each 8-pixel run of the block starts in the input (output pixel (y, x) reads input row y + kh).
                for (int r = 0; r < 4; r++)
                {
                    int q = q0 + 8 * r;
                    runs[r] = q / ow * g.Width + q % ow;
                }
                var window = new Window(input + n * plane, channelStride, g.Channels, g.KernelHeight, g.KernelWidth, g.Width, runs);
                float* z = output + (long)n * pixels + q0;
                // The filters in as few blocks of at most MaxFilters as cover them, of sizes differing by at most one,
                // each through the kernel compiled for its size (20 filters: 10 + 10; 40: 4 x 10; 32: 10 + 11 + 11).
                int blocks = (filters + MaxFilters - 1) / MaxFilters;
                for (int q = 0; q < blocks; q++)
                {
                    var (f0, f1) = WorkerPool.Partition(filters, q, blocks);
                    float* wq = weights + (long)f0 * ckk, zq = z + f0 * filterStride;
                    switch (f1 - f0)
                    {
                        case 12: Block<Rows12>(window, wq, ckk, zq, filterStride, 12); break;
                        case 11: Block<Rows11>(window, wq, ckk, zq, filterStride, 11); break;
                        case 10: Block<Rows10>(window, wq, ckk, zq, filterStride, 10); break;
                        case 9: Block<Rows9>(window, wq, ckk, zq, filterStride, 9); break;
                        case 8: Block<Rows8>(window, wq, ckk, zq, filterStride, 8); break;
                        case 7: Block<Rows7>(window, wq, ckk, zq, filterStride, 7); break;
                        case 6: Block<Rows6>(window, wq, ckk, zq, filterStride, 6); break;
                        case 5: Block<Rows5>(window, wq, ckk, zq, filterStride, 5); break;
                        default: Block<Rows4>(window, wq, ckk, zq, filterStride, f1 - f0); break;
                    }
                }
            }
        }
    }

    /// <summary>One image's input and the four run offsets of a pixel block.</summary>
    private readonly struct Window(float* image, long channelStride, int channels, int kernelHeight, int kernelWidth, int width, int* runs)
    {
        public readonly float* Image = image;
        public readonly long ChannelStride = channelStride;
        public readonly int Channels = channels, KernelHeight = kernelHeight, KernelWidth = kernelWidth, Width = width;
        public readonly int Run0 = runs[0], Run1 = runs[1], Run2 = runs[2], Run3 = runs[3];
    }

    /// <summary>
    /// z[f, block] for <paramref name="count"/> filters (at most TFilters.Value): the window steps (c, kh, kw) in W's column
    /// order, each a broadcast weight per filter times the block's two pixel vectors. Rows beyond count read W's row 0.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Block<TFilters>(in Window win, float* w, int ckk, float* z, long filterStride, int count)
        where TFilters : struct, IStaticCount
    {
        // Filters past count repeat filter 0 (their sums are discarded), so the loop has no per-filter tests.
        long o1 = count > 1 ? ckk : 0, o2 = count > 2 ? 2L * ckk : 0, o3 = count > 3 ? 3L * ckk : 0;
        long o4 = count > 4 ? 4L * ckk : 0, o5 = count > 5 ? 5L * ckk : 0, o6 = count > 6 ? 6L * ckk : 0, o7 = count > 7 ? 7L * ckk : 0;
        long o8 = count > 8 ? 8L * ckk : 0, o9 = count > 9 ? 9L * ckk : 0, o10 = count > 10 ? 10L * ckk : 0, o11 = count > 11 ? 11L * ckk : 0;
        Vector512<float> a00 = default, a01 = default, a10 = default, a11 = default, a20 = default, a21 = default, a30 = default, a31 = default;
        Vector512<float> a40 = default, a41 = default, a50 = default, a51 = default, a60 = default, a61 = default, a70 = default, a71 = default;
        Vector512<float> a80 = default, a81 = default, a90 = default, a91 = default, a100 = default, a101 = default, a110 = default, a111 = default;
        // Locals, not the struct's fields, and native-int offsets: the loop then keeps everything in registers and needs
        // no sign extensions.
        nint r0 = win.Run0, r1 = win.Run1, r2 = win.Run2, r3 = win.Run3;
        int channels = win.Channels, kernelHeight = win.KernelHeight, kernelWidth = win.KernelWidth, width = win.Width;
        float* wp = w;
        for (int c = 0; c < channels; c++)
        {
            float* channel = win.Image + c * win.ChannelStride;
            for (int kh = 0; kh < kernelHeight; kh++)
            {
                float* s = channel + kh * width;
                for (int kw = 0; kw < kernelWidth; kw++, s++, wp++)
                {
                    var x0 = ConvKernels.LoadRuns(s + r0, s + r1);
                    var x1 = ConvKernels.LoadRuns(s + r2, s + r3);
                    { var v = Vector512.Create(wp[0]); a00 = Vector512.FusedMultiplyAdd(v, x0, a00); a01 = Vector512.FusedMultiplyAdd(v, x1, a01); }
                    if (TFilters.Value > 1) { var v = Vector512.Create(wp[o1]); a10 = Vector512.FusedMultiplyAdd(v, x0, a10); a11 = Vector512.FusedMultiplyAdd(v, x1, a11); }
                    if (TFilters.Value > 2) { var v = Vector512.Create(wp[o2]); a20 = Vector512.FusedMultiplyAdd(v, x0, a20); a21 = Vector512.FusedMultiplyAdd(v, x1, a21); }
                    if (TFilters.Value > 3) { var v = Vector512.Create(wp[o3]); a30 = Vector512.FusedMultiplyAdd(v, x0, a30); a31 = Vector512.FusedMultiplyAdd(v, x1, a31); }
                    if (TFilters.Value > 4) { var v = Vector512.Create(wp[o4]); a40 = Vector512.FusedMultiplyAdd(v, x0, a40); a41 = Vector512.FusedMultiplyAdd(v, x1, a41); }
                    if (TFilters.Value > 5) { var v = Vector512.Create(wp[o5]); a50 = Vector512.FusedMultiplyAdd(v, x0, a50); a51 = Vector512.FusedMultiplyAdd(v, x1, a51); }
                    if (TFilters.Value > 6) { var v = Vector512.Create(wp[o6]); a60 = Vector512.FusedMultiplyAdd(v, x0, a60); a61 = Vector512.FusedMultiplyAdd(v, x1, a61); }
                    if (TFilters.Value > 7) { var v = Vector512.Create(wp[o7]); a70 = Vector512.FusedMultiplyAdd(v, x0, a70); a71 = Vector512.FusedMultiplyAdd(v, x1, a71); }
                    if (TFilters.Value > 8) { var v = Vector512.Create(wp[o8]); a80 = Vector512.FusedMultiplyAdd(v, x0, a80); a81 = Vector512.FusedMultiplyAdd(v, x1, a81); }
                    if (TFilters.Value > 9) { var v = Vector512.Create(wp[o9]); a90 = Vector512.FusedMultiplyAdd(v, x0, a90); a91 = Vector512.FusedMultiplyAdd(v, x1, a91); }
                    if (TFilters.Value > 10) { var v = Vector512.Create(wp[o10]); a100 = Vector512.FusedMultiplyAdd(v, x0, a100); a101 = Vector512.FusedMultiplyAdd(v, x1, a101); }
                    if (TFilters.Value > 11) { var v = Vector512.Create(wp[o11]); a110 = Vector512.FusedMultiplyAdd(v, x0, a110); a111 = Vector512.FusedMultiplyAdd(v, x1, a111); }
                }
            }
        }
        Store(z, a00, a01);
        if (count > 1) Store(z + filterStride, a10, a11);
        if (count > 2) Store(z + 2 * filterStride, a20, a21);
        if (count > 3) Store(z + 3 * filterStride, a30, a31);
        if (count > 4) Store(z + 4 * filterStride, a40, a41);
        if (count > 5) Store(z + 5 * filterStride, a50, a51);
        if (count > 6) Store(z + 6 * filterStride, a60, a61);
        if (count > 7) Store(z + 7 * filterStride, a70, a71);
        if (count > 8) Store(z + 8 * filterStride, a80, a81);
        if (count > 9) Store(z + 9 * filterStride, a90, a91);
        if (count > 10) Store(z + 10 * filterStride, a100, a101);
        if (count > 11) Store(z + 11 * filterStride, a110, a111);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(float* z, Vector512<float> x0, Vector512<float> x1)
    {
        x0.Store(z);
        x1.Store(z + 16);
    }
}
