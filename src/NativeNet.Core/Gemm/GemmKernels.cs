using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace NativeNet.Core.Gemm;

/// <summary>Which register-blocked micro-kernel the packed GEMM uses.</summary>
public enum GemmKernelKind
{
    /// <summary>The widest kernel the CPU supports (NATIVENET_GEMM_KERNEL=avx512|avx2|scalar overrides).</summary>
    Auto,
    Avx512,
    Avx2,
    Scalar,
}

/// <summary>
/// One micro-kernel and the cache blocking that suits it. The micro-kernel sees only packed
/// panels: A as kc columns of MR floats, B as kc rows of NR floats (rows ldb apart: NR when packed, B's own
/// leading dimension when read in place), and computes the MR x NR tile
/// <c>C = alpha * A*B + beta * C</c> (C row-major with stride ldc; when beta == 0, C is never read). Its last argument,
/// when not null, is the slice of the next packed B panel that it hints into L2 (<see cref="MicroKernels.NextPanelSlice"/>).
/// </summary>
internal sealed unsafe class GemmKernel
{
    public required GemmKernelKind Kind { get; init; }
    public required int MR { get; init; }
    public required int NR { get; init; }
    /// <summary>Rows of A packed per block (a multiple of MR; the block lives in L2).</summary>
    public required int MC { get; init; }
    /// <summary>Depth of one packed block (a B micro-panel of KC x NR stays in L1).</summary>
    public required int KC { get; init; }
    /// <summary>Columns of B packed per block (a multiple of NR; the block lives in L3).</summary>
    public required int NC { get; init; }
    public required delegate*<int, float*, float*, int, float*, int, float, float, float*, void> Tile { get; init; }

    /// <summary>
    /// Whether edge tiles (fewer than MR rows or NR columns) go through <see cref="MicroKernels.Avx512Edge"/>, straight into
    /// C through masks. Otherwise a kernel writes a scratch tile and its valid corner is merged into C: the full tile's, or
    /// with <see cref="Avx2Edges"/> one of the tile's own rows and vectors.
    /// </summary>
    public bool MaskedEdges { get; init; }

    /// <summary>
    /// Whether edge tiles go through <see cref="MicroKernels.Avx2Edge"/>, a kernel of their own rows and vectors: straight
    /// into C with all NR columns, else into scratch whose valid corner is merged.
    /// </summary>
    public bool Avx2Edges { get; init; }

    // Block sizes, one row per instruction set, for cores with 48 KiB L1d and 1-2 MiB L2 (Zen 5, recent Xeons).
    // AVX-512: B micro-panel 256 x 32 floats = 32 KiB (L1); A block 144 x 256 = 144 KiB (L2).
    public static readonly GemmKernel Avx512 = new()
    {
        Kind = GemmKernelKind.Avx512, MR = 12, NR = 32, MC = 144, KC = 256, NC = 3072,
        Tile = &MicroKernels.Avx512_12x32,
        MaskedEdges = true,
    };

    public static readonly GemmKernel Avx2 = new()
    {
        Kind = GemmKernelKind.Avx2, MR = 6, NR = 16, MC = 144, KC = 256, NC = 3072,
        Tile = &MicroKernels.Avx2Tile<Rows6, Vectors2>,
        Avx2Edges = true,
    };

    public static readonly GemmKernel Scalar = new()
    {
        Kind = GemmKernelKind.Scalar, MR = 4, NR = 4, MC = 128, KC = 256, NC = 2048,
        Tile = &MicroKernels.Scalar_4x4,
    };

    public static bool IsSupported(GemmKernelKind kind) => kind switch
    {
        GemmKernelKind.Avx512 => Vector512.IsHardwareAccelerated,
        GemmKernelKind.Avx2 => Vector256.IsHardwareAccelerated && System.Runtime.Intrinsics.X86.Fma.IsSupported,
        _ => true,
    };

    public static GemmKernel For(GemmKernelKind kind)
    {
        if (kind == GemmKernelKind.Auto) kind = DefaultKind;
        if (!IsSupported(kind))
            throw new PlatformNotSupportedException($"The {kind} GEMM kernel needs instructions this CPU (or DOTNET_Enable* settings) does not offer.");
        return kind switch
        {
            GemmKernelKind.Avx512 => Avx512,
            GemmKernelKind.Avx2 => Avx2,
            _ => Scalar,
        };
    }

