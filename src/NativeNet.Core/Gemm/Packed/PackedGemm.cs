using System.Runtime.CompilerServices;
using NativeNet.Core.Memory;
using NativeNet.Core.Threading;

namespace NativeNet.Core.Gemm;

/// <summary>
/// The packed path: the BLIS five loops over one worker's slice of C. Around the micro-kernel
/// (<see cref="GemmConfig.Tile"/>, MR x NR): loop 1 over NC-column blocks of B, loop 2 over KC-deep blocks of k (B's
/// block packed into NR-wide micro-panels), loop 3 over MC-row blocks of A (packed into MR-tall micro-panels), loops 4
/// and 5 over the micro-panels of B and A. Work is split along n when C is wide and along m otherwise, in whole
/// micro-tiles, so each worker packs its own panels and writes its own part of C.
/// </summary>
internal unsafe struct PackedGemm : IParallelWork
{
    /// <summary>
    /// Depth of the k blocks when B is read in place. A panel walks down B one row (a page, for a 1000-wide matrix) per
    /// step of k; in blocks of 64 rows the panels side by side cover those rows left to right, an order the hardware
    /// prefetchers follow, so B streams at close to the L3 bandwidth.
    /// </summary>
    public const int InPlaceKC = 64;

    private readonly Operands _op;
    private readonly int _m, _n, _k;
    private readonly int _mr, _nr, _mc, _kc, _nc, _inPlaceRows;
    private readonly delegate*<int, float*, float*, int, float*, int, float, float, float*, void> _tile;
    private readonly EdgeTiles _edges;
    private readonly bool _splitN;

    /// <summary>Workers the product is split over: at most one per micro-tile row or column of C.</summary>
    public readonly int Workers;

    public PackedGemm(Operands op, int m, int n, int k, GemmConfig config, int workers)
    {
        _op = op; _m = m; _n = n; _k = k;
        _mr = config.MR; _nr = config.NR; _mc = config.MC; _kc = config.KC; _nc = config.NC;
        _inPlaceRows = config.InPlaceRows;
        // Decided from the whole product, not a worker's slice, so the k blocks (and the rounding) do not depend on
        // the worker count.
        if (ReadsBInPlace(op, m, config.InPlaceRows)) _kc = Math.Min(_kc, InPlaceKC);
        _tile = config.Tile;
        _edges = config.Edges;
        int nTiles = (n + _nr - 1) / _nr, mTiles = (m + _mr - 1) / _mr;
        _splitN = nTiles >= workers && (nTiles >= mTiles || mTiles < workers);
        Workers = Math.Max(1, Math.Min(workers, _splitN ? nTiles : mTiles));
    }

    /// <summary>
    /// Whether the packed path reads B in place for a slice of C with this many rows: B's rows contiguous and few rows
    /// of C, so that each packed element of B would serve only a few micro-tiles and packing would cost about what the
    /// arithmetic does. In 64-row k blocks (<see cref="InPlaceKC"/>) the length of B's rows does not matter.
    /// </summary>
    public static bool ReadsBInPlace(in Operands op, int rows, int inPlaceRows) => op.BRowsContiguous && rows <= inPlaceRows;

