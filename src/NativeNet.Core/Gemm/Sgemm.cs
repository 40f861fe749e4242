using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using NativeNet.Core.Memory;
using NativeNet.Core.Threading;

namespace NativeNet.Core.Gemm;

/// <summary>
/// Single-precision GEMM on row-major matrices:
/// <c>C[m x n] = alpha * op(A)[m x k] * op(B)[k x n] + beta * C</c>, where op(X) is X or its transpose.
/// Storage: A is m x k (lda >= k) or, transposed, k x m (lda >= m); B is k x n (ldb >= n) or, transposed,
/// n x k (ldb >= k); C is m x n (ldc >= n). When beta == 0, C is only written (it may hold NaN).
/// <para>
/// Large shapes take the BLIS path: the five loops over NC / KC / MC blocks with packed panels of A and
/// B feeding a register-blocked micro-kernel (<see cref="GemmKernelKind"/>). Very small shapes, and
/// single-row products, take a direct path where packing would cost more than it saves.
/// Parallel runs split C into disjoint column or row ranges, one per worker; every element of C is
/// computed by the same sequence of operations whatever the worker count, so results are
/// bit-identical across thread counts.
/// </para>
/// </summary>
public static unsafe class Sgemm
{
    /// <summary>Below this many multiply-adds a product runs on one thread: waking workers costs more.</summary>
    public const long ParallelThreshold = 1L << 17;

    /// <summary>Products with at most this many multiply-adds, or with one row, skip packing.</summary>
    public const long DirectThreshold = 1L << 11;

    /// <summary>The micro-kernel that <see cref="GemmKernelKind.Auto"/> resolves to on this machine.</summary>
    public static GemmKernelKind DefaultKernel => GemmKernel.DefaultKind;

    /// <summary>Whether this CPU (and the DOTNET_Enable* settings) can run <paramref name="kind"/>.</summary>
    public static bool IsSupported(GemmKernelKind kind) => GemmKernel.IsSupported(kind);

    public static void Multiply(bool transA, bool transB, int m, int n, int k, float alpha,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, float beta, Span<float> c, int ldc,
        WorkerPool? pool = null, GemmKernelKind kernel = GemmKernelKind.Auto)
    {
        Validate(transA, transB, m, n, k, a.Length, lda, b.Length, ldb, c.Length, ldc);
        fixed (float* pa = a, pb = b, pc = c)
            MultiplyUnchecked(transA, transB, m, n, k, alpha, pa, lda, pb, ldb, beta, pc, ldc, pool, kernel);
    }

    /// <summary>Checks every dimension, leading dimension and length; throws <see cref="ArgumentException"/> naming the shapes.</summary>
    public static void Validate(bool transA, bool transB, int m, int n, int k, long aLength, int lda, long bLength, int ldb, long cLength, int ldc)
    {
        if (m < 0 || n < 0 || k < 0)
            throw new ArgumentException($"GEMM dimensions must be non-negative: m={m}, n={n}, k={k}.");
        Check("A", transA ? k : m, transA ? m : k, aLength, lda, transA ? "k x m" : "m x k");
        Check("B", transB ? n : k, transB ? k : n, bLength, ldb, transB ? "n x k" : "k x n");
        Check("C", m, n, cLength, ldc, "m x n");

        static void Check(string name, int rows, int cols, long length, int ld, string shape)
        {
            if (ld < Math.Max(1, cols))
                throw new ArgumentException($"GEMM: leading dimension of {name} is {ld}, but {name} is {shape} = {rows} x {cols}, so it must be at least {Math.Max(1, cols)}.", "ld" + name.ToLowerInvariant());
            long need = rows == 0 || cols == 0 ? 0 : (long)(rows - 1) * ld + cols;
            if (length < need)
                throw new ArgumentException($"GEMM: {name} is {shape} = {rows} x {cols} with leading dimension {ld} and needs {need} elements, but its span has {length}.", name.ToLowerInvariant());
        }
    }

