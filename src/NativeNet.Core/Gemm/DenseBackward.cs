using System.Diagnostics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using NativeNet.Core.Memory;
using NativeNet.Core.Threading;

namespace NativeNet.Core.Gemm;

/// <summary>
/// A dense layer's backward through its weights with the SGD step folded in:
/// <code>
///   dx [rows x inputs] = dz [rows x units] W [units x inputs]     (W before the step)
///   W = beta W + alpha dz^T x,                                    x [rows x inputs]
/// </code>
/// As two GEMMs at a mini-batch of 10, both are bound by memory, not arithmetic: each streams all of W (a 1000 x 1000
/// layer is 4 MB, more than a core's L2) and the step does only 10 multiply-adds per element of W it reads and writes.
/// This kernel reads each element of W once, into a register: a tile of one vector's columns walks down the rows of W
/// with dx's and x's columns in registers (2 x rows of them at AVX-512), and for each row j adds dz[:, j] W[j, :] to dx, then rewrites the
/// row with alpha dz[:, j]^T x + beta W[j, :]. Per row, 2 x rows multiply-adds for one load and one store of W.
/// <para>
/// At the AVX-512 level up to <see cref="MaxRows"/> rows, at AVX2 (8-column tiles, x read from L1) up to
/// <see cref="MaxRows256"/> (<see cref="CpuContext.HasFusedDenseBackward"/>; the registers must hold dx's rows); otherwise
/// the two GEMMs. Rows of W go by in blocks of <see cref="PackedGemm.InPlaceKC"/>, the tiles of a block side by side
/// (the order in which the in-place GEMM reads B), each tile prefetching its rows 128 bytes ahead.
/// </para>
/// <para>
/// Layers of at least <see cref="SplitUnits"/> units split them in two halves fixed by the shape; the second half's dx goes
/// to scratch and is added at the end. Each worker owns whole rows of W: split by columns instead, two workers would write
/// the cache line across their boundary in every row of W. More workers
/// split a half's columns; one does both halves in turn. Every element sees the same operations whatever the worker count.
/// </para>
/// </summary>
internal static unsafe class DenseBackward
{
    /// <summary>
    /// The most rows (examples in a mini-batch) the fused kernel takes, and the row stride of its transposed dz: at
    /// AVX-512, 2 x 12 registers of dx and x, 8 others.
    /// </summary>
    public const int MaxRows = 12;

    /// <summary>
    /// The most rows the AVX2 tile takes: 10 registers of dx, and W's row, the two update chains, a broadcast, alpha and
    /// beta, the 16 ymm registers; x is read from L1 as the FMAs' memory operand.
    /// </summary>
    public const int MaxRows256 = 10;

    /// <summary>Layers with at least this many units split them into two halves (see the class remarks).</summary>
    public const int SplitUnits = 2 * PackedGemm.InPlaceKC;

    /// <summary>Columns of W a tile covers: one vector.</summary>
    private static int TileColumns(CpuContext cpu) => cpu.HasVector512 ? 16 : 8;

    /// <summary>
    /// How far ahead in its row of W a tile prefetches (floats): 128 bytes, two tiles ahead at AVX-512, four at AVX2. A
    /// tile walks 64 rows, 64 pages apart, more streams than the hardware prefetchers follow.
    /// </summary>
    private const int PrefetchAhead = 32;

    /// <summary>
    /// The shortest rows of W that workers split by columns when the units are too few to halve: shorter rows run faster on
    /// one thread than split.
    /// </summary>
    private const int ColumnSplitMinInputs = 4096;

    /// <summary>Whether <see cref="PropagateAndStep"/> runs the fused kernel for this many rows in this context (else two GEMMs).</summary>
    public static bool IsFused(int rows, CpuContext cpu) => cpu.HasFusedDenseBackward && rows <= (cpu.HasVector512 ? MaxRows : MaxRows256);

