using NativeNet.Core.Backends;

namespace NativeNet.Core.Tests;

public class ProfilingBackendTests
{
    /// <summary>
    /// With synchronizeEach, every primitive waits for the backend before its time is taken (so on a queued device each
    /// row is that primitive's device time). A second profiler underneath counts the waits it receives.
    /// </summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void SynchronizeEach_WaitsAfterEveryPrimitive(bool synchronizeEach)
    {
        var counting = new ProfilingBackend(new CpuBackend(1));
        var profiler = new ProfilingBackend(counting, synchronizeEach);
        using var arena = new TensorArena(profiler);
        var a = arena.Allocate("a", 4, 4);
        var b = arena.Allocate("b", 4, 4);
        var c = arena.Allocate("c", 4, 4);
        arena.Commit();
        profiler.Fill(a, 1f, 16);
        profiler.Fill(b, 2f, 16);
        profiler.Gemm(false, false, 4, 4, 4, 1f, a, b, 0f, c);
        var c0 = new float[16];
        profiler.Download(c, c0);

        Assert.All(c0, v => Assert.Equal(8f, v));
        Assert.Equal(synchronizeEach, profiler.SynchronizesEach);
        long waits = counting.Report().Where(r => r.Primitive == "Synchronize").Sum(r => r.Calls);
        Assert.Equal(synchronizeEach ? 4 : 0, waits);
        Assert.Equal(3, profiler.Report().Where(r => r.Primitive is "Fill" or "Gemm NN m=4 n=4 k=4").Sum(r => r.Calls));
    }

    /// <summary>
    /// Once a primitive and shape have been seen, timing them again allocates nothing: the report's names are formatted
    /// when the report is made, not per call.
    /// </summary>
    [Fact]
    public void ProfiledPrimitives_AllocateNothing_AfterTheirFirstCall()
    {
        using var profiler = new ProfilingBackend(new CpuBackend(1));
        using var arena = new TensorArena(profiler);
        var a = arena.Allocate("a", 4, 4);
        var b = arena.Allocate("b", 4, 4);
        var c = arena.Allocate("c", 4, 4);
        var d = arena.Allocate("d", 4, 4);
        arena.Commit();
        void Step()
        {
            profiler.Fill(a, 1f, 16);
            profiler.Gemm(false, true, 4, 4, 4, 1f, a, b, 0f, c);
            profiler.Gemm(true, false, 4, 4, 4, 1f, a, b, 0f, c);
            profiler.DenseBackwardStep(4, 4, 4, 1f, a, b, 1f, c, d);
        }
        for (int i = 0; i < 3; i++) Step();
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 10; i++) Step();
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        var report = profiler.Report().ToDictionary(r => r.Primitive, r => r.Calls);
        Assert.Equal(13, report["Gemm NT m=4 n=4 k=4"]);
        Assert.Equal(13, report["Gemm TN m=4 n=4 k=4"]);
        Assert.Equal(13, report["DenseBackwardStep m=4 units=4 inputs=4"]);
        Assert.Equal(13, report["Fill"]);
    }
}
