using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using NativeNet.Core.Threading;
using NativeNet.Core.Backends;

namespace NativeNet.Core.Kernels;

/// <summary>im2col / col2im, pooling and the layout change between convolutional and fully connected layers.</summary>
internal static partial class ConvKernels
{
    /// <summary>
    /// Unfolds input [C, N, H, W] into cols [C*KH*KW, N*OH*OW]: row (c, kh, kw), column (n, oh, ow) holds
    /// input[c, n, oh*stride - pad + kh, ow*stride - pad + kw], or 0 outside the image.
    /// With a <paramref name="pool"/> and at least <see cref="Elementwise.ParallelElements"/> floats of cols, contiguous
    /// ranges of rows go to the workers (each row is written by one worker, so the result does not change).
    /// </summary>
    public static unsafe void Im2Col(ReadOnlySpan<float> input, Span<float> cols, in ConvGeometry g, WorkerPool? pool, CpuContext cpu)
    {
        CheckUnfold(g, input.Length, "input", cols.Length);
        fixed (float* pin = input, pcols = cols)
            RunUnfold(pin, pcols, g, fold: false, pool, cpu.Level);
    }

    /// <summary>
    /// The adjoint of <see cref="Im2Col"/>: gradInput [C, N, H, W] = sum of cols entries onto the pixels they came from
    /// (overwrites). With a pool, contiguous ranges of channels go to the workers: the rows of one channel add onto the same
    /// pixels, so a channel is never shared, and each pixel sees the same additions in the same order.
    /// </summary>
    public static unsafe void Col2Im(ReadOnlySpan<float> cols, Span<float> gradInput, in ConvGeometry g, WorkerPool? pool, CpuContext cpu)
    {
        CheckUnfold(g, gradInput.Length, "gradInput", cols.Length);
        fixed (float* pcols = cols, pgrad = gradInput)
            RunUnfold(pgrad, pcols, g, fold: true, pool, cpu.Level);
    }

    private static void CheckUnfold(in ConvGeometry g, int imageLength, string imageName, int colsLength)
    {
        g.Validate();
        CheckLength(imageLength, g.InputLength, imageName);
        CheckLength(colsLength, (long)g.ColRows * g.ColCols, "cols");
    }

    /// <summary>
    /// <see cref="Unfold"/> of images [n0, n1) inline or over the pool: rows of cols when unfolding, whole channels when
    /// folding. cols then holds only those images' columns, [C*KH*KW, (n1 - n0)*OH*OW].
    /// </summary>
    private static unsafe void RunUnfold(float* image, float* cols, in ConvGeometry g, bool fold, WorkerPool? pool, CpuLevel level, int n0 = 0, int n1 = -1)
    {
        if (n1 < 0) n1 = g.Batch;
        var work = new UnfoldSplit(image, cols, g, fold, n0, n1, level);
        Elementwise.RunSplit(ref work, (long)g.ColRows * (n1 - n0) * g.OutHeight * g.OutWidth, fold ? g.Channels : g.ColRows, pool);
    }

    /// <summary>One worker's share of <see cref="Unfold"/>: rows of cols when unfolding, whole channels when folding.</summary>
    private readonly unsafe struct UnfoldSplit(float* image, float* cols, ConvGeometry g, bool fold, int n0, int n1, CpuLevel level) : IParallelWork
    {
        public void Execute(int worker, int workers)
        {
            int window = g.KernelHeight * g.KernelWidth;
            var (r0, r1) = fold ? Scale(WorkerPool.Partition(g.Channels, worker, workers), window) : WorkerPool.Partition(g.ColRows, worker, workers);
            if (r0 >= r1) return;
            if (fold)
            {
                // Folding overwrites: clear the planes of images [n0, n1) in this worker's channels first.
                long plane = (long)g.Height * g.Width;
                for (int c = r0 / window; c < r1 / window; c++)
                    new Span<float>(image + ((long)c * g.Batch + n0) * plane, (int)((n1 - n0) * plane)).Clear();
            }
            Unfold(image, cols, g, fold, r0, r1, n0, n1, level);
        }

        private static (int, int) Scale((int Start, int End) range, int by) => (range.Start * by, range.End * by);
    }

