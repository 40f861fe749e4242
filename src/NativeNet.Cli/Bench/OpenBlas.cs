using System.Runtime.InteropServices;

namespace NativeNet.Cli.Bench;

/// <summary>
/// cblas_sgemm from the system's OpenBLAS (Debian: libopenblas0-pthread), loaded at run time so the
/// comparison is optional: <see cref="TryLoad"/> returns false where the library is absent.
/// </summary>
internal static unsafe class OpenBlas
{
    private const int RowMajor = 101, NoTrans = 111, Trans = 112;
    private static delegate* unmanaged<int, int, int, int, int, int, float, float*, int, float*, int, float, float*, int, void> s_sgemm;
    private static delegate* unmanaged<int, void> s_setThreads;

    public static bool TryLoad(out string? error)
    {
        error = null;
        if (s_sgemm != null) return true;
        foreach (var name in new[] { "libopenblas.so.0", "libopenblas.so", "libopenblasp.so.0" })
        {
            if (!NativeLibrary.TryLoad(name, out var handle)) continue;
            s_sgemm = (delegate* unmanaged<int, int, int, int, int, int, float, float*, int, float*, int, float, float*, int, void>)NativeLibrary.GetExport(handle, "cblas_sgemm");
            if (NativeLibrary.TryGetExport(handle, "openblas_set_num_threads", out var set))
                s_setThreads = (delegate* unmanaged<int, void>)set;
            return true;
        }
        error = "libopenblas is not installed (Debian: apt-get install -y libopenblas0-pthread)";
        return false;
    }

    public static void SetThreads(int threads)
    {
        if (s_setThreads != null) s_setThreads(threads);
    }

    public static void Sgemm(bool ta, bool tb, int m, int n, int k, float alpha, float* a, int lda, float* b, int ldb, float beta, float* c, int ldc)
        => s_sgemm(RowMajor, ta ? Trans : NoTrans, tb ? Trans : NoTrans, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
