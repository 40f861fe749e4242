using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using NativeNet.Core.Backends;
using NativeNet.Core.Gemm;
using NativeNet.Core.Threading;

namespace NativeNet.Core.Kernels;

/// <summary>
/// A convolution's weight gradient without unfolding the input, at AVX2 for stride 1, no padding, output rows of whole
/// vectors and fewer filters than <see cref="DirectWeightGradient"/> takes (the book's first convolution: 20 filters,
/// one channel). gradWeights[f, (c, kh, kw)] = sum over p = (n, y, x) of dz[f, p] input[c, n, y + kh, x + kw]: for one
/// image row, dz[f, n, y, 0..OW) is contiguous and so is input[c, n, y + kh, kw..kw + OW), so the sum runs eight
/// pixels a vector with no transpose and no broadcast. A block takes up to <see cref="FilterBlock"/> filters and
/// <see cref="TapBlock"/> neighbouring taps of one kernel row: each step loads one vector of dz per filter and one of
/// the image per tap, for up to twelve FMAs into lane-wise sums. The blocks walk one image at a time, so one image's dz
/// (9 KiB for four filters of the book's first convolution) stays in L1 while every kernel row passes over it; the sums
/// wait in memory between images. Each element's lanes sum over the images in order and are then added across in a
/// fixed order, whatever the worker count.
/// </summary>
internal static unsafe class FewFiltersWeightGradient
{
    /// <summary>Filters in one block.</summary>
    private const int FilterBlock = 4;

    /// <summary>Taps of one kernel row in one block: with four filters, twelve sums, three image vectors and dz's vector fill the 16 ymm registers.</summary>
    private const int TapBlock = 3;

    /// <summary>The sums of one block: <see cref="FilterBlock"/> x <see cref="TapBlock"/> vectors.</summary>
    private const int SumsPerBlock = FilterBlock * TapBlock;

    /// <summary>Blocks whose sums a worker keeps at once (on its stack, 6 KiB) while it walks the images.</summary>
    private const int BlocksAtOnce = 16;

    /// <summary>Whether the kernel computes this convolution's weight gradient at this level.</summary>
    public static bool Applies(in ConvGeometry g, int filters, CpuLevel level)
        => level == CpuLevel.Avx2 && g.Stride == 1 && g.Padding == 0 && g.OutWidth % Vector256<float>.Count == 0 && filters < DirectWeightGradient.MinFilters;

    /// <summary>
    /// gradWeights [F, CKK] = beta gradWeights + dz [F, N*OH*OW] x im2col(input)^T, input [C, N, H, W]; beta 0 never
    /// reads gradWeights. With a pool, workers take ranges of blocks.
    /// </summary>
    public static void Compute(float* input, float* dz, float* gradWeights, int filters, in ConvGeometry g, float beta, WorkerPool? pool)
    {
        var work = new Blocks(input, dz, gradWeights, filters, g, beta);
        ConvKernels.RunGradient(ref work, work.Count, filters, g, pool);
    }

    /// <summary>
    /// The blocks, numbered filter block by filter block; within one, kernel row (c, kh) by kernel row and, within a
    /// kernel row, tap block by tap block.
    /// </summary>
    private readonly struct Blocks(float* input, float* dz, float* gradWeights, int filters, ConvGeometry g, float beta) : IParallelWork
    {
        private readonly int _tapBlocks = (g.KernelWidth + TapBlock - 1) / TapBlock;

        private int PerFilterBlock => g.Channels * g.KernelHeight * _tapBlocks;

        public int Count => (filters + FilterBlock - 1) / FilterBlock * PerFilterBlock;

        public void Execute(int worker, int workers)
        {
            var (b0, b1) = WorkerPool.Partition(Count, worker, workers);
            Vector256<float>* sums = stackalloc Vector256<float>[BlocksAtOnce * SumsPerBlock];
            for (int first = b0; first < b1; first += BlocksAtOnce)
            {
                int last = Math.Min(b1, first + BlocksAtOnce);
                new Span<Vector256<float>>(sums, (last - first) * SumsPerBlock).Clear();
                for (int n = 0; n < g.Batch; n++)
                    for (int b = first; b < last; b++) Run(b, n, sums + (b - first) * SumsPerBlock);
                for (int b = first; b < last; b++) Write(b, sums + (b - first) * SumsPerBlock);
            }
        }

        /// <summary>Block b's filters, kernel row and first tap, and how many of each it takes.</summary>
        private (int Filter, int Filters, int Channel, int Row, int Tap, int Taps) Decode(int b)
        {
            int fb = b / PerFilterBlock, rest = b % PerFilterBlock, kernelRow = rest / _tapBlocks, tap = rest % _tapBlocks * TapBlock;
            int filter = fb * FilterBlock;
            return (filter, Math.Min(FilterBlock, filters - filter), kernelRow / g.KernelHeight, kernelRow % g.KernelHeight, tap,
                Math.Min(TapBlock, g.KernelWidth - tap));
        }

        /// <summary>Adds image n's share of block b to its sums.</summary>
        private void Run(int b, int n, Vector256<float>* sums)
        {
            var (filter, count, c, kh, kw, taps) = Decode(b);
            int pixels = g.OutHeight * g.OutWidth;
            float* image = input + ((long)c * g.Batch + n) * g.Height * g.Width + (long)kh * g.Width + kw;
            float* errors = dz + (long)filter * g.ColCols + (long)n * pixels;
            var rows = new Rows(g.OutHeight, g.OutWidth, g.Width, g.ColCols);
            switch (count * TapBlock + taps - TapBlock - 1)
            {
                case 0: Sum<Rows1, Cols1>(image, errors, rows, sums); break;
                case 1: Sum<Rows1, Cols2>(image, errors, rows, sums); break;
                case 2: Sum<Rows1, Cols3>(image, errors, rows, sums); break;
                case 3: Sum<Rows2, Cols1>(image, errors, rows, sums); break;
                case 4: Sum<Rows2, Cols2>(image, errors, rows, sums); break;
                case 5: Sum<Rows2, Cols3>(image, errors, rows, sums); break;
                case 6: Sum<Rows3, Cols1>(image, errors, rows, sums); break;
                case 7: Sum<Rows3, Cols2>(image, errors, rows, sums); break;
                case 8: Sum<Rows3, Cols3>(image, errors, rows, sums); break;
                case 9: Sum<Rows4, Cols1>(image, errors, rows, sums); break;
                case 10: Sum<Rows4, Cols2>(image, errors, rows, sums); break;
                default: Sum<Rows4, Cols3>(image, errors, rows, sums); break;
            }
        }

        /// <summary>Block b's sums, added across their lanes, into the gradient (scaled by beta first unless beta is 0).</summary>
        private void Write(int b, Vector256<float>* sums)
        {
            var (filter, count, c, kh, kw, taps) = Decode(b);
            int columns = g.ColRows;
            long column = ((long)c * g.KernelHeight + kh) * g.KernelWidth + kw;
            for (int f = 0; f < count; f++)
                for (int t = 0; t < taps; t++)
                {
                    float* to = gradWeights + (long)(filter + f) * columns + column + t;
                    float sum = Vector256.Sum(sums[f * TapBlock + t]);
                    *to = beta == 0f ? sum : beta * *to + sum;
                }
        }
    }

