namespace NativeNet.Core.Gemm;

/// <summary>How the packed path computes a tile with fewer than MR rows or NR columns.</summary>
internal enum EdgeTiles
{
    /// <summary>A kernel compiled for the tile's rows and vectors, its last vector read and written through a mask, straight into C.</summary>
    Masked,

    /// <summary>A kernel compiled for the tile's rows and vectors: straight into C when it has all NR columns, else into scratch whose valid corner is merged.</summary>
    OwnShape,

    /// <summary>The full tile's kernel into scratch, its valid corner merged into C.</summary>
    Scratch,
}

/// <summary>
/// The GEMM's configuration at one instruction level, one row of the table (as BLIS keeps one context per
/// architecture): the micro-kernel and its MR x NR tile of C, the cache blocks around it, how edge tiles are computed,
/// and which small products skip packing. <see cref="CpuContext.Gemm"/> holds the row the process runs.
/// <para>
/// Shapes in the GEMM's comments and in <c>nativenet bench gemm</c> are written M x K x N: op(A) is M x K, op(B) is
/// K x N, C is M x N.
/// </para>
/// </summary>
internal sealed unsafe class GemmConfig
{
    /// <summary>Rows of the micro-kernel's tile of C.</summary>
    public required int MR { get; init; }

    /// <summary>Columns of the micro-kernel's tile of C.</summary>
    public required int NR { get; init; }

    /// <summary>Rows of A packed per block: a multiple of MR; the packed block (MC x KC) stays in L2.</summary>
    public required int MC { get; init; }

    /// <summary>Depth of a packed block: a B micro-panel (KC x NR) stays in L1.</summary>
    public required int KC { get; init; }

    /// <summary>Columns of B packed per block: a multiple of NR; the packed block (KC x NC) stays in L3.</summary>
    public required int NC { get; init; }

    /// <summary>The micro-kernel (<see cref="MicroKernels"/>): C[MR x NR] = alpha A-panel B-panel + beta C.</summary>
    public required delegate*<int, float*, float*, int, float*, int, float, float, float*, void> Tile { get; init; }

    /// <summary>How tiles with fewer than MR rows or NR columns are computed.</summary>
    public required EdgeTiles Edges { get; init; }

    /// <summary>
    /// Whether the unpacked paths have register blocks (<see cref="RowCombinations"/>, <see cref="DotProducts"/>): blocks of C
    /// accumulated in registers from A and B read where they lie. Without them a small product goes row by row and an
    /// NT product one dot product per element, so fewer products skip packing.
    /// </summary>
    public required bool RegisterBlocks { get; init; }

    /// <summary>
    /// A slice of C with at most this many rows reads B in place (when B's rows are contiguous) instead of packing it:
    /// each packed element of B would serve only a few micro-tiles.
    /// </summary>
    public int InPlaceRows { get; init; } = 128;

    /// <summary>
    /// NN and TN products with at most this many columns, <see cref="InPlaceRows"/> rows and a B of at most
    /// <see cref="DirectMaxB"/> floats run unpacked in register blocks: a packed panel of A would be reused by only a
    /// few column tiles. Past <see cref="InPlaceRows"/> rows the packed path is faster again.
    /// </summary>
    public int DirectMaxColumns { get; init; } = 128;

    /// <summary>See <see cref="DirectMaxColumns"/>: 512 KiB, so B stays in L2 while the blocks of rows pass over it.</summary>
    public long DirectMaxB { get; init; } = 1L << 17;

    /// <summary>
    /// NT products (A's rows and B's columns contiguous along k, k &gt;= 32) with at most this many rows run as unpacked
    /// dot products: each group of B's rows is read once and meets every row of A from L1 or L2, cheaper than packing
    /// both operands (a convolution's weight gradient).
    /// </summary>
    public int DirectNtMaxRows { get; init; } = 64;

    /// <summary>
    /// NT products with k of at least <see cref="DirectNtLongMinDepth"/> and A of at most <see cref="DirectNtLongMaxA"/>
    /// floats (512 KiB, L2) run as dot products up to this many rows: a long k amortizes the dot products' reductions.
    /// </summary>
    public int DirectNtLongMaxRows { get; init; } = 128;

    /// <summary>See <see cref="DirectNtLongMaxRows"/>.</summary>
    public int DirectNtLongMinDepth { get; init; } = 256;

    /// <summary>See <see cref="DirectNtLongMaxRows"/>.</summary>
    public long DirectNtLongMaxA { get; init; } = 1L << 17;

    /// <summary>
    /// AVX-512: a 12 x 32 tile, 24 zmm accumulators fed by 2 loads of B and 12 broadcasts of A a step. B micro-panel
    /// 256 x 32 floats = 32 KiB (L1); A block 144 x 256 = 144 KiB (L2). Sized for 48 KiB L1d and 1-2 MiB L2.
    /// </summary>
    public static readonly GemmConfig Avx512 = new()
    {
        MR = 12, NR = 32, MC = 144, KC = 256, NC = 3072,
        Tile = &MicroKernels.Avx512Tile12x32, Edges = EdgeTiles.Masked, RegisterBlocks = true,
    };

    /// <summary>
    /// AVX2: a 6 x 16 tile, 12 ymm accumulators fed by 2 loads of B and 6 broadcasts of A a step (12 of the 16
    /// registers). B micro-panel 256 x 16 floats = 16 KiB (L1); A block 144 x 256 = 144 KiB (L2).
    /// </summary>
    public static readonly GemmConfig Avx2 = new()
    {
        MR = 6, NR = 16, MC = 144, KC = 256, NC = 3072,
        Tile = &MicroKernels.Avx2Tile<Rows6, Vectors2>, Edges = EdgeTiles.OwnShape, RegisterBlocks = true,
    };

    /// <summary>The portable reference: a 4 x 4 tile in plain loops; NT dot products unpacked up to 32 rows.</summary>
    public static readonly GemmConfig Scalar = new()
    {
        MR = 4, NR = 4, MC = 128, KC = 256, NC = 2048,
        Tile = &MicroKernels.ScalarTile4x4, Edges = EdgeTiles.Scratch, RegisterBlocks = false,
        DirectNtMaxRows = 32, DirectNtLongMaxRows = 32,
    };

    /// <summary>The row for a level.</summary>
    public static GemmConfig For(CpuLevel level) => level switch
    {
        CpuLevel.Avx512 => Avx512,
        CpuLevel.Avx2 => Avx2,
        _ => Scalar,
    };
}
