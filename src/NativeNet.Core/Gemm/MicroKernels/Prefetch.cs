using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;

namespace NativeNet.Core.Gemm;

/// <summary>
/// The micro-kernels of the packed path, one file per instruction level. Each computes one tile
/// <c>C[MR x NR] = alpha * A-panel * B-panel + beta * C</c>: A's packed panel holds kc columns of MR floats, B's panel kc
/// rows of NR floats, ldb apart (NR when packed, B's own leading dimension when read in place); C is row-major with
/// stride ldc and is not read when beta is 0. The whole tile stays in registers for the k loop: one broadcast of A and
/// NR / width loads of B feed MR * NR / width independent FMAs a step. The last argument, when not null, is the slice of
/// the next packed B panel the kernel hints into L2 (<see cref="NextPanelSlice"/>).
/// </summary>
internal static unsafe partial class MicroKernels
{
    /// <summary>
    /// The kernels read C only after their k loop, and a large product's C rows (a page apart) come from L3 or memory, so
    /// each kernel asks for its C rows during the loop, one row every <see cref="PrefetchCEvery"/> steps: all rows at once
    /// would hold every L1 line-fill buffer while the loop's own loads of A, streaming from L2, wait. Only in k blocks at
    /// least this deep: in short ones (64-row blocks over a hot C) the hints cost more than they hide.
    /// </summary>
    private const int PrefetchCMinDepth = 128;

    /// <summary>k steps between two rows' prefetches: a 12-row tile has asked for all of C by step 96.</summary>
    private const int PrefetchCEvery = 8;

    /// <summary>Floats of the next B panel a kernel hints per k step: two lines every <see cref="PrefetchCEvery"/> steps.</summary>
    private const int NextPanelFloatsPerStep = 32 / PrefetchCEvery;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool PrefetchesC(int kc) => kc >= PrefetchCMinDepth;

    /// <summary>
    /// The packed path calls the kernel for each A micro-panel of a block against one B panel, then moves to the next B
    /// panel, which would come from L3 (the packed B block outgrows L2 from nc = 2048). So the calls against one panel
    /// hint the next one into L2 between them: call <paramref name="call"/> (0, 1, ...) takes the slice of
    /// <paramref name="nextPanel"/> (kc x nr floats) that starts at call * kc * <see cref="NextPanelFloatsPerStep"/>;
    /// null once the panel is covered, when there is no next packed panel, or when kc is too short for any hint.
    /// </summary>
    internal static float* NextPanelSlice(float* nextPanel, int call, int kc, int nr)
        => nextPanel == null || !PrefetchesC(kc) || call >= nr / NextPanelFloatsPerStep ? null : nextPanel + (long)call * kc * NextPanelFloatsPerStep;

    /// <summary>One step of a kernel's hints: the next C row while rows remain, and two lines of the next B panel's slice when it has one.</summary>
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
}