    /// <summary>The widest supported kernel, unless NATIVENET_GEMM_KERNEL names another.</summary>
    public static readonly GemmKernelKind DefaultKind = ChooseDefault();

    private static GemmKernelKind ChooseDefault()
    {
        var forced = Environment.GetEnvironmentVariable("NATIVENET_GEMM_KERNEL");
        if (!string.IsNullOrEmpty(forced))
        {
            if (!Enum.TryParse<GemmKernelKind>(forced, ignoreCase: true, out var kind) || kind == GemmKernelKind.Auto)
                throw new InvalidOperationException($"NATIVENET_GEMM_KERNEL='{forced}' is not one of avx512, avx2, scalar.");
            return kind;
        }
        if (IsSupported(GemmKernelKind.Avx512)) return GemmKernelKind.Avx512;
        if (IsSupported(GemmKernelKind.Avx2)) return GemmKernelKind.Avx2;
        return GemmKernelKind.Scalar;
    }
}

/// <summary>
/// A compile-time count for kernels that the JIT compiles once per count with the unused registers removed: rows (packed
/// micro-kernel, NT dot products), columns (NT dot products), filters (direct convolution) or vectors (16 floats in
/// <c>Sgemm.RowBlock</c> and the AVX-512 edge tiles, 8 in <see cref="MicroKernels.Avx2Tile{TRows, TVectors}"/>).
/// </summary>
internal interface IStaticCount
{
    static abstract int Value { get; }
}

/// <summary>A compile-time yes or no, for kernels the JIT compiles once per choice (the packed kernel's masked reads of B).</summary>
internal interface IStaticFlag
{
    static abstract bool Value { get; }
}

internal readonly struct Yes : IStaticFlag { public static bool Value => true; }
internal readonly struct No : IStaticFlag { public static bool Value => false; }

/// <summary>
/// How a block of sums reaches C, fixed per call so the JIT compiles each block's stores without the unused steps:
/// c = sum (alpha 1, beta 0: a layer's forward pass), c = alpha * sum, or c = alpha * sum + beta * c (C read). Each gives
/// the bits the general formula would, since multiplying by 1 is exact.
/// </summary>
internal interface IStoreMode
{
    static abstract bool Scales { get; }
    static abstract bool Accumulates { get; }
}

internal readonly struct StoreSums : IStoreMode { public static bool Scales => false; public static bool Accumulates => false; }
internal readonly struct StoreScaledSums : IStoreMode { public static bool Scales => true; public static bool Accumulates => false; }
internal readonly struct StoreUpdate : IStoreMode { public static bool Scales => true; public static bool Accumulates => true; }

internal readonly struct Rows1 : IStaticCount { public static int Value => 1; }
internal readonly struct Rows2 : IStaticCount { public static int Value => 2; }
internal readonly struct Rows3 : IStaticCount { public static int Value => 3; }
internal readonly struct Rows4 : IStaticCount { public static int Value => 4; }
internal readonly struct Rows5 : IStaticCount { public static int Value => 5; }
internal readonly struct Rows6 : IStaticCount { public static int Value => 6; }
internal readonly struct Rows7 : IStaticCount { public static int Value => 7; }
internal readonly struct Rows8 : IStaticCount { public static int Value => 8; }
internal readonly struct Rows9 : IStaticCount { public static int Value => 9; }
internal readonly struct Rows10 : IStaticCount { public static int Value => 10; }
internal readonly struct Rows11 : IStaticCount { public static int Value => 11; }
internal readonly struct Rows12 : IStaticCount { public static int Value => 12; }
internal readonly struct Cols1 : IStaticCount { public static int Value => 1; }
internal readonly struct Cols2 : IStaticCount { public static int Value => 2; }
internal readonly struct Cols3 : IStaticCount { public static int Value => 3; }
internal readonly struct Cols4 : IStaticCount { public static int Value => 4; }
internal readonly struct Cols5 : IStaticCount { public static int Value => 5; }
internal readonly struct Cols6 : IStaticCount { public static int Value => 6; }
internal readonly struct Vectors1 : IStaticCount { public static int Value => 1; }
internal readonly struct Vectors2 : IStaticCount { public static int Value => 2; }

