using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace NativeNet.Core.Gemm;

/// <summary>Horizontal sums of the dot-product blocks' accumulators, each vector's lanes added in one fixed order wherever it sits.</summary>
internal static class HorizontalSums
{
    /// <summary>
    /// The sums of sixteen vectors v0..v15 in one vector: lane 4q + r holds sum(v[4r + q]). Halving the vector count at each
    /// step (128-bit quarters, then lanes), so 15 adds and 30 shuffles reduce all sixteen instead of 16 folds and 12 horizontal
    /// adds per four. Every v's lanes are added in the same order, (x0 + x2) + (x1 + x3) of its 4-lane partial sums built the
    /// same way, wherever it sits, and <see cref="Sums8"/> keeps that order too.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<float> Sums16(Vector512<float> v0, Vector512<float> v1, Vector512<float> v2, Vector512<float> v3,
        Vector512<float> v4, Vector512<float> v5, Vector512<float> v6, Vector512<float> v7, Vector512<float> v8, Vector512<float> v9,
        Vector512<float> v10, Vector512<float> v11, Vector512<float> v12, Vector512<float> v13, Vector512<float> v14, Vector512<float> v15)
        => LaneSums(Quarters(v0, v1, v2, v3), Quarters(v4, v5, v6, v7), Quarters(v8, v9, v10, v11), Quarters(v12, v13, v14, v15));

    /// <summary>The sums of eight vectors: lanes 4q and 4q + 1 hold sum(v[q]) and sum(v[4 + q]).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<float> Sums8(Vector512<float> v0, Vector512<float> v1, Vector512<float> v2, Vector512<float> v3,
        Vector512<float> v4, Vector512<float> v5, Vector512<float> v6, Vector512<float> v7)
    {
        var t0 = Quarters(v0, v1, v2, v3);
        var t1 = Quarters(v4, v5, v6, v7);
        var pairs = Avx512F.UnpackLow(t0, t1) + Avx512F.UnpackHigh(t0, t1);   // [t0 x0+x2, t1 x0+x2, t0 x1+x3, t1 x1+x3]
        return pairs + Avx512F.Shuffle(pairs, pairs, 0x4E);
    }

    /// <summary>Four vectors to one whose quarter q holds 4 partial sums of v[q]: (quarters 0 + 2) + (quarters 1 + 3).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<float> Quarters(Vector512<float> v0, Vector512<float> v1, Vector512<float> v2, Vector512<float> v3)
    {
        // [v0 q0+q2, v0 q1+q3, v1 q0+q2, v1 q1+q3], and the same for v2, v3
        var h01 = Avx512F.Shuffle4x128(v0, v1, 0x44) + Avx512F.Shuffle4x128(v0, v1, 0xEE);
        var h23 = Avx512F.Shuffle4x128(v2, v3, 0x44) + Avx512F.Shuffle4x128(v2, v3, 0xEE);
        return Avx512F.Shuffle4x128(h01, h23, 0x88) + Avx512F.Shuffle4x128(h01, h23, 0xDD);
    }

    /// <summary>Lane 4q of the result: the sum of quarter q's four lanes x0..x3, added as (x0 + x2) + (x1 + x3), as <see cref="LaneSums"/> adds them.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<float> QuarterTotals(Vector512<float> t)
    {
        var pairs = t + Avx512F.Shuffle(t, t, 0x4E);        // per quarter [x0+x2, x1+x3, x2+x0, x3+x1]
        return pairs + Avx512F.Shuffle(pairs, pairs, 0xB1);
    }

    /// <summary>Four vectors of per-quarter partial sums to one: lane 4q + r holds the sum of t_r's quarter q.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<float> LaneSums(Vector512<float> t0, Vector512<float> t1, Vector512<float> t2, Vector512<float> t3)
    {
        var ab = Avx512F.UnpackLow(t0, t1) + Avx512F.UnpackHigh(t0, t1);   // per quarter [t0 x0+x2, t1 x0+x2, t0 x1+x3, t1 x1+x3]
        var cd = Avx512F.UnpackLow(t2, t3) + Avx512F.UnpackHigh(t2, t3);
        return Avx512F.Shuffle(ab, cd, 0x44) + Avx512F.Shuffle(ab, cd, 0xEE);
    }

    /// <summary>
    /// The lane sums of eight vectors, in order: each added as ((x0 + x1) + (x2 + x3)) + ((x4 + x5) + (x6 + x7)) (two
    /// rounds of horizontal adds within 128-bit halves, then the halves), the order <see cref="Sums4x256"/> keeps too.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<float> Sums8x256(Vector256<float> v0, Vector256<float> v1, Vector256<float> v2, Vector256<float> v3,
        Vector256<float> v4, Vector256<float> v5, Vector256<float> v6, Vector256<float> v7)
    {
        var low = Avx.HorizontalAdd(Avx.HorizontalAdd(v0, v1), Avx.HorizontalAdd(v2, v3));    // per half: [v0, v1, v2, v3] partial sums
        var high = Avx.HorizontalAdd(Avx.HorizontalAdd(v4, v5), Avx.HorizontalAdd(v6, v7));
        return Avx.Permute2x128(low, high, 0x20) + Avx.Permute2x128(low, high, 0x31);
    }

    /// <summary>The lane sums of four vectors, in order, added as <see cref="Sums8x256"/> adds them.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector128<float> Sums4x256(Vector256<float> v0, Vector256<float> v1, Vector256<float> v2, Vector256<float> v3)
    {
        var t = Avx.HorizontalAdd(Avx.HorizontalAdd(v0, v1), Avx.HorizontalAdd(v2, v3));
        return t.GetLower() + t.GetUpper();
    }
}
