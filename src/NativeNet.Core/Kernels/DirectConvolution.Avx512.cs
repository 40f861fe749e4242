using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using NativeNet.Core.Gemm;

namespace NativeNet.Core.Kernels;

internal static unsafe partial class DirectConvolution
{
    /// <summary>A group of up to 12 filters through the AVX-512 block compiled for its size.</summary>
    private static void Filters512(in Window window, float* w, int ckk, float* z, long filterStride, int count)
    {
        switch (count)
        {
            case 12: Block512<Rows12>(window, w, ckk, z, filterStride, 12); break;
            case 11: Block512<Rows11>(window, w, ckk, z, filterStride, 11); break;
            case 10: Block512<Rows10>(window, w, ckk, z, filterStride, 10); break;
            case 9: Block512<Rows9>(window, w, ckk, z, filterStride, 9); break;
            case 8: Block512<Rows8>(window, w, ckk, z, filterStride, 8); break;
            case 7: Block512<Rows7>(window, w, ckk, z, filterStride, 7); break;
            case 6: Block512<Rows6>(window, w, ckk, z, filterStride, 6); break;
            case 5: Block512<Rows5>(window, w, ckk, z, filterStride, 5); break;
            default: Block512<Rows4>(window, w, ckk, z, filterStride, count); break;
        }
    }

    /// <summary>
    /// z[f, block of 32 pixels] for <paramref name="count"/> filters (at most TFilters.Value, up to 12): the window steps
    /// (c, kh, kw) in W's column order, each a broadcast weight per filter times the block's two pixel vectors (each two
    /// 8-pixel runs, <see cref="ConvKernels.LoadRuns"/>), 24 zmm accumulators. Rows beyond count read W's row 0.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Block512<TFilters>(in Window win, float* w, int ckk, float* z, long filterStride, int count)
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
        Store512(z, a00, a01);
        if (count > 1) Store512(z + filterStride, a10, a11);
        if (count > 2) Store512(z + 2 * filterStride, a20, a21);
        if (count > 3) Store512(z + 3 * filterStride, a30, a31);
        if (count > 4) Store512(z + 4 * filterStride, a40, a41);
        if (count > 5) Store512(z + 5 * filterStride, a50, a51);
        if (count > 6) Store512(z + 6 * filterStride, a60, a61);
        if (count > 7) Store512(z + 7 * filterStride, a70, a71);
        if (count > 8) Store512(z + 8 * filterStride, a80, a81);
        if (count > 9) Store512(z + 9 * filterStride, a90, a91);
        if (count > 10) Store512(z + 10 * filterStride, a100, a101);
        if (count > 11) Store512(z + 11 * filterStride, a110, a111);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store512(float* z, Vector512<float> x0, Vector512<float> x1)
    {
        x0.Store(z);
        x1.Store(z + 16);
    }
}