    /// <summary>The same product on raw pointers; the caller has validated the shapes (see <see cref="Validate"/>).</summary>
    public static void MultiplyUnchecked(bool transA, bool transB, int m, int n, int k, float alpha,
        float* a, int lda, float* b, int ldb, float beta, float* c, int ldc,
        WorkerPool? pool = null, GemmKernelKind kernel = GemmKernelKind.Auto)
    {
        if (m == 0 || n == 0) return;
        if (k == 0 || alpha == 0f)
        {
            ScaleC(m, n, beta, c, ldc);
            return;
        }
        var op = new Operands(transA, transB, a, lda, b, ldb, c, ldc, alpha, beta);
        long macs = (long)m * n * k;
        if (m == 1 || macs <= DirectThreshold)
        {
            Direct(ref op, 0, m, 0, n, k);
            return;
        }
        var gk = GemmKernel.For(kernel);
        pool ??= WorkerPool.Shared;
        int workers = macs < ParallelThreshold ? 1 : pool.DegreeOfParallelism;
        var work = new PackedWork(op, m, n, k, gk, workers);
        if (work.Workers == 1) work.Execute(0, 1);
        else pool.Run(ref work, work.Workers);
    }

    /// <summary>A(i,p), B(p,j), C(i,j) as base pointers plus row/column strides.</summary>
    private readonly struct Operands(bool transA, bool transB, float* a, int lda, float* b, int ldb, float* c, int ldc, float alpha, float beta)
    {
        public readonly float* A = a, B = b, C = c;
        public readonly int ARow = transA ? 1 : lda, ACol = transA ? lda : 1;   // A(i,p) = A[i*ARow + p*ACol]
        public readonly int BRow = transB ? 1 : ldb, BCol = transB ? ldb : 1;   // B(p,j) = B[p*BRow + j*BCol]
        public readonly int Ldc = ldc;
        public readonly float Alpha = alpha, Beta = beta;
    }

    private static void ScaleC(int m, int n, float beta, float* c, int ldc)
    {
        for (int i = 0; i < m; i++)
        {
            var row = new Span<float>(c + (long)i * ldc, n);
            if (beta == 0f) row.Clear();
            else if (beta != 1f) TensorPrimitives.Multiply(row, beta, row);
        }
    }

    /// <summary>
    /// The unpacked path for tiny or single-row products. With B's rows contiguous it accumulates
    /// scaled rows of B into C (axpy); with A's rows and B's columns contiguous it takes dot products.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Direct(ref Operands op, int i0, int i1, int j0, int j1, int k)
    {
        int n = j1 - j0;
        for (int i = i0; i < i1; i++)
        {
            float* ci = op.C + (long)i * op.Ldc + j0;
            var crow = new Span<float>(ci, n);
            if (op.BCol == 1)
            {
                if (op.Beta == 0f) crow.Clear();
                else if (op.Beta != 1f) TensorPrimitives.Multiply(crow, op.Beta, crow);
                for (int p = 0; p < k; p++)
                {
                    float s = op.Alpha * op.A[(long)i * op.ARow + (long)p * op.ACol];
                    TensorPrimitives.MultiplyAdd(new ReadOnlySpan<float>(op.B + (long)p * op.BRow + j0, n), s, crow, crow);
                }
            }
            else if (op.ACol == 1 && op.BRow == 1)
            {
                var arow = new ReadOnlySpan<float>(op.A + (long)i * op.ARow, k);
                for (int j = 0; j < n; j++)
                {
                    float dot = op.Alpha * TensorPrimitives.Dot(arow, new ReadOnlySpan<float>(op.B + (long)(j0 + j) * op.BCol, k));
                    ci[j] = op.Beta == 0f ? dot : dot + op.Beta * ci[j];
                }
            }
            else
            {
                for (int j = 0; j < n; j++)
                {
                    float sum = 0f;
                    for (int p = 0; p < k; p++)
                        sum = MathF.FusedMultiplyAdd(op.A[(long)i * op.ARow + (long)p * op.ACol], op.B[(long)p * op.BRow + (long)(j0 + j) * op.BCol], sum);
                    ci[j] = op.Beta == 0f ? op.Alpha * sum : op.Alpha * sum + op.Beta * ci[j];
                }
            }
        }
    }