    /// <summary>One image's output pixels: OH rows of OW, the image rows W floats apart, dz's filters P floats apart.</summary>
    private readonly struct Rows(int height, int width, int imageWidth, int filterStride)
    {
        public readonly int Vectors = height * width / Vector256<float>.Count, VectorsPerRow = width / Vector256<float>.Count;
        public readonly long RowSkip = imageWidth - width, FilterStride = filterStride;
    }

    /// <summary>
    /// sums[f * 3 + t] += dz[f, pixel] input[pixel + t], lane-wise over one image's pixels, for TFilters filters and TTaps
    /// taps (TFilters as a count of rows of the gradient, TTaps of its columns). One loop over the vectors of the image's output rows, the image pointer moved on at each row's end. Static,
    /// its values in arguments: the sums stay in registers.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Sum<TFilters, TTaps>(float* image, float* errors, Rows rows, Vector256<float>* sums)
        where TFilters : struct, IStaticCount where TTaps : struct, IStaticCount
    {
        int filters = TFilters.Value, taps = TTaps.Value;
        long stride = rows.FilterStride;
        var s00 = sums[0]; var s01 = sums[1]; var s02 = sums[2];
        var s10 = sums[3]; var s11 = sums[4]; var s12 = sums[5];
        var s20 = sums[6]; var s21 = sums[7]; var s22 = sums[8];
        var s30 = sums[9]; var s31 = sums[10]; var s32 = sums[11];
        for (int i = 0, u = 0; i < rows.Vectors; i++)
        {
            var x0 = Vector256.Load(image);
            var x1 = taps > 1 ? Vector256.Load(image + 1) : default;
            var x2 = taps > 2 ? Vector256.Load(image + 2) : default;
            Step(Vector256.Load(errors), x0, x1, x2, taps, ref s00, ref s01, ref s02);
            if (filters > 1) Step(Vector256.Load(errors + stride), x0, x1, x2, taps, ref s10, ref s11, ref s12);
            if (filters > 2) Step(Vector256.Load(errors + 2 * stride), x0, x1, x2, taps, ref s20, ref s21, ref s22);
            if (filters > 3) Step(Vector256.Load(errors + 3 * stride), x0, x1, x2, taps, ref s30, ref s31, ref s32);
            errors += Vector256<float>.Count;
            image += Vector256<float>.Count;
            if (++u == rows.VectorsPerRow)
            {
                u = 0;
                image += rows.RowSkip;
            }
        }
        sums[0] = s00; sums[1] = s01; sums[2] = s02;
        sums[3] = s10; sums[4] = s11; sums[5] = s12;
        sums[6] = s20; sums[7] = s21; sums[8] = s22;
        sums[9] = s30; sums[10] = s31; sums[11] = s32;
    }

    /// <summary>One filter's step: its sums for taps 0, 1, 2 += d x0, d x1, d x2 (as many as there are taps).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Step(Vector256<float> d, Vector256<float> x0, Vector256<float> x1, Vector256<float> x2, int taps,
        ref Vector256<float> s0, ref Vector256<float> s1, ref Vector256<float> s2)
    {
        s0 = Vector256.FusedMultiplyAdd(d, x0, s0);
        if (taps > 1) s1 = Vector256.FusedMultiplyAdd(d, x1, s1);
        if (taps > 2) s2 = Vector256.FusedMultiplyAdd(d, x2, s2);
    }
}
