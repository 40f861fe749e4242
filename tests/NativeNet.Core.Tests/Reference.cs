namespace NativeNet.Core.Tests;

/// <summary>Naive loops that every optimized kernel is checked against, plus seeded test data.</summary>
internal static class Reference
{
    public static float[] Random(int length, int seed, float scale = 1f)
    {
        var rng = new Random(seed);
        var x = new float[length];
        for (int i = 0; i < x.Length; i++) x[i] = (float)(rng.NextDouble() * 2 - 1) * scale;
        return x;
    }

    /// <summary>C = alpha * op(A) op(B) + beta * C in double precision, row-major.</summary>
    public static void Gemm(bool ta, bool tb, int m, int n, int k, float alpha, float[] a, int lda, float[] b, int ldb, float beta, float[] c, int ldc)
    {
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double s = 0;
                for (int p = 0; p < k; p++)
                    s += (double)(ta ? a[p * lda + i] : a[i * lda + p]) * (tb ? b[j * ldb + p] : b[p * ldb + j]);
                c[i * ldc + j] = beta == 0f ? (float)(alpha * s) : (float)(alpha * s + beta * c[i * ldc + j]);
            }
    }

    public static void AssertClose(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, float tol, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            float e = expected[i], a = actual[i];
            if (!(MathF.Abs(e - a) <= tol * (1 + MathF.Abs(e))))
                Assert.Fail($"{what}: element {i} expected {e} but got {a} (tolerance {tol}).");
        }
    }
}
