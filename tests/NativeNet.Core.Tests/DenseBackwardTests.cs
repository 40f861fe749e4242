using NativeNet.Core.Gemm;
using NativeNet.Core.Threading;
using NativeNet.Testing;

namespace NativeNet.Core.Tests;

public class DenseBackwardTests
{
    /// <summary>Runs the fused step on copies and checks dx and the new W against the two products in double precision.</summary>
    private static void CheckAgainstReference(CpuLevel level, int rows, int units, int inputs, int seed, WorkerPool? pool = null)
    {
        const float alpha = -0.05f, beta = 0.999f;
        var dz = Reference.Random(rows * units, seed);
        var x = Reference.Random(rows * inputs, seed + 1);
        var w = Reference.Random(units * inputs, seed + 2);
        var dx = Reference.Random(rows * inputs, seed + 3);            // overwritten, never read
        var expectedDx = new float[rows * inputs];
        var expectedW = (float[])w.Clone();
        Reference.Gemm(false, false, rows, inputs, units, 1f, dz, units, w, inputs, 0f, expectedDx, inputs);
        Reference.Gemm(true, false, units, inputs, rows, alpha, dz, units, x, inputs, beta, expectedW, inputs);

        DenseBackward.PropagateAndStep(rows, units, inputs, alpha, dz, x, beta, w, dx, pool, CpuContext.For(level));

        string shape = $"{level} rows={rows} units={units} inputs={inputs}";
        Reference.AssertClose(expectedDx, dx, 1e-4f, "dx " + shape);
        Reference.AssertClose(expectedW, w, 1e-5f, "W " + shape);
    }

    [Theory]
    [MemberData(nameof(CpuLevels.Supported), MemberType = typeof(CpuLevels))]
    public void SweptShapes_MatchTheTwoProducts(CpuLevel level)
    {
        int seed = 0;
        // Every row count the fused kernel compiles (1..12) and two past it (the two GEMMs); units below, at and past a
        // 64-row block and the two-halves split (128); inputs below, at and past a 16-column tile (masked edges).
        for (int rows = 1; rows <= 14; rows++)
        foreach (var (units, inputs) in new[] { (1, 1), (5, 16), (64, 17), (65, 47), (130, 33), (200, 100) })
            CheckAgainstReference(level, rows, units, inputs, seed += 4);
        CheckAgainstReference(level, 40, 70, 50, seed += 4);
    }

    [Theory]
    [MemberData(nameof(CpuLevels.Supported), MemberType = typeof(CpuLevels))]
    public void BookShapes_MatchTheTwoProducts_OnTwoThreads(CpuLevel level)
    {
        using var pool = new WorkerPool(2);
        CheckAgainstReference(level, 10, 1000, 640, 1, pool);
        CheckAgainstReference(level, 10, 1000, 1000, 2, pool);
        CheckAgainstReference(level, 10, 100, 4100, 3, pool);      // too few units to halve: columns split
    }

    public static IEnumerable<object[]> WorkerCountCases() =>
        from level in CpuContext.SupportedLevels
        from shape in new[] { (10, 1000, 640), (7, 300, 1000), (12, 129, 100), (10, 100, 5000), (9, 100, 4105) }
        select new object[] { level, shape.Item1, shape.Item2, shape.Item3 };

    [Theory]
    [MemberData(nameof(WorkerCountCases))]
    public void Results_AreBitIdentical_OnAnyWorkerCount(CpuLevel level, int rows, int units, int inputs)
    {
        (float[] Dx, float[] W) Run(int threads)
        {
            using var pool = new WorkerPool(threads);
            var w = Reference.Random(units * inputs, 3);
            var dx = new float[rows * inputs];
            DenseBackward.PropagateAndStep(rows, units, inputs, -0.01f, Reference.Random(rows * units, 1), Reference.Random(rows * inputs, 2), 0.99f, w, dx, pool,
                CpuContext.For(level));
            return (dx, w);
        }
        var one = Run(1);
        for (int threads = 2; threads <= 3; threads++)
        {
            var many = Run(threads);
            Assert.Equal(one.Dx, many.Dx);
            Assert.Equal(one.W, many.W);
        }
    }