    public static void PropagateAndStep(int rows, int units, int inputs, float alpha, ReadOnlySpan<float> dz, ReadOnlySpan<float> x,
        float beta, Span<float> w, Span<float> dx, WorkerPool? pool = null, CpuContext? cpu = null)
    {
        if (rows < 0 || units < 0 || inputs < 0)
            throw new ArgumentException($"Dense backward dimensions must be non-negative: rows={rows}, units={units}, inputs={inputs}.");
        Need("dz", dz.Length, rows, units, "rows x units");
        Need("x", x.Length, rows, inputs, "rows x inputs");
        Need("w", w.Length, units, inputs, "units x inputs");
        Need("dx", dx.Length, rows, inputs, "rows x inputs");
        pool ??= WorkerPool.Shared;
        cpu ??= CpuContext.Default;
        if (rows == 0 || units == 0 || inputs == 0 || !IsFused(rows, cpu))
        {
            Sgemm.Multiply(false, false, rows, inputs, units, 1f, dz, Math.Max(1, units), w, Math.Max(1, inputs), 0f, dx, Math.Max(1, inputs), pool, cpu);
            Sgemm.Multiply(true, false, units, inputs, rows, alpha, dz, Math.Max(1, units), x, Math.Max(1, inputs), beta, w, Math.Max(1, inputs), pool, cpu);
            return;
        }
        fixed (float* pdz = dz, px = x, pw = w, pdx = dx)
        {
            // dz^T [units x 12], then the second half's partial dx [rows x inputs]: the broadcasts of one row of W side by side.
            int half = units >= SplitUnits ? FixedHalves.Boundary(units, PackedGemm.InPlaceKC) : units;
            float* dzT = ThreadScratch.C(units * MaxRows + (half < units ? rows * inputs : 0));
            for (int i = 0; i < rows; i++)
            {
                float* src = pdz + (long)i * units;
                for (int j = 0; j < units; j++) dzT[(long)j * MaxRows + i] = src[j];
            }
            float* partial = half < units ? dzT + (long)units * MaxRows : null;
            var work = new Work(units, inputs, alpha, beta, dzT, px, pw, pdx, partial, half, TileColumns(cpu),
                TileFor(rows, masked: false, cpu), TileFor(rows, masked: true, cpu));
            // Unsplit, workers would split the columns of W and share a cache line in each row: worth it for long rows only.
            int workers = 2L * rows * units * inputs < pool.ParallelThreshold || (partial is null && inputs < ColumnSplitMinInputs) ? 1 : pool.DegreeOfParallelism;
            pool.Run(ref work, workers);   // one worker runs inline
            if (partial is not null)
                TensorPrimitives.Add(dx[..(rows * inputs)], new ReadOnlySpan<float>(partial, rows * inputs), dx[..(rows * inputs)]);
        }

        static void Need(string name, int length, int height, int width, string shape)
        {
            if (length < (long)height * width)
                throw new ArgumentException($"Dense backward: {name} is {shape} = {height} x {width} and needs {(long)height * width} elements, but its span has {length}.", name);
        }
    }

    private readonly struct Work(int units, int inputs, float alpha, float beta, float* dzT, float* x, float* w, float* dx,
        float* partial, int half, int tileColumns, TileKernel tile, TileKernel edge) : IParallelWork, IHalvedWork
    {
        public void Execute(int worker, int workers)
        {
            if (partial is null) Rows(0, units, dx, worker, workers);
            else FixedHalves.Execute(this, worker, workers);
        }

        /// <summary>Units [0, half) into dx.</summary>
        public void First(int worker, int workers) => Rows(0, half, dx, worker, workers);

        /// <summary>Units [half, units) into the partial dx, added to dx at the end.</summary>
        public void Second(int worker, int workers) => Rows(half, units, partial, worker, workers);

        /// <summary>Rows [j0, j1) of W, this worker's share of its columns; target = dz[:, j0:j1] W[j0:j1, :].</summary>
        private void Rows(int j0, int j1, float* target, int worker, int workers)
        {
            // Column ranges start on a cache line, so no two workers write the same line of W.
            var (c0, c1) = WorkerPool.Partition(inputs, worker, workers, NativeBuffer.AlignmentFloats);
            if (c0 >= c1) return;
            for (int jb = j0; jb < j1; jb += PackedGemm.InPlaceKC)
            {
                int count = Math.Min(PackedGemm.InPlaceKC, j1 - jb);
                for (int c = c0; c < c1; c += tileColumns)
                    (c1 - c >= tileColumns ? tile : edge).Run(count, dzT + (long)jb * MaxRows, w + (long)jb * inputs + c, inputs, x + c, target + c, inputs,
                        alpha, beta, jb == j0, c1 - c);
            }
        }
    }

