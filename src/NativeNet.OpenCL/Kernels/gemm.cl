// C[m x n] = alpha op(A) op(B) + beta C, all row-major and tight:
//   A is m x k (lda = k), or with transA k x m (lda = m);  B is k x n (ldb = n), or with transB n x k (ldb = k).
// Two kernels with the same arguments: sgemm (tiled, for GPUs) and sgemm_direct (for CPU devices), below.
//
// Split K: a launch may have a third grid dimension of S slices. Slice z sums depths [z*kChunk, (z+1)*kChunk)
// and writes its m x n result at C + z*m*n (the host passes a scratch buffer and beta = 0); sum_slices then
// adds the S results in slice order into the real C. One slice (kChunk >= k) is the plain product. This gives
// the work-groups to products with a small C and a long K (a convolution's weight gradient: 20 x 25 x 36,864
// for conv1 at batch 64), which would otherwise run on one or a few compute units.
//
// sgemm: each work-group of GEMM_RT x GEMM_RT work-items computes a GEMM_TILE x GEMM_TILE block of C; each
// work-item keeps GEMM_WPT x 4 accumulators in registers (GEMM_WPT must be 4). K advances in GEMM_RT-deep
// panels staged in local memory; loads are zero-padded outside the matrices, so any m, n, k works.
// Both kernels: beta == 0 never reads C.

#define GEMM_TILE (GEMM_RT * GEMM_WPT)
#define GEMM_TK GEMM_RT
#define GEMM_LOADS (GEMM_TILE * GEMM_TK / (GEMM_RT * GEMM_RT))

