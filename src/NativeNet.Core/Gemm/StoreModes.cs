using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace NativeNet.Core.Gemm;

/// <summary>
/// How a block of sums x reaches C, fixed per call so the JIT compiles each block's stores without the unused steps.
/// Every mode rounds as the general formula does: c = alpha * x (rounded), then c = beta * c + that (one fused
/// multiply-add), and C is not read when beta is 0. Multiplying by an alpha of 1 is exact, so the three modes give the
/// same bits as the general formula would for their alpha and beta.
/// </summary>
internal interface IStoreMode
{
    /// <summary>Whether x is multiplied by alpha (alpha != 1).</summary>
    static abstract bool Scales { get; }

    /// <summary>Whether beta * C is added (beta != 0; C is read).</summary>
    static abstract bool Accumulates { get; }
}

/// <summary>c = x: alpha 1, beta 0 (a layer's forward pass).</summary>
internal readonly struct StoreSums : IStoreMode { public static bool Scales => false; public static bool Accumulates => false; }

/// <summary>c = alpha * x: beta 0.</summary>
internal readonly struct StoreScaledSums : IStoreMode { public static bool Scales => true; public static bool Accumulates => false; }

/// <summary>c = fma(beta, c, alpha * x).</summary>
internal readonly struct StoreUpdate : IStoreMode { public static bool Scales => true; public static bool Accumulates => true; }

/// <summary>
/// The stores of every GEMM kernel, one per vector width, all in the rounding of <see cref="IStoreMode"/>, so a tile
/// computed by any kernel (micro-kernel, edge kernel, register block, dot-product block, scratch merge) gives C the
/// same bits for the same sums.
/// </summary>
internal static unsafe class GemmStores
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store<TStore>(float* c, Vector512<float> x, Vector512<float> alpha, Vector512<float> beta) where TStore : struct, IStoreMode
    {
        if (TStore.Scales) x *= alpha;
        if (TStore.Accumulates) x = Vector512.FusedMultiplyAdd(Vector512.Load(c), beta, x);
        x.Store(c);
    }

    /// <summary><see cref="Store{TStore}(float*, Vector512{float}, Vector512{float}, Vector512{float})"/> in the lanes of mask only: nothing else of C is read or written.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreLeading<TStore>(float* c, Vector512<float> x, Vector512<float> alpha, Vector512<float> beta, Vector512<float> mask)
        where TStore : struct, IStoreMode
    {
        if (TStore.Scales) x *= alpha;
        if (TStore.Accumulates) x = Vector512.FusedMultiplyAdd(MaskedLanes.LoadLeading(c, mask), beta, x);
        Avx512F.MaskStore(c, mask, x);
    }

    /// <summary>
    /// One row of a tile of TVectors (1 or 2) 16-float vectors, x0 then x1, at c; with <paramref name="maskLast"/> the last
    /// of them in the lanes of mask only. Callers pass maskLast as a constant, so the inlined row keeps only its own stores.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreRow<TVectors, TStore>(float* c, Vector512<float> x0, Vector512<float> x1, Vector512<float> alpha, Vector512<float> beta,
        Vector512<float> mask, bool maskLast) where TVectors : struct, IStaticCount where TStore : struct, IStoreMode
    {
        if (TVectors.Value == 2)
        {
            Store<TStore>(c, x0, alpha, beta);
            c += 16;
            x0 = x1;
        }
        if (maskLast) StoreLeading<TStore>(c, x0, alpha, beta, mask);
        else Store<TStore>(c, x0, alpha, beta);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store<TStore>(float* c, Vector256<float> x, Vector256<float> alpha, Vector256<float> beta) where TStore : struct, IStoreMode
    {
        if (TStore.Scales) x *= alpha;
        if (TStore.Accumulates) x = Vector256.FusedMultiplyAdd(Vector256.Load(c), beta, x);
        x.Store(c);
    }

    /// <summary>
    /// <see cref="StoreRow{TVectors, TStore}(float*, Vector512{float}, Vector512{float}, Vector512{float}, Vector512{float}, Vector512{float}, bool)"/>
    /// for 8-float vectors.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreRow<TVectors, TStore>(float* c, Vector256<float> x0, Vector256<float> x1, Vector256<float> alpha, Vector256<float> beta,
        Vector256<float> mask, bool maskLast) where TVectors : struct, IStaticCount where TStore : struct, IStoreMode
    {
        if (TVectors.Value == 2)
        {
            Store<TStore>(c, x0, alpha, beta);
            c += 8;
            x0 = x1;
        }
        if (maskLast) StoreLeading<TStore>(c, x0, alpha, beta, mask);
        else Store<TStore>(c, x0, alpha, beta);
    }

    /// <summary>The 8-float store in the lanes of mask only (vmaskmovps).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreLeading<TStore>(float* c, Vector256<float> x, Vector256<float> alpha, Vector256<float> beta, Vector256<float> mask)
        where TStore : struct, IStoreMode
    {
        if (TStore.Scales) x *= alpha;
        if (TStore.Accumulates) x = Vector256.FusedMultiplyAdd(Avx.MaskLoad(c, mask), beta, x);
        Avx.MaskStore(c, mask, x);
    }

    /// <summary>The first <paramref name="count"/> (1-4) of four sums; C is not touched past them.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreFirst<TStore>(float* c, Vector128<float> x, int count, Vector128<float> alpha, Vector128<float> beta)
        where TStore : struct, IStoreMode
    {
        if (TStore.Scales) x *= alpha;
        if (count == 4)
        {
            if (TStore.Accumulates) x = Vector128.FusedMultiplyAdd(Vector128.Load(c), beta, x);
            x.Store(c);
            return;
        }
        for (int t = 0; t < count; t++)
            c[t] = TStore.Accumulates ? MathF.FusedMultiplyAdd(c[t], beta.ToScalar(), x.GetElement(t)) : x.GetElement(t);
    }

    /// <summary>One float: c = alpha * x, then beta * c added in one fused multiply-add when beta is not 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(float* c, float x, float alpha, float beta)
        => *c = beta == 0f ? alpha * x : MathF.FusedMultiplyAdd(*c, beta, alpha * x);

    /// <summary>c[0..n) = t + beta * c, t already scaled by alpha (an edge tile's scratch row); c is not read when beta is 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void MergeRow(float* c, float* t, int n, float beta, CpuLevel level)
    {
        int j = 0;
        if (level >= CpuLevel.Avx2)
        {
            var vb = Vector256.Create(beta);
            for (; j <= n - 8; j += 8)
            {
                var x = Vector256.Load(t + j);
                (beta == 0f ? x : Vector256.FusedMultiplyAdd(Vector256.Load(c + j), vb, x)).Store(c + j);
            }
        }
        for (; j < n; j++) c[j] = beta == 0f ? t[j] : MathF.FusedMultiplyAdd(c[j], beta, t[j]);
    }
}

