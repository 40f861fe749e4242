using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace NativeNet.Core.Gemm;

/// <summary>Copies blocks of A and B into the micro-panels the micro-kernels read (see <see cref="PackedGemm"/>).</summary>
internal static unsafe class Packing
{
    /// <summary>
    /// Packs one micro-panel: dst[p * width + i] = src[p * along + i * across] for i &lt; valid, 0 for the padding
    /// rows up to width. Two layouts occur: contiguous across the panel (copy a row of floats per p) and contiguous
    /// along k (each of the valid source rows is read once, written with stride width).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void PackPanel(float* dst, float* src, int width, int valid, int kc, long along, long across, CpuLevel level)
    {
        if (across == 1)
        {
            for (int p = 0; p < kc; p++, src += along, dst += width)
            {
                int i = 0;
                if (level >= CpuLevel.Avx512)
                    for (; i <= valid - 16; i += 16) Vector512.Store(Vector512.Load(src + i), dst + i);
                if (level >= CpuLevel.Avx2)
                    for (; i <= valid - 8; i += 8) Vector256.Store(Vector256.Load(src + i), dst + i);
                for (; i < valid; i++) dst[i] = src[i];
                for (; i < width; i++) dst[i] = 0f;
            }
            return;
        }
        int i0 = 0;
        if (along == 1 && level >= CpuLevel.Avx2)
        {
            // A 12-row panel is 8 rows, then 4, both transposed in registers.
            for (; i0 <= valid - 8; i0 += 8) Transpose8Rows(dst + i0, src + i0 * across, width, kc, across);
            if (i0 <= valid - 4) { Transpose4Rows(dst + i0, src + i0 * across, width, kc, across); i0 += 4; }
        }
        for (int i = i0; i < valid; i++)
        {
            float* s = src + i * across, d = dst + i;
            if (along == 1)
                for (int p = 0; p < kc; p++, d += width) *d = s[p];
            else
                for (int p = 0; p < kc; p++, d += width, s += along) *d = *s;
        }
        for (int i = valid; i < width; i++)
        {
            float* d = dst + i;
            for (int p = 0; p < kc; p++, d += width) *d = 0f;
        }
    }

    /// <summary>
    /// dst[p * width + i] = src[i * across + p] for 4 rows i and every p &lt; kc: 4 x 8 blocks transposed in registers,
    /// each store writing 4 consecutive packed floats.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Transpose4Rows(float* dst, float* src, int width, int kc, long across)
    {
        int p = 0;
        for (; p <= kc - 8; p += 8)
        {
            var (u0, u1, u2, u3) = Transpose4x8(src + p, across);
            float* d = dst + (long)p * width;
            Sse.Store(d, u0.GetLower()); Sse.Store(d + width, u1.GetLower());
            Sse.Store(d + 2L * width, u2.GetLower()); Sse.Store(d + 3L * width, u3.GetLower());
            Sse.Store(d + 4L * width, u0.GetUpper()); Sse.Store(d + 5L * width, u1.GetUpper());
            Sse.Store(d + 6L * width, u2.GetUpper()); Sse.Store(d + 7L * width, u3.GetUpper());
        }
        for (; p < kc; p++)
            for (int i = 0; i < 4; i++) dst[(long)p * width + i] = src[i * across + p];
    }

    /// <summary>
    /// dst[p * width + i] = src[i * across + p] for 8 rows i and every p &lt; kc: two 4 x 8 blocks transposed in registers
    /// and their halves joined (lane permute), so each store writes 8 consecutive packed floats.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Transpose8Rows(float* dst, float* src, int width, int kc, long across)
    {
        int p = 0;
        for (; p <= kc - 8; p += 8)
        {
            var (u0, u1, u2, u3) = Transpose4x8(src + p, across);
            var (u4, u5, u6, u7) = Transpose4x8(src + p + 4 * across, across);
            float* d = dst + (long)p * width;
            Avx.Store(d, Avx.Permute2x128(u0, u4, 0x20)); d += width;
            Avx.Store(d, Avx.Permute2x128(u1, u5, 0x20)); d += width;
            Avx.Store(d, Avx.Permute2x128(u2, u6, 0x20)); d += width;
            Avx.Store(d, Avx.Permute2x128(u3, u7, 0x20)); d += width;
            Avx.Store(d, Avx.Permute2x128(u0, u4, 0x31)); d += width;
            Avx.Store(d, Avx.Permute2x128(u1, u5, 0x31)); d += width;
            Avx.Store(d, Avx.Permute2x128(u2, u6, 0x31)); d += width;
            Avx.Store(d, Avx.Permute2x128(u3, u7, 0x31));
        }
        for (; p < kc; p++)
            for (int i = 0; i < 8; i++) dst[(long)p * width + i] = src[i * across + p];
    }

    /// <summary>
    /// The 4 x 8 block at s (rows <paramref name="across"/> floats apart) transposed in registers (unpack, shuffle): each
    /// result holds two columns of the block as 4 floats each, columns {0, 4}, {1, 5}, {2, 6} and {3, 7} (low, high half).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector256<float>, Vector256<float>, Vector256<float>, Vector256<float>) Transpose4x8(float* s, long across)
    {
        var r0 = Avx.LoadVector256(s); var r1 = Avx.LoadVector256(s + across);
        var r2 = Avx.LoadVector256(s + 2 * across); var r3 = Avx.LoadVector256(s + 3 * across);
        var t0 = Avx.UnpackLow(r0, r1); var t1 = Avx.UnpackHigh(r0, r1);
        var t2 = Avx.UnpackLow(r2, r3); var t3 = Avx.UnpackHigh(r2, r3);
        return (Avx.Shuffle(t0, t2, 0x44), Avx.Shuffle(t0, t2, 0xEE), Avx.Shuffle(t1, t3, 0x44), Avx.Shuffle(t1, t3, 0xEE));
    }
}