    /// <summary>
    /// The one loop nest behind im2col and col2im, over rows [r0, r1) of cols and images [n0, n1): for each (c, kh, kw)
    /// row and each output pixel, the input pixel it reads. Unfolding copies input to cols (0 outside the image); folding
    /// adds cols back onto the input. cols has (n1 - n0)*OH*OW columns.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Unfold(float* image, float* cols, ConvGeometry g, bool fold, int r0, int r1, int n0, int n1, CpuLevel level)
    {
        int oh = g.OutHeight, ow = g.OutWidth, h = g.Height, w = g.Width, stride = g.Stride, pad = g.Padding;
        long plane = (long)h * w, q = (long)(n1 - n0) * oh * ow;
        bool dense = stride == 1 && pad == 0;
        for (int r = r0; r < r1; r++)
        {
            int c = r / (g.KernelHeight * g.KernelWidth), kh = r / g.KernelWidth % g.KernelHeight, kw = r % g.KernelWidth;
            float* col = cols + r * q;
            if (dense)
            {
                // No padding, stride 1 (the book's convolutions): every window row lies inside the image,
                // so each output row is one straight copy (or add) with no bounds tests.
                // Unfolding whole lines at a time where the output rows allow it (see CopyRunPairs).
                bool pairs = !fold && level >= CpuLevel.Avx512 && ow % 8 == 0 && oh * (ow / 8) % 2 == 0;
                bool vectors = level >= CpuLevel.Avx2;
                for (int n = n0; n < n1; n++)
                {
                    float* src = image + (c * (long)g.Batch + n) * plane + (long)kh * w + kw;
                    if (pairs)
                    {
                        CopyRunPairs(src, w, col, oh, ow);
                        col += oh * ow;
                    }
                    else if (ow == 8 && vectors)   // one vector a row (the book's second convolution): no inner loop
                    {
                        if (fold) for (int y = 0; y < oh; y++, col += 8, src += w) (Vector256.Load(src) + Vector256.Load(col)).Store(src);
                        else for (int y = 0; y < oh; y++, col += 8, src += w) Vector256.Load(src).Store(col);
                    }
                    else if (fold) for (int y = 0; y < oh; y++, col += ow, src += w) AddInto(src, col, ow, vectors);
                    else for (int y = 0; y < oh; y++, col += ow, src += w) CopyShort(src, col, ow, vectors);
                }
                continue;
            }
            for (int n = n0; n < n1; n++)
            {
                float* img = image + (c * (long)g.Batch + n) * plane;
                for (int y = 0; y < oh; y++, col += ow)
                {
                    int iy = y * stride - pad + kh;
                    if ((uint)iy >= (uint)h)
                    {
                        if (!fold) new Span<float>(col, ow).Clear();
                        continue;
                    }
                    float* src = img + (long)iy * w;
                    for (int x = 0; x < ow; x++)
                    {
                        int ix = x * stride - pad + kw;
                        if (fold) { if ((uint)ix < (uint)w) src[ix] += col[x]; }
                        else col[x] = (uint)ix < (uint)w ? src[ix] : 0f;
                    }
                }
            }
        }
    }

    /// <summary>
    /// dst[0, oh * ow) = the oh runs of ow floats at src, src + w, ... (ow a multiple of 8, oh * ow / 8 even): 8-float pieces
    /// joined in pairs, so each store writes 64 bytes (a whole line when dst is aligned), each line asked for
    /// <see cref="StoreAhead"/> floats ahead so the stores do not wait on it: cols is written once per step, larger than L1
    /// (the book's conv2: 1.25 MiB), and read back by the weight gradient's GEMM. AVX-512 only.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void CopyRunPairs(float* src, int w, float* dst, int oh, int ow)
    {
        if (ow == 8)   // two output rows a store (the book's second convolution)
        {
            for (int y = 0; y < oh; y += 2, src += 2 * w, dst += 16)
            {
                Sse.Prefetch0(dst + StoreAhead);
                LoadRuns(src, src + w).Store(dst);
            }
            return;
        }
        float* row = src;
        int x = 0;
        for (float* end = dst + (long)oh * ow; dst < end; dst += 16)
        {
            Sse.Prefetch0(dst + StoreAhead);
            float* p0 = row + x;
            if ((x += 8) == ow) { x = 0; row += w; }
            float* p1 = row + x;
            if ((x += 8) == ow) { x = 0; row += w; }
            LoadRuns(p0, p1).Store(dst);
        }
    }

    private const int StoreAhead = 256;

    /// <summary>
    /// The 8 floats at <paramref name="low"/> and the 8 at <paramref name="high"/> as one vector: the low run widened in
    /// place and the high one inserted, one shuffle where <c>Vector512.Create(lo, hi)</c> takes two (and shuffles share a
    /// port with the FMAs of the direct convolution, which builds its pixel vectors this way).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static unsafe Vector512<float> LoadRuns(float* low, float* high)
        => Avx512F.InsertVector256(Vector256.Load(low).ToVector512Unsafe(), Vector256.Load(high), 1);

    /// <summary>Copies a short run (an output row: 8 or 24 floats for the book's networks) without a call into memmove.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void CopyShort(float* src, float* dst, int n, bool vectors)
    {
        int i = 0;
        if (vectors) for (; i <= n - 8; i += 8) Vector256.Store(Vector256.Load(src + i), dst + i);
        for (; i < n; i++) dst[i] = src[i];
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void AddInto(float* dst, float* src, int n, bool vectors)
    {
        int i = 0;
        if (vectors) for (; i <= n - 8; i += 8) (Vector256.Load(dst + i) + Vector256.Load(src + i)).Store(dst + i);
        for (; i < n; i++) dst[i] += src[i];
    }

    /// <summary>
    /// Layout change from the convolutional [C, N, P] (P pixels per map) to the fully connected [N, C*P]:
    /// dst[n, c*P + p] = src[c, n, p]. With <paramref name="inverse"/> it goes back.
    /// </summary>
    public static void ChannelMajorToBatchMajor(ReadOnlySpan<float> src, Span<float> dst, int channels, int batch, int pixels, bool inverse = false)
    {
        long total = (long)channels * batch * pixels;
        CheckLength(src.Length, total, "src");
        CheckLength(dst.Length, total, "dst");
        for (int c = 0; c < channels; c++)
            for (int n = 0; n < batch; n++)
            {
                int cm = (c * batch + n) * pixels, bm = (n * channels + c) * pixels;
                if (inverse) src.Slice(bm, pixels).CopyTo(dst.Slice(cm, pixels));
                else src.Slice(cm, pixels).CopyTo(dst.Slice(bm, pixels));
            }
    }

    private static void CheckLength(int actual, long needed, string name)
    {
        if (actual < needed) throw new ArgumentException($"{name} has {actual} elements but the geometry needs {needed}.", name);
    }
}