    /// <summary>
    /// The BLIS five loops over one worker's slice of C. Work is split along n when C is wide and
    /// along m otherwise, in whole micro-tiles, so each worker packs its own panels and writes its own part of C.
    /// </summary>
    private struct PackedWork : IParallelWork
    {
        private readonly Operands _op;
        private readonly int _m, _n, _k;
        private readonly int _mr, _nr, _mc, _kc, _nc;
        private readonly delegate*<int, float*, float*, float*, int, float, float, void> _tile;
        private readonly bool _splitN;
        public readonly int Workers;

        public PackedWork(Operands op, int m, int n, int k, GemmKernel gk, int workers)
        {
            _op = op; _m = m; _n = n; _k = k;
            _mr = gk.MR; _nr = gk.NR; _mc = gk.MC; _kc = gk.KC; _nc = gk.NC;
            _tile = gk.Tile;
            int nTiles = (n + _nr - 1) / _nr, mTiles = (m + _mr - 1) / _mr;
            _splitN = nTiles >= workers && (nTiles >= mTiles || mTiles < workers);
            Workers = Math.Max(1, Math.Min(workers, _splitN ? nTiles : mTiles));
        }

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
            for (int jc = n0; jc < n1; jc += _nc)
            {
                int nc = Math.Min(_nc, n1 - jc);
                for (int pc = 0; pc < _k; pc += _kc)
                {
                    int kc = Math.Min(_kc, _k - pc);
                    float beta = pc == 0 ? _op.Beta : 1f;
                    PackB(packB, pc, kc, jc, nc);
                    for (int ic = m0; ic < m1; ic += _mc)
                    {
                        int mc = Math.Min(_mc, m1 - ic);
                        PackA(packA, ic, mc, pc, kc);
                        for (int jr = 0; jr < nc; jr += _nr)
                        {
                            int nr = Math.Min(_nr, nc - jr);
                            float* bp = packB + (long)jr * kc;
                            for (int ir = 0; ir < mc; ir += _mr)
                            {
                                int mr = Math.Min(_mr, mc - ir);
                                float* ap = packA + (long)ir * kc;
                                float* cij = _op.C + (long)(ic + ir) * _op.Ldc + jc + jr;
                                if (mr == _mr && nr == _nr)
                                    _tile(kc, ap, bp, cij, _op.Ldc, _op.Alpha, beta);
                                else
                                    EdgeTile(kc, ap, bp, cij, mr, nr, beta, edge);
                            }
                        }
                    }
                }
            }
        }

        /// <summary>A partial tile: the kernel writes a full tile to scratch, then the valid mr x nr corner merges into C.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void EdgeTile(int kc, float* ap, float* bp, float* c, int mr, int nr, float beta, float* scratch)
        {
            float* tile = (float*)(((nint)scratch + 63) & ~(nint)63);
            _tile(kc, ap, bp, tile, _nr, _op.Alpha, 0f);
            for (int i = 0; i < mr; i++)
            {
                float* ci = c + (long)i * _op.Ldc;
                float* ti = tile + i * _nr;
                for (int j = 0; j < nr; j++)
                    ci[j] = beta == 0f ? ti[j] : ti[j] + beta * ci[j];
            }
        }

        /// <summary>Packs A[ic.., pc..] (mc x kc) as micro-panels of MR rows: panel[p * MR + i], zero-padded.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private readonly void PackA(float* dst, int ic, int mc, int pc, int kc)
        {
            for (int ir = 0; ir < mc; ir += _mr)
                PackPanel(dst + (long)ir * kc, _op.A + (long)(ic + ir) * _op.ARow + (long)pc * _op.ACol,
                    _mr, Math.Min(_mr, mc - ir), kc, along: _op.ACol, across: _op.ARow);
        }