    /// <summary>
    /// x, W, dx and dz each end flush against an inaccessible page, so a load or store of a masked edge tile that reached
    /// past a row's last column (on the last row) aborts the run; every row count the fused kernels compile, at every level.
    /// </summary>
    [LinuxFact]
    public void OperandsEndingAtAGuardPage_AreNeverReadOrWrittenPastTheirEnd()
    {
        const float alpha = -0.05f, beta = 0.999f;
        int seed = 0;
        foreach (var level in CpuContext.SupportedLevels)
        for (int rows = 1; rows <= DenseBackward.MaxRows; rows++)
        foreach (int inputs in new[] { 1, 7, 9, 17, 47 })
        foreach (int units in new[] { 3, 130 })
        {
            using var dz = GuardedMemory.CopyOf(Reference.Random(rows * units, seed += 4));
            using var x = GuardedMemory.CopyOf(Reference.Random(rows * inputs, seed + 1));
            using var w = GuardedMemory.CopyOf(Reference.Random(units * inputs, seed + 2));
            using var dx = GuardedMemory.CopyOf(Reference.Random(rows * inputs, seed + 3));
            var expectedDx = new float[rows * inputs];
            var expectedW = w.Span.ToArray();
            Reference.Gemm(false, false, rows, inputs, units, 1f, dz.Span.ToArray(), units, expectedW, inputs, 0f, expectedDx, inputs);
            Reference.Gemm(true, false, units, inputs, rows, alpha, dz.Span.ToArray(), units, x.Span.ToArray(), inputs, beta, expectedW, inputs);
            DenseBackward.PropagateAndStep(rows, units, inputs, alpha, dz.Span, x.Span, beta, w.Span, dx.Span, null, CpuContext.For(level));
            string shape = $"{level} rows={rows} units={units} inputs={inputs}";
            Reference.AssertClose(expectedDx, dx.Span, 1e-4f, "dx " + shape);
            Reference.AssertClose(expectedW, w.Span, 1e-5f, "W " + shape);
        }
    }

    [Fact]
    public void EmptyShapes_LeaveZeroGradient_AndOnlyTheDecay()
    {
        var w = new float[] { 1f, 2f, 3f };
        var dx = new float[] { 5f, 5f, 5f };
        DenseBackward.PropagateAndStep(0, 3, 1, -1f, [], [], 0.5f, w, dx);      // no examples: W only decays
        Assert.Equal([0.5f, 1f, 1.5f], w);
        DenseBackward.PropagateAndStep(1, 0, 3, -1f, [], [1f, 1f, 1f], 0.5f, w, dx);   // no units: dx is an empty sum
        Assert.Equal([0f, 0f, 0f], dx);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void SteadyState_AllocatesNothing(int threads)
    {
        using var pool = new WorkerPool(threads);
        foreach (var (rows, units, inputs) in new[] { (10, 1000, 1000), (10, 1000, 640), (10, 100, 640), (20, 100, 64) })
        {
            var dz = Reference.Random(rows * units, 1);
            var x = Reference.Random(rows * inputs, 2);
            var w = Reference.Random(units * inputs, 3, 0.01f);
            var dx = new float[rows * inputs];
            for (int i = 0; i < 3; i++) DenseBackward.PropagateAndStep(rows, units, inputs, -1e-3f, dz, x, 1f, w, dx, pool);
            SteadyState.AssertAllocatesNothing(() => { for (int i = 0; i < 10; i++) DenseBackward.PropagateAndStep(rows, units, inputs, -1e-3f, dz, x, 1f, w, dx, pool); });
        }
    }

    [Fact]
    public void ShortSpans_AreRejected_WithTheShapes()
    {
        var ok = new float[100];
        var e = Assert.Throws<ArgumentException>(() => DenseBackward.PropagateAndStep(2, 5, 10, 1f, ok, ok, 1f, new float[49], ok));
        Assert.Contains("w is units x inputs = 5 x 10", e.Message);
        Assert.Contains("49", e.Message);
        e = Assert.Throws<ArgumentException>(() => DenseBackward.PropagateAndStep(2, 5, 10, 1f, new float[9], ok, 1f, ok, ok));
        Assert.Contains("dz is rows x units = 2 x 5", e.Message);
        Assert.Throws<ArgumentException>(() => DenseBackward.PropagateAndStep(-1, 5, 10, 1f, ok, ok, 1f, ok, ok));
    }
}