/// <summary>
/// The register-blocked inner loops. Each keeps its whole C tile in registers for the kc loop:
/// one broadcast of A and NR/width loads of B feed MR * NR/width independent FMAs per step.
/// </summary>
internal static unsafe class MicroKernels
{
    /// <summary>
    /// The kernels read C only after their k loop, and a large product's C rows (a page apart) come from L3 or memory.
    /// Each kernel therefore asks for its C rows during the loop, one row every <see cref="PrefetchCEvery"/> steps: all
    /// rows at once (24 lines for a 12 x 32 tile) would hold every line-fill buffer of L1 for hundreds of cycles, and
    /// the loop's own loads of A, which stream from L2, would wait behind them. Only for k blocks at least
    /// <see cref="PrefetchCMinDepth"/> deep: in short ones (64-row blocks over a hot C, 10 x 1000 x 1000) the hints cost
    /// more than they hide.
    /// Measured on the 2-core VM (2026-12-04), the 12 x 32 kernel alone over a 2048 x 2048 C, kc = 256, alternating
    /// 40 ms windows in one process: one row every 8 steps 167.8 GFLOP/s median (ahead in 39 of 40 windows), every 16
    /// 167.4, all rows before the loop 151.3, none 139.8; with C in L1, 161-168. Whole products: benchmarks/results/gemm.md,
    /// run L.
    /// </summary>
    private const int PrefetchCMinDepth = 128;

    /// <summary>k steps between two rows' prefetches (8: a 12-row tile has asked for all of C by step 96).</summary>
    private const int PrefetchCEvery = 8;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool PrefetchesC(int kc) => kc >= PrefetchCMinDepth && Sse.IsSupported;

    /// <summary>Floats of the next B panel a kernel hints per k step: two lines every <see cref="PrefetchCEvery"/> steps.</summary>
    private const int NextPanelFloatsPerStep = 32 / PrefetchCEvery;

    /// <summary>
    /// The packed path calls the kernel for each A micro-panel of a block against one B panel, then moves on to the next B
    /// panel, which the first of those calls would read from L3 (a product's packed B block, kc x nc, outgrows L2 from
    /// nc = 2048). So the calls against one panel hint the next one into L2 between them: call <paramref name="call"/>
    /// (0, 1, ...) takes the slice of <paramref name="nextPanel"/> (kc x nr floats) that starts at call * kc *
    /// NextPanelFloatsPerStep, two lines per <see cref="PrefetchCEvery"/> steps inside its loop; null once the panel is
    /// covered (after nr / 4 calls), when there is no next packed panel, or when kc is too short for any hint.
    /// Measured with the 12 x 32 kernel alone (2026-12-04, kc = 256, the tiles of a 2048 x 2048 C in the packed path's
    /// order, B panels from a 2 MiB block, alternating 40 ms windows in one process, 40 each): 160.0 GFLOP/s median
    /// without the hints, 165.0 with them into L2 (ahead in 36 of 40 windows), 163.3 into L1, 164.3 into L3.
    /// </summary>
    internal static float* NextPanelSlice(float* nextPanel, int call, int kc, int nr)
        => nextPanel == null || !PrefetchesC(kc) || call >= nr / NextPanelFloatsPerStep ? null : nextPanel + (long)call * kc * NextPanelFloatsPerStep;

    /// <summary>
    /// One step of the hints a kernel issues every <see cref="PrefetchCEvery"/> k steps: the next C row while rows
    /// remain, and two lines of the next B panel's slice when it has one.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void PrefetchStep(ref float* nextRow, ref int unfetched, int cols, int ldc, ref float* nextB)
    {
        if (unfetched > 0)
        {
            PrefetchRow(nextRow, cols);
            nextRow += ldc;
            unfetched--;
        }
        if (nextB != null)
        {
            Sse.Prefetch1(nextB);
            Sse.Prefetch1(nextB + 16);
            nextB += 32;
        }
    }

    /// <summary>Hints for the lines of one C row of <paramref name="cols"/> &lt;= 32 floats, wherever the row starts (a hint never faults).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void PrefetchRow(float* row, int cols)
    {
        Sse.Prefetch0(row);
        if (cols > 16) Sse.Prefetch0(row + 16);
        Sse.Prefetch0(row + cols - 1);
    }

