namespace NativeNet.Core.Gemm;

internal static unsafe partial class MicroKernels
{
    /// <summary>The portable reference kernel: plain loops over a 4 x 4 tile (no hints: nextB is ignored).</summary>
    public static void ScalarTile4x4(int kc, float* a, float* b, int ldb, float* c, int ldc, float alpha, float beta, float* nextB)
    {
        float* acc = stackalloc float[16];
        for (int t = 0; t < 16; t++) acc[t] = 0f;
        for (int p = 0; p < kc; p++, a += 4, b += ldb)
            for (int i = 0; i < 4; i++)
                for (int j = 0; j < 4; j++)
                    acc[i * 4 + j] = MathF.FusedMultiplyAdd(a[i], b[j], acc[i * 4 + j]);
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 4; j++)
                GemmStores.Store(c + (long)i * ldc + j, acc[i * 4 + j], alpha, beta);
    }
}
