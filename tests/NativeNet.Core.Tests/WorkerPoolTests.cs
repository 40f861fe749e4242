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

    /// <summary>Adds 1 to each of its units' slots and records which thread ran it; a unit can be made slow or to throw.</summary>
    private unsafe struct ClaimWork : IClaimedWork
    {
        public int* Counts; public int* Threads; public int SpinPerUnit; public int ThrowAt;
        public void ExecuteUnits(int start, int end)
        {
            for (int u = start; u < end; u++)
            {
                if (u == ThrowAt) throw new InvalidOperationException("unit " + u);
                Thread.SpinWait(SpinPerUnit);
                Counts[u]++;
                Threads[u] = Environment.CurrentManagedThreadId;
            }
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public unsafe void RunClaimed_RunsEveryUnitOnce_WorkersJoin_AndAllocatesNothing(int chunk)
    {
        using var pool = new WorkerPool(2);
        const int units = 64, runs = 2000;
        var counts = new int[units];
        var threads = new int[units];
        int caller = Environment.CurrentManagedThreadId, helped = 0;
        fixed (int* c = counts, t = threads)
        {
            var work = new ClaimWork { Counts = c, Threads = t, SpinPerUnit = 200, ThrowAt = -1 };
            for (int r = 0; r < runs; r++)
            {
                pool.RunClaimed(ref work, units, chunk);
                if (threads.Any(id => id != caller)) helped++;
            }
            SteadyState.AssertAllocatesNothing(() => { for (int i = 0; i < 100; i++) pool.RunClaimed(ref work, units, chunk); });
        }
        Assert.All(counts, n => Assert.Equal(runs + 100, n));
        // The worker spins between runs, so it joins many of them (how many depends on the machine's load); one that
        // never joined would mean the gate never opens.
        Assert.True(helped > 0, $"no worker took a unit in {runs} runs");
    }

    [Theory]
    [InlineData(2)]
    [InlineData(4)]   // three workers, of which a claimed run wakes at most one
    public async Task RunClaimed_WithWorkersThatSleepBetweenRuns_RunsEveryUnitOnce(int degree)
    {
        // Workers block as soon as a run ends (no spinning), so most runs close their gate before a worker wakes:
        // the late worker must find it closed and take nothing, and no run may wait for it (a hang fails on a time bound).
        var pool = new WorkerPool(degree, spinMicroseconds: 0);   // disposed only on success: Dispose waits for a hung run
        var counts = new int[32];
        var run = Task.Run(() =>
        {
            var threads = new int[32];
            unsafe
            {
                fixed (int* c = counts, t = threads)
                {
                    var work = new ClaimWork { Counts = c, Threads = t, ThrowAt = -1 };
                    for (int r = 0; r < 10_000; r++) pool.RunClaimed(ref work, 32);
                }
            }
        });
        var finished = await Task.WhenAny(run, Task.Delay(TimeSpan.FromSeconds(60)));
        Assert.True(finished == run, "RunClaimed did not return: it waited for a worker that never came.");
        await run;
        Assert.All(counts, n => Assert.Equal(10_000, n));
        pool.Dispose();
    }

    [Fact]
    public unsafe void RunClaimed_PropagatesTheFirstError_AndThePoolStaysUsable()
    {
        using var pool = new WorkerPool(2);
        var counts = new int[40];
        var threads = new int[40];
        fixed (int* c = counts, t = threads)
        {
            var bad = new ClaimWork { Counts = c, Threads = t, ThrowAt = 17 };
            var e = Assert.Throws<InvalidOperationException>(() => pool.RunClaimed(ref bad, 40));
            Assert.Equal("unit 17", e.Message);
            Array.Clear(counts);
            var good = new ClaimWork { Counts = c, Threads = t, ThrowAt = -1 };
            pool.RunClaimed(ref good, 40);
        }
        Assert.All(counts, n => Assert.Equal(1, n));
        Assert.Throws<ArgumentOutOfRangeException>(() => { var w = new ClaimWork(); pool.RunClaimed(ref w, 4, chunk: 0); });
    }

    [Fact]
    public unsafe void ClaimingView_RunsTheSameShares_AsClaims_AndLeavesItsPoolAlive()
    {
        using var pool = new WorkerPool(2);
        var view = pool.ClaimingView();
        Assert.Equal(2, view.DegreeOfParallelism);
        Assert.True(view.ParallelThreshold < pool.ParallelThreshold);
        var data = new int[1001];
        fixed (int* p = data)
        {
            var work = new FillWork { Data = p, Length = data.Length };
            for (int i = 0; i < 1000; i++) view.Run(ref work, 2);
            SteadyState.AssertAllocatesNothing(() => { for (int i = 0; i < 100; i++) view.Run(ref work, 2); });
            // Share 0 adds 1 and share 1 adds 2, whichever thread claimed it: the partition is the fixed one.
            Assert.All(data.Take(500), x => Assert.Equal(1100, x));
            Assert.All(data.Skip(501), x => Assert.Equal(2200, x));
            view.Dispose();   // owns no threads: the pool goes on
            pool.Run(ref work, 2);
            Assert.Equal(1101, data[0]);
        }
        var bad = new ThrowWork();
        Assert.Throws<InvalidOperationException>(() => pool.ClaimingView().Run(ref bad, 2));
    }

    [Fact]
    public async Task ClaimedAndFixedRuns_Interleaved_WithIdleGaps_NeverHangOrLoseAUnit()
    {
        // Claimed runs close their gate while a worker may still be on its way in; a straggler must neither run a
        // later run's units twice nor miss a fixed-share run that follows.
        var pool = new WorkerPool(3, spinMicroseconds: 20);
        var run = Task.Run(() =>
        {
            var counts = new int[24];
            var threads = new int[24];
            var fill = new int[101];
            var expected = new int[101];
            var rng = new Random(5);
            unsafe
            {
                fixed (int* c = counts, t = threads, f = fill)
                {
                    var claimed = new ClaimWork { Counts = c, Threads = t, ThrowAt = -1, SpinPerUnit = 20 };
                    var fixedShare = new FillWork { Data = f, Length = fill.Length };
                    for (int i = 0; i < 50_000; i++)
                    {
                        if (rng.Next(2) == 0) pool.RunClaimed(ref claimed, counts.Length, 1 + rng.Next(3));
                        else
                        {
                            int workers = 2 + rng.Next(2);
                            pool.Run(ref fixedShare, workers);
                            for (int w = 0; w < workers; w++)
                            {
                                var (s, e) = WorkerPool.Partition(fill.Length, w, workers);
                                for (int x = s; x < e; x++) expected[x] += w + 1;
                            }
                        }
                        if (rng.Next(8) == 0) Thread.SpinWait(rng.Next(4000));
                    }
                }
            }
            // Every fixed-share run used its own worker count: a worker that read another run's count would add the wrong share.
            Assert.Equal(expected, fill);
            return counts;
        });
        var finished = await Task.WhenAny(run, Task.Delay(TimeSpan.FromSeconds(90)));
        Assert.True(finished == run, "a run did not return");
        var units = await run;
        Assert.All(units, n => Assert.Equal(units[0], n));
        Assert.InRange(units[0], 20_000, 30_000);   // about half of the 50,000 runs were claimed ones
        pool.Dispose();
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