    // 12 x 32 tile: 24 zmm accumulators, 2 zmm of B, 1 broadcast of A per row: 24 FMAs per 14 loads.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Avx512_12x32(int kc, float* a, float* b, int ldb, float* c, int ldc, float alpha, float beta, float* nextB)
        => Avx512Tile<Rows12, Vectors2, No>(kc, a, b, ldb, c, ldc, alpha, beta, nextB, 12, 32);

    /// <summary>
    /// The kernel for an edge tile of r &lt;= 12 rows and c &lt;= 32 columns (arguments as the tile's, then r and c): the
    /// smallest compiled row count that covers r (4, 8, 10 for the book's mini-batch, or 12), and one vector of B per
    /// step when c &lt;= 16, so a panel's last few columns cost half a tile, not a whole one. B's last vector is read
    /// through the column mask, so an edge panel can be read in place, not packed.
    /// </summary>
    public static delegate*<int, float*, float*, int, float*, int, float, float, float*, int, int, void> Avx512Edge(int rows, int cols) => cols <= 16
        ? rows <= 4 ? &Avx512Tile<Rows4, Vectors1, Yes> : rows <= 8 ? &Avx512Tile<Rows8, Vectors1, Yes> : rows <= 10 ? &Avx512Tile<Rows10, Vectors1, Yes> : &Avx512Tile<Rows12, Vectors1, Yes>
        : rows <= 4 ? &Avx512Tile<Rows4, Vectors2, Yes> : rows <= 8 ? &Avx512Tile<Rows8, Vectors2, Yes> : rows <= 10 ? &Avx512Tile<Rows10, Vectors2, Yes> : &Avx512Tile<Rows12, Vectors2, Yes>;