    /// <summary>One compiled tile: (count, dzT, w, ldw, x, dx, ldx, alpha, beta, first, cols).</summary>
    private readonly struct TileKernel(delegate*<int, float*, float*, int, float*, float*, int, float, float, bool, int, void> run)
    {
        public readonly delegate*<int, float*, float*, int, float*, float*, int, float, float, bool, int, void> Run = run;
    }

    private static TileKernel TileFor(int rows, bool masked, CpuContext cpu) => new(cpu.HasVector512
        ? masked
            ? rows switch
            {
                1 => &Tile<Rows1, Yes>, 2 => &Tile<Rows2, Yes>, 3 => &Tile<Rows3, Yes>, 4 => &Tile<Rows4, Yes>, 5 => &Tile<Rows5, Yes>, 6 => &Tile<Rows6, Yes>,
                7 => &Tile<Rows7, Yes>, 8 => &Tile<Rows8, Yes>, 9 => &Tile<Rows9, Yes>, 10 => &Tile<Rows10, Yes>, 11 => &Tile<Rows11, Yes>,
                12 => &Tile<Rows12, Yes>, _ => throw new UnreachableException($"{rows} rows: IsFused decides"),
            }
            : rows switch
            {
                1 => &Tile<Rows1, No>, 2 => &Tile<Rows2, No>, 3 => &Tile<Rows3, No>, 4 => &Tile<Rows4, No>, 5 => &Tile<Rows5, No>, 6 => &Tile<Rows6, No>,
                7 => &Tile<Rows7, No>, 8 => &Tile<Rows8, No>, 9 => &Tile<Rows9, No>, 10 => &Tile<Rows10, No>, 11 => &Tile<Rows11, No>,
                12 => &Tile<Rows12, No>, _ => throw new UnreachableException($"{rows} rows: IsFused decides"),
            }
        : masked
            ? rows switch
            {
                1 => &Tile256<Rows1, Yes>, 2 => &Tile256<Rows2, Yes>, 3 => &Tile256<Rows3, Yes>, 4 => &Tile256<Rows4, Yes>, 5 => &Tile256<Rows5, Yes>,
                6 => &Tile256<Rows6, Yes>, 7 => &Tile256<Rows7, Yes>, 8 => &Tile256<Rows8, Yes>, 9 => &Tile256<Rows9, Yes>, 10 => &Tile256<Rows10, Yes>,
                _ => throw new UnreachableException($"{rows} rows: IsFused decides"),
            }
            : rows switch
            {
                1 => &Tile256<Rows1, No>, 2 => &Tile256<Rows2, No>, 3 => &Tile256<Rows3, No>, 4 => &Tile256<Rows4, No>, 5 => &Tile256<Rows5, No>,
                6 => &Tile256<Rows6, No>, 7 => &Tile256<Rows7, No>, 8 => &Tile256<Rows8, No>, 9 => &Tile256<Rows9, No>, 10 => &Tile256<Rows10, No>,
                _ => throw new UnreachableException($"{rows} rows: IsFused decides"),
            });

