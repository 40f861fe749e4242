using System.Runtime.InteropServices;
using NativeNet.Core.Backends;
using NativeNet.Core.Kernels;
using NativeNet.Core.Threading;

namespace NativeNet.Core.Tests;

public class WorkerPoolTests
{
    private unsafe struct FillWork : IParallelWork
    {
        public int* Data; public int Length;
        public void Execute(int worker, int workers)
        {
            var (s, e) = WorkerPool.Partition(Length, worker, workers);
            for (int i = s; i < e; i++) Data[i] += worker + 1;
        }
    }

    private struct ThrowWork : IParallelWork
    {
        public void Execute(int worker, int workers) { if (worker == workers - 1) throw new InvalidOperationException("boom"); }
    }

    [Fact]
    public unsafe void Run_CoversEveryIndexOnce_WithoutAllocating_AndPropagatesErrors()
    {
        using var pool = new WorkerPool(2);
        var data = new int[1001];
        fixed (int* p = data)
        {
            var work = new FillWork { Data = p, Length = data.Length };
            for (int i = 0; i < 1000; i++) pool.Run(ref work, 2);
            int runs = 1000;
            SteadyState.AssertAllocatesNothing(() => { for (int i = 0; i < 100; i++, runs++) pool.Run(ref work, 2); });
            Assert.All(data.Take(500), x => Assert.Equal(runs, x));          // worker 0 adds 1 per run
            Assert.All(data.Skip(501), x => Assert.Equal(2 * runs, x));      // worker 1 adds 2 per run
        }
        var bad = new ThrowWork();
        Assert.Throws<InvalidOperationException>(() => pool.Run(ref bad, 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => new WorkerPool(0));
    }

    [Theory]
    [InlineData(0)]      // workers block after every run: the wake-up handshake runs every time
    [InlineData(20)]     // workers sometimes catch the next run while spinning, sometimes sleep
    public async Task ManyRuns_WithIdleGaps_NeverLoseAWakeUp(int spinMicroseconds)
    {
        // A lost wake-up hangs Run forever; the test fails on a time bound instead of hanging the suite.
        var pool = new WorkerPool(2, spinMicroseconds);   // disposed only on success: Dispose waits for a hung Run
        var run = Task.Run(() =>
        {
            var work = new CountWork();
            var rng = new Random(3);
            for (int i = 0; i < 100_000; i++)
            {
                pool.Run(ref work, 2);
                if (rng.Next(4) == 0) Thread.SpinWait(rng.Next(2000));   // let a worker go back to sleep
            }
        });
        var finished = await Task.WhenAny(run, Task.Delay(TimeSpan.FromSeconds(60)));
        Assert.True(finished == run, "WorkerPool.Run did not return: a worker missed its wake-up.");
        await run;
        pool.Dispose();
    }

    private struct CountWork : IParallelWork
    {
        public void Execute(int worker, int workers) => Thread.SpinWait(10);
    }

    [Fact]
    public void Partition_IsContiguousAndComplete()
    {
        for (int total = 0; total < 50; total++)
            for (int workers = 1; workers <= 4; workers++)
            {
                int next = 0;
                for (int w = 0; w < workers; w++)
                {
                    var (s, e) = WorkerPool.Partition(total, w, workers, grain: 3);
                    Assert.Equal(next, s);
                    next = e;
                }
                Assert.Equal(total, next);
            }
    }
}

public class ArenaTests
{
    [Fact]
    public void Arena_CarvesAlignedTensors_FromOneBuffer()
    {
        using var backend = new CpuBackend(1);
        using var arena = new TensorArena(backend);
        var a = arena.Allocate("a", 3, 5);
        var b = arena.Allocate("b", 7);
        Assert.False(a.IsBound);
        Assert.Throws<InvalidOperationException>(() => a.Buffer);
        arena.Commit();
        Assert.Same(a.Buffer, b.Buffer);
        Assert.Equal(0, b.Offset % 16);
        Assert.True(b.Offset >= 15);
        backend.Upload([1f, 2f, 3f], b);
        var back = new float[3];
        backend.Download(b, back);
        Assert.Equal([1f, 2f, 3f], back);
        Assert.Throws<InvalidOperationException>(() => arena.Allocate("late", 1));
        Assert.Throws<ArgumentException>(() => CpuBackend.Span(a, 16));
    }
}