/// <summary>Lane masks and masked loads: the last, partial vector of a row read or written without touching memory past it.</summary>
internal static unsafe class MaskedLanes
{
    /// <summary>A mask of the first min(count, 16) lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> LeadingLanes(int count) => Vector512.LessThan(Vector512<int>.Indices, Vector512.Create(count)).AsSingle();

    /// <summary>A mask of the first min(count, 8) lanes, for Avx.MaskLoad and Avx.MaskStore.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> LeadingLanes256(int count) => Vector256.LessThan(Vector256<int>.Indices, Vector256.Create(count)).AsSingle();

    /// <summary>The lanes of p that mask selects, 0 in the others; memory under the other lanes is not touched (AVX-512).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> LoadLeading(float* p, Vector512<float> mask) => Avx512F.MaskLoad(p, mask, Vector512<float>.Zero);

    /// <summary>16 floats at p, or with TMasked only the lanes of mask, for kernels compiled once per choice.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Load<TMasked>(float* p, Vector512<float> mask) where TMasked : struct, IStaticFlag
        => TMasked.Value ? LoadLeading(p, mask) : Vector512.Load(p);

    /// <summary>8 floats at p, or with TMasked only the lanes of mask (vmaskmovps: memory under the others is not touched).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Load256<TMasked>(float* p, Vector256<float> mask) where TMasked : struct, IStaticFlag
        => TMasked.Value ? Avx.MaskLoad(p, mask) : Vector256.Load(p);

    /// <summary>16 floats to p, or with TMasked only the lanes of mask; memory under the other lanes is not touched.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store<TMasked>(float* p, Vector512<float> value, Vector512<float> mask) where TMasked : struct, IStaticFlag
    {
        if (TMasked.Value) Avx512F.MaskStore(p, mask, value);
        else value.Store(p);
    }

    /// <summary>8 floats to p, or with TMasked only the lanes of mask (vmaskmovps).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store256<TMasked>(float* p, Vector256<float> value, Vector256<float> mask) where TMasked : struct, IStaticFlag
    {
        if (TMasked.Value) Avx.MaskStore(p, mask, value);
        else value.Store(p);
    }

    /// <summary>
    /// Rows of B (from 0) whose vector in a one-vector block may be loaded whole although its last
    /// <paramref name="surplus"/> lanes lie past the block's last column: those lanes are still inside B's validated extent
    /// ((k - 1) * ldb + n floats, see <see cref="Sgemm.Validate"/>) because enough rows follow. Only the rows after these
    /// need the masked load. The surplus lanes hold whatever B holds there; they feed accumulator lanes that are never stored.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int WholeLoadRows(int k, long ldb, int surplus)
        => surplus <= 0 ? k : (int)Math.Max(0, k - (surplus + ldb - 1) / ldb);
}