    /// <summary>
    /// One tile of 16 columns (the first <paramref name="cols"/>, through a mask, with TMasked) over <paramref name="count"/>
    /// rows of W: dx[:, tile] += dz[:, j] W[j, tile] (from 0 with <paramref name="first"/>), then
    /// W[j, tile] = alpha sum_i dz[i, j] x[i, tile] + beta W[j, tile]. a: dz^T [count x 12], rows of 12.
    /// dx's sums run over j in order, one FMA a step, as a GEMM's k loop does; W's over i in two chains (even and odd i),
    /// so a row's update waits on 6 FMAs, not 12.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile<TRows, TMasked>(int count, float* a, float* w, int ldw, float* x, float* dx, int ldx, float alpha, float beta, bool first, int cols)
        where TRows : struct, IStaticCount where TMasked : struct, IStaticFlag
    {
        var mask = MaskedLanes.LeadingLanes(cols);
        Vector512<float> d0 = default, d1 = default, d2 = default, d3 = default, d4 = default, d5 = default, d6 = default, d7 = default, d8 = default, d9 = default, d10 = default, d11 = default;
        Vector512<float> x0 = default, x1 = default, x2 = default, x3 = default, x4 = default, x5 = default, x6 = default, x7 = default, x8 = default, x9 = default, x10 = default, x11 = default;
        if (TRows.Value > 0) x0 = MaskedLanes.Load<TMasked>(x + 0L * ldx, mask);
        if (TRows.Value > 1) x1 = MaskedLanes.Load<TMasked>(x + 1L * ldx, mask);
        if (TRows.Value > 2) x2 = MaskedLanes.Load<TMasked>(x + 2L * ldx, mask);
        if (TRows.Value > 3) x3 = MaskedLanes.Load<TMasked>(x + 3L * ldx, mask);
        if (TRows.Value > 4) x4 = MaskedLanes.Load<TMasked>(x + 4L * ldx, mask);
        if (TRows.Value > 5) x5 = MaskedLanes.Load<TMasked>(x + 5L * ldx, mask);
        if (TRows.Value > 6) x6 = MaskedLanes.Load<TMasked>(x + 6L * ldx, mask);
        if (TRows.Value > 7) x7 = MaskedLanes.Load<TMasked>(x + 7L * ldx, mask);
        if (TRows.Value > 8) x8 = MaskedLanes.Load<TMasked>(x + 8L * ldx, mask);
        if (TRows.Value > 9) x9 = MaskedLanes.Load<TMasked>(x + 9L * ldx, mask);
        if (TRows.Value > 10) x10 = MaskedLanes.Load<TMasked>(x + 10L * ldx, mask);
        if (TRows.Value > 11) x11 = MaskedLanes.Load<TMasked>(x + 11L * ldx, mask);
        if (!first)
        {
            if (TRows.Value > 0) d0 = MaskedLanes.Load<TMasked>(dx + 0L * ldx, mask);
            if (TRows.Value > 1) d1 = MaskedLanes.Load<TMasked>(dx + 1L * ldx, mask);
            if (TRows.Value > 2) d2 = MaskedLanes.Load<TMasked>(dx + 2L * ldx, mask);
            if (TRows.Value > 3) d3 = MaskedLanes.Load<TMasked>(dx + 3L * ldx, mask);
            if (TRows.Value > 4) d4 = MaskedLanes.Load<TMasked>(dx + 4L * ldx, mask);
            if (TRows.Value > 5) d5 = MaskedLanes.Load<TMasked>(dx + 5L * ldx, mask);
            if (TRows.Value > 6) d6 = MaskedLanes.Load<TMasked>(dx + 6L * ldx, mask);
            if (TRows.Value > 7) d7 = MaskedLanes.Load<TMasked>(dx + 7L * ldx, mask);
            if (TRows.Value > 8) d8 = MaskedLanes.Load<TMasked>(dx + 8L * ldx, mask);
            if (TRows.Value > 9) d9 = MaskedLanes.Load<TMasked>(dx + 9L * ldx, mask);
            if (TRows.Value > 10) d10 = MaskedLanes.Load<TMasked>(dx + 10L * ldx, mask);
            if (TRows.Value > 11) d11 = MaskedLanes.Load<TMasked>(dx + 11L * ldx, mask);
        }
        var va = Vector512.Create(alpha);
        var vb = Vector512.Create(beta);
        for (int j = 0; j < count; j++, a += MaxRows, w += ldw)
        {
            Sse.Prefetch0(w + PrefetchAhead);              // a hint: never faults, even past the end of W
            var wj = MaskedLanes.Load<TMasked>(w, mask);
            Vector512<float> ua = default, ub = default;
            if (TRows.Value > 0) { var s = Vector512.Create(a[0]); d0 = Fma(s, wj, d0); ua = Fma(s, x0, ua); }
            if (TRows.Value > 1) { var s = Vector512.Create(a[1]); d1 = Fma(s, wj, d1); ub = Fma(s, x1, ub); }
            if (TRows.Value > 2) { var s = Vector512.Create(a[2]); d2 = Fma(s, wj, d2); ua = Fma(s, x2, ua); }
            if (TRows.Value > 3) { var s = Vector512.Create(a[3]); d3 = Fma(s, wj, d3); ub = Fma(s, x3, ub); }
            if (TRows.Value > 4) { var s = Vector512.Create(a[4]); d4 = Fma(s, wj, d4); ua = Fma(s, x4, ua); }
            if (TRows.Value > 5) { var s = Vector512.Create(a[5]); d5 = Fma(s, wj, d5); ub = Fma(s, x5, ub); }
            if (TRows.Value > 6) { var s = Vector512.Create(a[6]); d6 = Fma(s, wj, d6); ua = Fma(s, x6, ua); }
            if (TRows.Value > 7) { var s = Vector512.Create(a[7]); d7 = Fma(s, wj, d7); ub = Fma(s, x7, ub); }
            if (TRows.Value > 8) { var s = Vector512.Create(a[8]); d8 = Fma(s, wj, d8); ua = Fma(s, x8, ua); }
            if (TRows.Value > 9) { var s = Vector512.Create(a[9]); d9 = Fma(s, wj, d9); ub = Fma(s, x9, ub); }
            if (TRows.Value > 10) { var s = Vector512.Create(a[10]); d10 = Fma(s, wj, d10); ua = Fma(s, x10, ua); }
            if (TRows.Value > 11) { var s = Vector512.Create(a[11]); d11 = Fma(s, wj, d11); ub = Fma(s, x11, ub); }
            MaskedLanes.Store<TMasked>(w, Vector512.FusedMultiplyAdd(ua + ub, va, wj * vb), mask);
        }
        if (TRows.Value > 0) MaskedLanes.Store<TMasked>(dx + 0L * ldx, d0, mask);
        if (TRows.Value > 1) MaskedLanes.Store<TMasked>(dx + 1L * ldx, d1, mask);
        if (TRows.Value > 2) MaskedLanes.Store<TMasked>(dx + 2L * ldx, d2, mask);
        if (TRows.Value > 3) MaskedLanes.Store<TMasked>(dx + 3L * ldx, d3, mask);
        if (TRows.Value > 4) MaskedLanes.Store<TMasked>(dx + 4L * ldx, d4, mask);
        if (TRows.Value > 5) MaskedLanes.Store<TMasked>(dx + 5L * ldx, d5, mask);
        if (TRows.Value > 6) MaskedLanes.Store<TMasked>(dx + 6L * ldx, d6, mask);
        if (TRows.Value > 7) MaskedLanes.Store<TMasked>(dx + 7L * ldx, d7, mask);
        if (TRows.Value > 8) MaskedLanes.Store<TMasked>(dx + 8L * ldx, d8, mask);
        if (TRows.Value > 9) MaskedLanes.Store<TMasked>(dx + 9L * ldx, d9, mask);
        if (TRows.Value > 10) MaskedLanes.Store<TMasked>(dx + 10L * ldx, d10, mask);
        if (TRows.Value > 11) MaskedLanes.Store<TMasked>(dx + 11L * ldx, d11, mask);
    }