    public void Execute(int worker, int workers)
    {
        var (m0, m1) = _splitN ? (0, _m) : WorkerPool.Partition(_m, worker, workers, _mr);
        var (n0, n1) = _splitN ? WorkerPool.Partition(_n, worker, workers, _nr) : (0, _n);
        if (m0 < m1 && n0 < n1) Blocked(m0, m1, n0, n1);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Blocked(int m0, int m1, int n0, int n1)
    {
        int kcMax = Math.Min(_kc, _k);
        float* packA = ThreadScratch.A(_mc * kcMax);
        float* packB = ThreadScratch.B(Math.Min(_nc, RoundUpTo(n1 - n0, _nr)) * kcMax);
        float* edge = stackalloc float[_mr * _nr + 16];
        // With few rows of A the kernel reads B's rows where they lie. A last, partial panel is read in place through masks
        // where the edge kernels have them, else packed, so no read runs past the end of a row.
        bool bInPlace = ReadsBInPlace(_op, m1 - m0, _inPlaceRows);   // this worker's rows
        for (int jc = n0; jc < n1; jc += _nc)
        {
            int nc = Math.Min(_nc, n1 - jc);
            int inPlaceCols = !bInPlace ? 0 : _edges == EdgeTiles.Masked ? nc : nc / _nr * _nr;
            for (int pc = 0; pc < _k; pc += _kc)
            {
                int kc = Math.Min(_kc, _k - pc);
                float beta = pc == 0 ? _op.Beta : 1f;
                if (bInPlace) { if (inPlaceCols < nc) PackB(packB + (long)inPlaceCols * kc, pc, kc, jc + inPlaceCols, nc - inPlaceCols); }
                else PackB(packB, pc, kc, jc, nc);
                for (int ic = m0; ic < m1; ic += _mc)
                {
                    int mc = Math.Min(_mc, m1 - ic);
                    PackA(packA, ic, mc, pc, kc);
                    for (int jr = 0; jr < nc; jr += _nr)
                    {
                        int nr = Math.Min(_nr, nc - jr);
                        bool inPlace = jr < inPlaceCols;
                        float* bp = inPlace ? _op.B + (long)pc * _op.BRow + jc + jr : packB + (long)jr * kc;
                        int ldb = inPlace ? _op.BRow : _nr;
                        // The next packed B panel, hinted into L2 a slice per call while this one is in use.
                        float* nextPanel = jr + _nr < nc && jr + _nr >= inPlaceCols ? packB + (long)(jr + _nr) * kc : null;
                        for (int ir = 0; ir < mc; ir += _mr)
                        {
                            int mr = Math.Min(_mr, mc - ir);
                            float* ap = packA + (long)ir * kc;
                            float* cij = _op.C + (long)(ic + ir) * _op.Ldc + jc + jr;
                            float* nextB = MicroKernels.NextPanelSlice(nextPanel, ir / _mr, kc, _nr);
                            if (mr == _mr && nr == _nr)
                                _tile(kc, ap, bp, ldb, cij, _op.Ldc, _op.Alpha, beta, nextB);
                            else if (_edges == EdgeTiles.Masked)
                                MicroKernels.Avx512Edge(mr, nr)(kc, ap, bp, ldb, cij, _op.Ldc, _op.Alpha, beta, nextB, mr, nr);
                            else if (_edges == EdgeTiles.OwnShape && nr == _nr)
                                MicroKernels.Avx2Edge(mr, nr)(kc, ap, bp, ldb, cij, _op.Ldc, _op.Alpha, beta, nextB);
                            else
                                EdgeTile(_edges == EdgeTiles.OwnShape ? MicroKernels.Avx2Edge(mr, nr) : _tile, kc, ap, bp, ldb, cij, mr, nr, beta, edge, nextB);
                        }
                    }
                }
            }
        }
    }

    /// <summary>
    /// A partial tile: <paramref name="kernel"/> (the full tile's, or one covering at least mr x nr) writes alpha * A B to
    /// scratch with rows NR apart, then the valid mr x nr corner merges into C.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private readonly void EdgeTile(delegate*<int, float*, float*, int, float*, int, float, float, float*, void> kernel, int kc, float* ap, float* bp,
        int ldb, float* c, int mr, int nr, float beta, float* scratch, float* nextB)
    {
        float* tile = (float*)(((nint)scratch + 63) & ~(nint)63);
        kernel(kc, ap, bp, ldb, tile, _nr, _op.Alpha, 0f, nextB);
        for (int i = 0; i < mr; i++)
            GemmStores.MergeRow(c + (long)i * _op.Ldc, tile + i * _nr, nr, beta, _op.Level);
    }

    /// <summary>Packs A[ic.., pc..] (mc x kc) as micro-panels of MR rows: panel[p * MR + i], zero-padded.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private readonly void PackA(float* dst, int ic, int mc, int pc, int kc)
    {
        for (int ir = 0; ir < mc; ir += _mr)
            Packing.PackPanel(dst + (long)ir * kc, _op.A + (long)(ic + ir) * _op.ARow + (long)pc * _op.ACol,
                _mr, Math.Min(_mr, mc - ir), kc, along: _op.ACol, across: _op.ARow, _op.Level);
    }

    /// <summary>Packs B[pc.., jc..] (kc x nc) as micro-panels of NR columns: panel[p * NR + j], zero-padded.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private readonly void PackB(float* dst, int pc, int kc, int jc, int nc)
    {
        for (int jr = 0; jr < nc; jr += _nr)
            Packing.PackPanel(dst + (long)jr * kc, _op.B + (long)pc * _op.BRow + (long)(jc + jr) * _op.BCol,
                _nr, Math.Min(_nr, nc - jr), kc, along: _op.BRow, across: _op.BCol, _op.Level);
    }

    private static int RoundUpTo(int x, int to) => (x + to - 1) / to * to;
}
