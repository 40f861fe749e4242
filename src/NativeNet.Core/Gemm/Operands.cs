namespace NativeNet.Core.Gemm;

/// <summary>
/// One product's operands as base pointers and strides, whatever the transposes: A(i,p) = A[i * ARow + p * ACol],
/// B(p,j) = B[p * BRow + j * BCol], C(i,j) = C[i * Ldc + j], with alpha, beta and the level the kernels run at.
/// </summary>
internal readonly unsafe struct Operands
{
    public readonly float* A, B, C;
    public readonly int ARow, ACol;
    public readonly int BRow, BCol;
    public readonly int Ldc;
    public readonly float Alpha, Beta;
    public readonly CpuLevel Level;

    public Operands(bool transA, bool transB, float* a, int lda, float* b, int ldb, float* c, int ldc, float alpha, float beta, CpuLevel level)
        : this(a, transA ? 1 : lda, transA ? lda : 1, b, transB ? 1 : ldb, transB ? ldb : 1, c, ldc, alpha, beta, level) { }

    private Operands(float* a, int aRow, int aCol, float* b, int bRow, int bCol, float* c, int ldc, float alpha, float beta, CpuLevel level)
    {
        A = a; ARow = aRow; ACol = aCol; B = b; BRow = bRow; BCol = bCol; C = c; Ldc = ldc; Alpha = alpha; Beta = beta; Level = level;
    }

    /// <summary>Whether B's rows are contiguous (NN, TN): blocks of C can combine whole vectors of B's rows.</summary>
    public bool BRowsContiguous => BCol == 1;

    /// <summary>Whether A's rows and B's columns are contiguous along k (NT): elements of C are dot products of two contiguous runs.</summary>
    public bool DotProductLayout => ACol == 1 && BRow == 1;

    /// <summary>The product over the columns p0.. of op(A) and rows p0.. of op(B).</summary>
    public Operands FromDepth(int p0) => new(A + (long)p0 * ACol, ARow, ACol, B + (long)p0 * BRow, BRow, BCol, C, Ldc, Alpha, Beta, Level);

    /// <summary>The same product into another C.</summary>
    public Operands WithC(float* c, int ldc, float beta) => new(A, ARow, ACol, B, BRow, BCol, c, ldc, Alpha, beta, Level);

    /// <summary>The same product restricted to rows i0.. of op(A) and C.</summary>
    public Operands FromRow(int i0) => new(A + (long)i0 * ARow, ARow, ACol, B, BRow, BCol, C + (long)i0 * Ldc, Ldc, Alpha, Beta, Level);

    /// <summary>The same product with B's rows (contiguous along n) read from b, bRow floats apart.</summary>
    public Operands WithB(float* b, int bRow) => new(A, ARow, ACol, b, bRow, 1, C, Ldc, Alpha, Beta, Level);

    /// <summary>The same product with A's rows (contiguous along k) read from a, aRow floats apart.</summary>
    public Operands WithA(float* a, int aRow) => new(a, aRow, ACol, B, BRow, BCol, C, Ldc, Alpha, Beta, Level);
}