    /// <summary>
    /// <see cref="Tile{TRows, TMasked}"/> at AVX2: 8 columns, up to <see cref="MaxRows256"/> rows. dx's rows stay in
    /// registers as there; x's rows do not fit beside them and are read from L1 by each update FMA.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile256<TRows, TMasked>(int count, float* a, float* w, int ldw, float* x, float* dx, int ldx, float alpha, float beta, bool first, int cols)
        where TRows : struct, IStaticCount where TMasked : struct, IStaticFlag
    {
        var mask = MaskedLanes.LeadingLanes256(cols);
        Vector256<float> d0 = default, d1 = default, d2 = default, d3 = default, d4 = default, d5 = default, d6 = default, d7 = default, d8 = default, d9 = default;
        if (!first)
        {
            if (TRows.Value > 0) d0 = MaskedLanes.Load256<TMasked>(dx + 0L * ldx, mask);
            if (TRows.Value > 1) d1 = MaskedLanes.Load256<TMasked>(dx + 1L * ldx, mask);
            if (TRows.Value > 2) d2 = MaskedLanes.Load256<TMasked>(dx + 2L * ldx, mask);
            if (TRows.Value > 3) d3 = MaskedLanes.Load256<TMasked>(dx + 3L * ldx, mask);
            if (TRows.Value > 4) d4 = MaskedLanes.Load256<TMasked>(dx + 4L * ldx, mask);
            if (TRows.Value > 5) d5 = MaskedLanes.Load256<TMasked>(dx + 5L * ldx, mask);
            if (TRows.Value > 6) d6 = MaskedLanes.Load256<TMasked>(dx + 6L * ldx, mask);
            if (TRows.Value > 7) d7 = MaskedLanes.Load256<TMasked>(dx + 7L * ldx, mask);
            if (TRows.Value > 8) d8 = MaskedLanes.Load256<TMasked>(dx + 8L * ldx, mask);
            if (TRows.Value > 9) d9 = MaskedLanes.Load256<TMasked>(dx + 9L * ldx, mask);
        }
        var va = Vector256.Create(alpha);
        var vb = Vector256.Create(beta);
        for (int j = 0; j < count; j++, a += MaxRows, w += ldw)
        {
            Sse.Prefetch0(w + PrefetchAhead);              // a hint: never faults, even past the end of W
            var wj = MaskedLanes.Load256<TMasked>(w, mask);
            Vector256<float> ua = default, ub = default;
            if (TRows.Value > 0) { var s = Vector256.Create(a[0]); d0 = Fma(s, wj, d0); ua = Fma(s, MaskedLanes.Load256<TMasked>(x + 0L * ldx, mask), ua); }
            if (TRows.Value > 1) { var s = Vector256.Create(a[1]); d1 = Fma(s, wj, d1); ub = Fma(s, MaskedLanes.Load256<TMasked>(x + 1L * ldx, mask), ub); }
            if (TRows.Value > 2) { var s = Vector256.Create(a[2]); d2 = Fma(s, wj, d2); ua = Fma(s, MaskedLanes.Load256<TMasked>(x + 2L * ldx, mask), ua); }
            if (TRows.Value > 3) { var s = Vector256.Create(a[3]); d3 = Fma(s, wj, d3); ub = Fma(s, MaskedLanes.Load256<TMasked>(x + 3L * ldx, mask), ub); }
            if (TRows.Value > 4) { var s = Vector256.Create(a[4]); d4 = Fma(s, wj, d4); ua = Fma(s, MaskedLanes.Load256<TMasked>(x + 4L * ldx, mask), ua); }
            if (TRows.Value > 5) { var s = Vector256.Create(a[5]); d5 = Fma(s, wj, d5); ub = Fma(s, MaskedLanes.Load256<TMasked>(x + 5L * ldx, mask), ub); }
            if (TRows.Value > 6) { var s = Vector256.Create(a[6]); d6 = Fma(s, wj, d6); ua = Fma(s, MaskedLanes.Load256<TMasked>(x + 6L * ldx, mask), ua); }
            if (TRows.Value > 7) { var s = Vector256.Create(a[7]); d7 = Fma(s, wj, d7); ub = Fma(s, MaskedLanes.Load256<TMasked>(x + 7L * ldx, mask), ub); }
            if (TRows.Value > 8) { var s = Vector256.Create(a[8]); d8 = Fma(s, wj, d8); ua = Fma(s, MaskedLanes.Load256<TMasked>(x + 8L * ldx, mask), ua); }
            if (TRows.Value > 9) { var s = Vector256.Create(a[9]); d9 = Fma(s, wj, d9); ub = Fma(s, MaskedLanes.Load256<TMasked>(x + 9L * ldx, mask), ub); }
            MaskedLanes.Store256<TMasked>(w, Vector256.FusedMultiplyAdd(ua + ub, va, wj * vb), mask);
        }
        if (TRows.Value > 0) MaskedLanes.Store256<TMasked>(dx + 0L * ldx, d0, mask);
        if (TRows.Value > 1) MaskedLanes.Store256<TMasked>(dx + 1L * ldx, d1, mask);
        if (TRows.Value > 2) MaskedLanes.Store256<TMasked>(dx + 2L * ldx, d2, mask);
        if (TRows.Value > 3) MaskedLanes.Store256<TMasked>(dx + 3L * ldx, d3, mask);
        if (TRows.Value > 4) MaskedLanes.Store256<TMasked>(dx + 4L * ldx, d4, mask);
        if (TRows.Value > 5) MaskedLanes.Store256<TMasked>(dx + 5L * ldx, d5, mask);
        if (TRows.Value > 6) MaskedLanes.Store256<TMasked>(dx + 6L * ldx, d6, mask);
        if (TRows.Value > 7) MaskedLanes.Store256<TMasked>(dx + 7L * ldx, d7, mask);
        if (TRows.Value > 8) MaskedLanes.Store256<TMasked>(dx + 8L * ldx, d8, mask);
        if (TRows.Value > 9) MaskedLanes.Store256<TMasked>(dx + 9L * ldx, d9, mask);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Fma(Vector256<float> a, Vector256<float> b, Vector256<float> c) => Vector256.FusedMultiplyAdd(a, b, c);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Fma(Vector512<float> a, Vector512<float> b, Vector512<float> c) => Vector512.FusedMultiplyAdd(a, b, c);
}