        /// <summary>Packs B[pc.., jc..] (kc x nc) as micro-panels of NR columns: panel[p * NR + j], zero-padded.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private readonly void PackB(float* dst, int pc, int kc, int jc, int nc)
        {
            for (int jr = 0; jr < nc; jr += _nr)
                PackPanel(dst + (long)jr * kc, _op.B + (long)pc * _op.BRow + (long)(jc + jr) * _op.BCol,
                    _nr, Math.Min(_nr, nc - jr), kc, along: _op.BRow, across: _op.BCol);
        }

        private static int RoundUpTo(int x, int to) => (x + to - 1) / to * to;
    }

    /// <summary>
    /// Packs one micro-panel: dst[p * width + i] = src[p * along + i * across] for i &lt; valid, 0 for the padding
    /// rows up to width. Two layouts occur: contiguous across the panel (copy a row of floats per p) and contiguous
    /// along k (each of the valid source rows is read once, written with stride width).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackPanel(float* dst, float* src, int width, int valid, int kc, long along, long across)
    {
        if (across == 1)
        {
            for (int p = 0; p < kc; p++, src += along, dst += width)
            {
                int i = 0;
                if (Vector512.IsHardwareAccelerated)
                    for (; i <= valid - 16; i += 16) Vector512.Store(Vector512.Load(src + i), dst + i);
                for (; i <= valid - 8; i += 8) Vector256.Store(Vector256.Load(src + i), dst + i);
                for (; i < valid; i++) dst[i] = src[i];
                for (; i < width; i++) dst[i] = 0f;
            }
            return;
        }
        int i0 = 0;
        if (along == 1 && Avx.IsSupported)
            for (; i0 <= valid - 8; i0 += 8) Transpose8Rows(dst + i0, src + i0 * across, width, kc, across);
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
    /// dst[p * width + i] = src[i * across + p] for 8 rows i and every p &lt; kc: 8 x 8 blocks transposed in registers
    /// (unpack, shuffle, lane permute), so each store writes 8 consecutive packed floats.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Transpose8Rows(float* dst, float* src, int width, int kc, long across)
    {
        int p = 0;
        for (; p <= kc - 8; p += 8)
        {
            float* s = src + p;
            var r0 = Avx.LoadVector256(s); var r1 = Avx.LoadVector256(s + across);
            var r2 = Avx.LoadVector256(s + 2 * across); var r3 = Avx.LoadVector256(s + 3 * across);
            var r4 = Avx.LoadVector256(s + 4 * across); var r5 = Avx.LoadVector256(s + 5 * across);
            var r6 = Avx.LoadVector256(s + 6 * across); var r7 = Avx.LoadVector256(s + 7 * across);
            var t0 = Avx.UnpackLow(r0, r1); var t1 = Avx.UnpackHigh(r0, r1);
            var t2 = Avx.UnpackLow(r2, r3); var t3 = Avx.UnpackHigh(r2, r3);
            var t4 = Avx.UnpackLow(r4, r5); var t5 = Avx.UnpackHigh(r4, r5);
            var t6 = Avx.UnpackLow(r6, r7); var t7 = Avx.UnpackHigh(r6, r7);
            var u0 = Avx.Shuffle(t0, t2, 0x44); var u1 = Avx.Shuffle(t0, t2, 0xEE);
            var u2 = Avx.Shuffle(t1, t3, 0x44); var u3 = Avx.Shuffle(t1, t3, 0xEE);
            var u4 = Avx.Shuffle(t4, t6, 0x44); var u5 = Avx.Shuffle(t4, t6, 0xEE);
            var u6 = Avx.Shuffle(t5, t7, 0x44); var u7 = Avx.Shuffle(t5, t7, 0xEE);
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
}