__kernel __attribute__((reqd_work_group_size(GEMM_RT, GEMM_RT, 1)))
void sgemm(const int transA, const int transB, const int m, const int n, const int k, const float alpha,
           __global const float* A, const int offA, __global const float* B, const int offB,
           const float beta, __global float* C, const int offC, const int kChunk)
{
    __local float As[GEMM_TK][GEMM_TILE + 1];
    __local float Bs[GEMM_TK][GEMM_TILE + 4]; // rows stay 16-byte aligned for the float4 reads

    const int tx = (int)get_local_id(0), ty = (int)get_local_id(1);
    const int tid = ty * GEMM_RT + tx;
    const int row0 = (int)get_group_id(1) * GEMM_TILE, col0 = (int)get_group_id(0) * GEMM_TILE;
    const int lda = transA ? m : k, ldb = transB ? k : n;
    const int z = (int)get_group_id(2), kBegin = z * kChunk, kEnd = kBegin + min(kChunk, k - kBegin);
    A += offA; B += offB; C += offC + (long)z * m * n;

    // Work-item (tx, ty) owns rows ty + RT*i and the GEMM_WPT consecutive columns tx*WPT + j: the columns form
    // one float4, so the inner product is explicit 4-wide SIMD on CPUs and 128-bit local loads on GPUs.
    float4 acc[GEMM_WPT];
    for (int i = 0; i < GEMM_WPT; i++) acc[i] = (float4)(0.0f);

    for (int p0 = kBegin; p0 < kEnd; p0 += GEMM_TK)
    {
        for (int l = 0; l < GEMM_LOADS; l++)
        {
            const int idx = tid + l * GEMM_RT * GEMM_RT;
            // A panel: rows row0.., depths p0..; walk the contiguous direction of A with consecutive ids.
            int i, p;
            if (transA) { i = idx % GEMM_TILE; p = idx / GEMM_TILE; }
            else        { p = idx % GEMM_TK;   i = idx / GEMM_TK; }
            const int gi = row0 + i, gp = p0 + p;
            As[p][i] = (gi < m && gp < kEnd) ? A[transA ? gp * lda + gi : gi * lda + gp] : 0.0f;
            // B panel: depths p0.., columns col0..
            int q, j;
            if (transB) { q = idx % GEMM_TK;   j = idx / GEMM_TK; }
            else        { j = idx % GEMM_TILE; q = idx / GEMM_TILE; }
            const int gq = p0 + q, gj = col0 + j;
            Bs[q][j] = (gq < kEnd && gj < n) ? B[transB ? gj * ldb + gq : gq * ldb + gj] : 0.0f;
        }
        barrier(CLK_LOCAL_MEM_FENCE);

        for (int p = 0; p < GEMM_TK; p++)
        {
            const float4 b = vload4(0, &Bs[p][tx * GEMM_WPT]);
            for (int i = 0; i < GEMM_WPT; i++) acc[i] = mad((float4)(As[p][ty + GEMM_RT * i]), b, acc[i]);
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }

    const int gj0 = col0 + tx * GEMM_WPT;
    for (int i = 0; i < GEMM_WPT; i++)
    {
        const int gi = row0 + ty + GEMM_RT * i;
        if (gi >= m || gj0 >= n) break;
        __global float* c = C + gi * n + gj0;
        const float4 v = alpha * acc[i];
        if (gj0 + GEMM_WPT <= n)
            vstore4(beta == 0.0f ? v : v + beta * vload4(0, c), 0, c);
        else
        {
            const float vs[4] = { v.s0, v.s1, v.s2, v.s3 };
            for (int j = 0; j < n - gj0; j++) c[j] = beta == 0.0f ? vs[j] : vs[j] + beta * c[j];
        }
    }
}

// The same product for CPU devices (PoCL and the like): no local memory and no barriers, so the
// compiler keeps the accumulators in registers; the caches do the blocking. Each work-item computes a
// 4 x 8 block of C (rows i0.., columns j0..) with float8 arithmetic. Rows and columns past the edge
// are clamped for loading (always in bounds) and dropped when storing.
__kernel void sgemm_direct(const int transA, const int transB, const int m, const int n, const int k, const float alpha,
                           __global const float* A, const int offA, __global const float* B, const int offB,
                           const float beta, __global float* C, const int offC, const int kChunk)
{
    const int j0 = (int)get_global_id(0) * 8, i0 = (int)get_global_id(1) * 4;
    if (i0 >= m || j0 >= n) return;
    const int lda = transA ? m : k, ldb = transB ? k : n;
    const int z = (int)get_global_id(2), kBegin = z * kChunk, kEnd = kBegin + min(kChunk, k - kBegin);
    A += offA; B += offB; C += offC + (long)z * m * n;
    const int r1 = min(i0 + 1, m - 1), r2 = min(i0 + 2, m - 1), r3 = min(i0 + 3, m - 1);
    const bool fullCols = j0 + 8 <= n;
    float8 c0 = (float8)(0.0f), c1 = c0, c2 = c0, c3 = c0;
    if (!transA && !transB && fullCols)
    {
        __global const float* a0 = A + i0 * lda; __global const float* a1 = A + r1 * lda;
        __global const float* a2 = A + r2 * lda; __global const float* a3 = A + r3 * lda;
        for (int p = kBegin; p < kEnd; p++)
        {
            const float8 b = vload8(0, B + p * ldb + j0);
            c0 = mad((float8)(a0[p]), b, c0); c1 = mad((float8)(a1[p]), b, c1);
            c2 = mad((float8)(a2[p]), b, c2); c3 = mad((float8)(a3[p]), b, c3);
        }
    }
    else
    {
        int cj[8];
        for (int j = 0; j < 8; j++) cj[j] = min(j0 + j, n - 1);
        for (int p = kBegin; p < kEnd; p++)
        {
            float8 b;
            if (!transB && fullCols) b = vload8(0, B + p * ldb + j0);
            else if (!transB)
                b = (float8)(B[p * ldb + cj[0]], B[p * ldb + cj[1]], B[p * ldb + cj[2]], B[p * ldb + cj[3]],
                             B[p * ldb + cj[4]], B[p * ldb + cj[5]], B[p * ldb + cj[6]], B[p * ldb + cj[7]]);
            else
                b = (float8)(B[cj[0] * ldb + p], B[cj[1] * ldb + p], B[cj[2] * ldb + p], B[cj[3] * ldb + p],
                             B[cj[4] * ldb + p], B[cj[5] * ldb + p], B[cj[6] * ldb + p], B[cj[7] * ldb + p]);
            float a0, a1, a2, a3;
            if (transA) { __global const float* ap = A + p * lda; a0 = ap[i0]; a1 = ap[r1]; a2 = ap[r2]; a3 = ap[r3]; }
            else { a0 = A[i0 * lda + p]; a1 = A[r1 * lda + p]; a2 = A[r2 * lda + p]; a3 = A[r3 * lda + p]; }
            c0 = mad((float8)(a0), b, c0); c1 = mad((float8)(a1), b, c1);
            c2 = mad((float8)(a2), b, c2); c3 = mad((float8)(a3), b, c3);
        }
    }
    const int rows = min(4, m - i0), cols = min(8, n - j0);
    for (int r = 0; r < rows; r++)
    {
        const float8 v = alpha * (r == 0 ? c0 : r == 1 ? c1 : r == 2 ? c2 : c3);
        __global float* c = C + (i0 + r) * n + j0;
        if (cols == 8)
            vstore8(beta == 0.0f ? v : v + beta * vload8(0, c), 0, c);
        else
        {
            const float vs[8] = { v.s0, v.s1, v.s2, v.s3, v.s4, v.s5, v.s6, v.s7 };
            for (int j = 0; j < cols; j++) c[j] = beta == 0.0f ? vs[j] : vs[j] + beta * c[j];
        }
    }
}

// C[i] = P[i] + P[mn + i] + ... + P[(slices-1)*mn + i] (+ beta C[i]): the split-K results, added in slice order
// so the sum is the same on every run. beta == 0 never reads C.
__kernel void sum_slices(__global const float* P, const int slices, const int mn, const float beta,
                         __global float* C, const int offC)
{
    C += offC;
    for (int i = (int)get_global_id(0); i < mn; i += (int)get_global_size(0))
    {
        float s = P[i];
        for (int z = 1; z < slices; z++) s += P[(long)z * mn + i];
        C[i] = beta == 0.0f ? s : s + beta * C[i];
    }
}
