using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using NativeNet.Core.Gemm;

namespace NativeNet.Core.Kernels;

internal static unsafe partial class DirectConvolution
{
    /// <summary>A group of up to 6 filters through the AVX2 block compiled for its size.</summary>
    private static void Filters256(in Window window, float* w, int ckk, float* z, long filterStride, int count)
    {
        switch (count)
        {
            case 6: Block256<Rows6>(window, w, ckk, z, filterStride, 6); break;
            case 5: Block256<Rows5>(window, w, ckk, z, filterStride, 5); break;
            case 4: Block256<Rows4>(window, w, ckk, z, filterStride, 4); break;
            default: Block256<Rows3>(window, w, ckk, z, filterStride, count); break;
        }
    }

    /// <summary>
    /// z[f, block of 16 pixels] for <paramref name="count"/> filters (at most TFilters.Value, up to 6): the window steps
    /// (c, kh, kw) in W's column order, each a broadcast weight per filter times the block's two 8-pixel runs, 12 ymm
    /// accumulators (aF0, aF1: filter F's first and second run). Filters beyond count read W's row 0; their sums are
    /// discarded.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Block256<TFilters>(in Window win, float* w, int ckk, float* z, long filterStride, int count)
        where TFilters : struct, IStaticCount
    {
        long o1 = count > 1 ? ckk : 0, o2 = count > 2 ? 2L * ckk : 0, o3 = count > 3 ? 3L * ckk : 0;
        long o4 = count > 4 ? 4L * ckk : 0, o5 = count > 5 ? 5L * ckk : 0;
        Vector256<float> a00 = default, a01 = default, a10 = default, a11 = default, a20 = default, a21 = default;
        Vector256<float> a30 = default, a31 = default, a40 = default, a41 = default, a50 = default, a51 = default;
        // Locals, not the struct's fields, and native-int offsets: the loop keeps everything in registers.
        nint r0 = win.Run0, r1 = win.Run1;
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
                    var x0 = Vector256.Load(s + r0);
                    var x1 = Vector256.Load(s + r1);
                    { var v = Vector256.Create(wp[0]); a00 = Vector256.FusedMultiplyAdd(v, x0, a00); a01 = Vector256.FusedMultiplyAdd(v, x1, a01); }
                    if (TFilters.Value > 1) { var v = Vector256.Create(wp[o1]); a10 = Vector256.FusedMultiplyAdd(v, x0, a10); a11 = Vector256.FusedMultiplyAdd(v, x1, a11); }
                    if (TFilters.Value > 2) { var v = Vector256.Create(wp[o2]); a20 = Vector256.FusedMultiplyAdd(v, x0, a20); a21 = Vector256.FusedMultiplyAdd(v, x1, a21); }
                    if (TFilters.Value > 3) { var v = Vector256.Create(wp[o3]); a30 = Vector256.FusedMultiplyAdd(v, x0, a30); a31 = Vector256.FusedMultiplyAdd(v, x1, a31); }
                    if (TFilters.Value > 4) { var v = Vector256.Create(wp[o4]); a40 = Vector256.FusedMultiplyAdd(v, x0, a40); a41 = Vector256.FusedMultiplyAdd(v, x1, a41); }
                    if (TFilters.Value > 5) { var v = Vector256.Create(wp[o5]); a50 = Vector256.FusedMultiplyAdd(v, x0, a50); a51 = Vector256.FusedMultiplyAdd(v, x1, a51); }
                }
            }
        }
        Store256(z, a00, a01);
        if (count > 1) Store256(z + filterStride, a10, a11);
        if (count > 2) Store256(z + 2 * filterStride, a20, a21);
        if (count > 3) Store256(z + 3 * filterStride, a30, a31);
        if (count > 4) Store256(z + 4 * filterStride, a40, a41);
        if (count > 5) Store256(z + 5 * filterStride, a50, a51);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store256(float* z, Vector256<float> x0, Vector256<float> x1)
    {
        x0.Store(z);
        x1.Store(z + 8);
    }
}