    /// <summary>
    /// The 12 x 32 kernel computing only the first TRows rows and the first 16 * TVectors columns of the panel (A's
    /// packed panel is still 12 wide, B's 32) and storing the first <paramref name="rows"/> x <paramref name="cols"/> of
    /// them, the last vector of each row through a mask: an edge tile of a few rows or columns costs about what it
    /// computes, and is written straight to C, nothing outside it touched. With TMaskedB, B's last vector is read through
    /// the same mask (B may end at the tile's last column); without, B's panel must hold 16 * TVectors readable columns.
    /// The JIT compiles one copy per (rows, vectors, masked B) with the unused registers removed.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Avx512Tile<TRows, TVectors, TMaskedB>(int kc, float* a, float* b, int ldb, float* c, int ldc, float alpha, float beta, float* nextB, int rows, int cols)
        where TRows : struct, IStaticCount where TVectors : struct, IStaticCount where TMaskedB : struct, IStaticFlag
    {
        bool two = TVectors.Value == 2;
        // The last vector of each row of B and C goes through this mask (all lanes for a full tile).
        var last = Sgemm.LeadingLanes(cols - 16 * (TVectors.Value - 1));
        Vector512<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default, c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default, c60 = default, c61 = default, c70 = default, c71 = default, c80 = default, c81 = default, c90 = default, c91 = default, c100 = default, c101 = default, c110 = default, c111 = default;
        int unfetched = PrefetchesC(kc) ? rows : 0;   // C's rows, asked for during the loop (see PrefetchCMinDepth)
        float* nextRow = c;
        for (int p = 0; p < kc;)
        {
            int end = kc;
            if (unfetched > 0 || nextB != null)
            {
                end = Math.Min(kc, p + PrefetchCEvery);
                PrefetchStep(ref nextRow, ref unfetched, cols, ldc, ref nextB);
            }
            for (; p < end; p++)
            {
                var b0 = TMaskedB.Value && !two ? Sgemm.LoadLeading(b, last) : Vector512.Load(b);
                var b1 = !two ? default : TMaskedB.Value ? Sgemm.LoadLeading(b + 16, last) : Vector512.Load(b + 16);
                // Each broadcast of A is written where it is used: with one vector of B the JIT then folds it into the FMA
                // (an embedded {1to16} operand); with two it still loads it once for both. Zen 4 pays for a separate
                // vbroadcastss: figures at Sgemm.RowBlock.
                { c00 = Vector512.FusedMultiplyAdd(Vector512.Create(a[0]), b0, c00); if (two) c01 = Vector512.FusedMultiplyAdd(Vector512.Create(a[0]), b1, c01); }
                { c10 = Vector512.FusedMultiplyAdd(Vector512.Create(a[1]), b0, c10); if (two) c11 = Vector512.FusedMultiplyAdd(Vector512.Create(a[1]), b1, c11); }
                { c20 = Vector512.FusedMultiplyAdd(Vector512.Create(a[2]), b0, c20); if (two) c21 = Vector512.FusedMultiplyAdd(Vector512.Create(a[2]), b1, c21); }
                { c30 = Vector512.FusedMultiplyAdd(Vector512.Create(a[3]), b0, c30); if (two) c31 = Vector512.FusedMultiplyAdd(Vector512.Create(a[3]), b1, c31); }
                if (TRows.Value > 4) { c40 = Vector512.FusedMultiplyAdd(Vector512.Create(a[4]), b0, c40); if (two) c41 = Vector512.FusedMultiplyAdd(Vector512.Create(a[4]), b1, c41); }
                if (TRows.Value > 5) { c50 = Vector512.FusedMultiplyAdd(Vector512.Create(a[5]), b0, c50); if (two) c51 = Vector512.FusedMultiplyAdd(Vector512.Create(a[5]), b1, c51); }
                if (TRows.Value > 6) { c60 = Vector512.FusedMultiplyAdd(Vector512.Create(a[6]), b0, c60); if (two) c61 = Vector512.FusedMultiplyAdd(Vector512.Create(a[6]), b1, c61); }
                if (TRows.Value > 7) { c70 = Vector512.FusedMultiplyAdd(Vector512.Create(a[7]), b0, c70); if (two) c71 = Vector512.FusedMultiplyAdd(Vector512.Create(a[7]), b1, c71); }
                if (TRows.Value > 8) { c80 = Vector512.FusedMultiplyAdd(Vector512.Create(a[8]), b0, c80); if (two) c81 = Vector512.FusedMultiplyAdd(Vector512.Create(a[8]), b1, c81); }
                if (TRows.Value > 9) { c90 = Vector512.FusedMultiplyAdd(Vector512.Create(a[9]), b0, c90); if (two) c91 = Vector512.FusedMultiplyAdd(Vector512.Create(a[9]), b1, c91); }
                if (TRows.Value > 10) { c100 = Vector512.FusedMultiplyAdd(Vector512.Create(a[10]), b0, c100); if (two) c101 = Vector512.FusedMultiplyAdd(Vector512.Create(a[10]), b1, c101); }
                if (TRows.Value > 11) { c110 = Vector512.FusedMultiplyAdd(Vector512.Create(a[11]), b0, c110); if (two) c111 = Vector512.FusedMultiplyAdd(Vector512.Create(a[11]), b1, c111); }
                a += 12;
                b += ldb;
            }
        }
        var va = Vector512.Create(alpha);
        var vb = Vector512.Create(beta);
        if (rows > 0) StoreRow<TVectors>(c + 0L * ldc, c00, c01, va, vb, beta, last);
        if (rows > 1) StoreRow<TVectors>(c + 1L * ldc, c10, c11, va, vb, beta, last);
        if (rows > 2) StoreRow<TVectors>(c + 2L * ldc, c20, c21, va, vb, beta, last);
        if (rows > 3) StoreRow<TVectors>(c + 3L * ldc, c30, c31, va, vb, beta, last);
        if (rows > 4) StoreRow<TVectors>(c + 4L * ldc, c40, c41, va, vb, beta, last);
        if (rows > 5) StoreRow<TVectors>(c + 5L * ldc, c50, c51, va, vb, beta, last);
        if (rows > 6) StoreRow<TVectors>(c + 6L * ldc, c60, c61, va, vb, beta, last);
        if (rows > 7) StoreRow<TVectors>(c + 7L * ldc, c70, c71, va, vb, beta, last);
        if (rows > 8) StoreRow<TVectors>(c + 8L * ldc, c80, c81, va, vb, beta, last);
        if (rows > 9) StoreRow<TVectors>(c + 9L * ldc, c90, c91, va, vb, beta, last);
        if (rows > 10) StoreRow<TVectors>(c + 10L * ldc, c100, c101, va, vb, beta, last);
        if (rows > 11) StoreRow<TVectors>(c + 11L * ldc, c110, c111, va, vb, beta, last);
    }

    /// <summary>One row of a tile: c = alpha * x + beta * c (c not read when beta is 0), the last vector only in the lanes of mask.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreRow<TVectors>(float* c, Vector512<float> x0, Vector512<float> x1, Vector512<float> alpha, Vector512<float> beta, float betaScalar,
        Vector512<float> mask) where TVectors : struct, IStaticCount
    {
        if (TVectors.Value == 1)
        {
            StoreMasked(c, x0, alpha, beta, betaScalar, mask);
            return;
        }
        if (betaScalar == 0f) (x0 * alpha).Store(c);
        else Vector512.FusedMultiplyAdd(x0, alpha, Vector512.Load(c) * beta).Store(c);
        StoreMasked(c + 16, x1, alpha, beta, betaScalar, mask);
    }

    /// <summary>
    /// c = alpha * x + beta * c in the lanes of mask, rounded as the full vectors of <see cref="StoreRow"/> are (one FMA
    /// onto beta * c), not as <c>Sgemm.StoreScaledLeading</c> (one FMA onto alpha * x), so a tile's columns agree.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreMasked(float* c, Vector512<float> x, Vector512<float> alpha, Vector512<float> beta, float betaScalar, Vector512<float> mask)
    {
        var value = betaScalar == 0f ? x * alpha : Vector512.FusedMultiplyAdd(x, alpha, Sgemm.LoadLeading(c, mask) * beta);
        Avx512F.MaskStore(c, mask, value);
    }


    /// <summary>
    /// The AVX2 kernel for an edge tile of r &lt;= 6 rows and c &lt;= 16 columns (arguments as the tile's): the first r rows
    /// of the 6 x 16 kernel, and one vector of B per step when c &lt;= 8, so a tile costs about what it computes. It
    /// stores 8 or 16 columns: straight into C when c is 16, else into scratch whose valid corner is merged.
    /// </summary>
    public static delegate*<int, float*, float*, int, float*, int, float, float, float*, void> Avx2Edge(int rows, int cols) => cols <= 8
        ? rows switch { 1 => &Avx2Tile<Rows1, Vectors1>, 2 => &Avx2Tile<Rows2, Vectors1>, 3 => &Avx2Tile<Rows3, Vectors1>, 4 => &Avx2Tile<Rows4, Vectors1>, 5 => &Avx2Tile<Rows5, Vectors1>, _ => &Avx2Tile<Rows6, Vectors1> }
        : rows switch { 1 => &Avx2Tile<Rows1, Vectors2>, 2 => &Avx2Tile<Rows2, Vectors2>, 3 => &Avx2Tile<Rows3, Vectors2>, 4 => &Avx2Tile<Rows4, Vectors2>, 5 => &Avx2Tile<Rows5, Vectors2>, _ => &Avx2Tile<Rows6, Vectors2> };

    /// <summary>
    /// The AVX2 micro-kernel, 6 x 16 (12 ymm accumulators, 2 ymm of B, 1 broadcast of A per row), or the first TRows rows
    /// and 8 * TVectors columns of such a tile: A's packed panel is 6 wide and B's 16 whatever the tile uses. The JIT
    /// compiles one copy per (rows, vectors) with the unused accumulators removed.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Avx2Tile<TRows, TVectors>(int kc, float* a, float* b, int ldb, float* c, int ldc, float alpha, float beta, float* nextB)
        where TRows : struct, IStaticCount where TVectors : struct, IStaticCount
    {
        int rows = TRows.Value;
        bool two = TVectors.Value == 2;
        Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector256<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        int unfetched = PrefetchesC(kc) ? rows : 0;   // C's rows, asked for during the loop (see PrefetchCMinDepth)
        float* nextRow = c;
        for (int p = 0; p < kc;)
        {
            int end = kc;
            if (unfetched > 0 || nextB != null)
            {
                end = Math.Min(kc, p + PrefetchCEvery);
                PrefetchStep(ref nextRow, ref unfetched, 8 * TVectors.Value, ldc, ref nextB);
            }
            for (; p < end; p++)
            {
                var b0 = Vector256.Load(b);
                var b1 = two ? Vector256.Load(b + 8) : default;
                Avx2Row<TVectors>(a[0], b0, b1, ref c00, ref c01);
                if (rows > 1) Avx2Row<TVectors>(a[1], b0, b1, ref c10, ref c11);
                if (rows > 2) Avx2Row<TVectors>(a[2], b0, b1, ref c20, ref c21);
                if (rows > 3) Avx2Row<TVectors>(a[3], b0, b1, ref c30, ref c31);
                if (rows > 4) Avx2Row<TVectors>(a[4], b0, b1, ref c40, ref c41);
                if (rows > 5) Avx2Row<TVectors>(a[5], b0, b1, ref c50, ref c51);
                a += 6;
                b += ldb;
            }
        }
        var va = Vector256.Create(alpha);
        if (beta == 0f)
        {
            (c00 * va).Store(c); if (two) (c01 * va).Store(c + 8);
            if (rows > 1) { c += ldc; (c10 * va).Store(c); if (two) (c11 * va).Store(c + 8); }
            if (rows > 2) { c += ldc; (c20 * va).Store(c); if (two) (c21 * va).Store(c + 8); }
            if (rows > 3) { c += ldc; (c30 * va).Store(c); if (two) (c31 * va).Store(c + 8); }
            if (rows > 4) { c += ldc; (c40 * va).Store(c); if (two) (c41 * va).Store(c + 8); }
            if (rows > 5) { c += ldc; (c50 * va).Store(c); if (two) (c51 * va).Store(c + 8); }
            return;
        }
        var vb = Vector256.Create(beta);
        Update256<TVectors>(c, c00, c01, va, vb);
        if (rows > 1) { c += ldc; Update256<TVectors>(c, c10, c11, va, vb); }
        if (rows > 2) { c += ldc; Update256<TVectors>(c, c20, c21, va, vb); }
        if (rows > 3) { c += ldc; Update256<TVectors>(c, c30, c31, va, vb); }
        if (rows > 4) { c += ldc; Update256<TVectors>(c, c40, c41, va, vb); }
        if (rows > 5) { c += ldc; Update256<TVectors>(c, c50, c51, va, vb); }
    }

    /// <summary>One row of an <see cref="Avx2Tile{TRows, TVectors}"/> step: x0 += a * b0 and, with two vectors, x1 += a * b1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Avx2Row<TVectors>(float a, Vector256<float> b0, Vector256<float> b1, ref Vector256<float> x0, ref Vector256<float> x1)
        where TVectors : struct, IStaticCount
    {
        var ai = Vector256.Create(a);
        x0 = Vector256.FusedMultiplyAdd(ai, b0, x0);
        if (TVectors.Value == 2) x1 = Vector256.FusedMultiplyAdd(ai, b1, x1);
    }

    /// <summary>c = alpha x + beta c for the first 8 * TVectors floats of a row (x0, then x1).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Update256<TVectors>(float* c, Vector256<float> x0, Vector256<float> x1, Vector256<float> alpha, Vector256<float> beta)
        where TVectors : struct, IStaticCount
    {
        Vector256.FusedMultiplyAdd(x0, alpha, Vector256.Load(c) * beta).Store(c);
        if (TVectors.Value == 2) Vector256.FusedMultiplyAdd(x1, alpha, Vector256.Load(c + 8) * beta).Store(c + 8);
    }

    /// <summary>The portable reference kernel: plain loops over a 4 x 4 tile (no hints: nextB is ignored).</summary>
    public static void Scalar_4x4(int kc, float* a, float* b, int ldb, float* c, int ldc, float alpha, float beta, float* nextB)
    {
        float* acc = stackalloc float[16];
        for (int t = 0; t < 16; t++) acc[t] = 0f;
        for (int p = 0; p < kc; p++, a += 4, b += ldb)
            for (int i = 0; i < 4; i++)
                for (int j = 0; j < 4; j++)
                    acc[i * 4 + j] = MathF.FusedMultiplyAdd(a[i], b[j], acc[i * 4 + j]);
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 4; j++)
                c[i * ldc + j] = beta == 0f ? alpha * acc[i * 4 + j] : alpha * acc[i * 4 + j] + beta * c[i * ldc + j];
    }
}
