using NativeNet.Core.Backends;
using NativeNet.Layers;
using Xunit.Abstractions;

namespace NativeNet.Tests;

/// <summary>
/// Inference memory follows the calls running at once, not the threads that ever called: after a thousand
/// short-lived threads (and bursts of more threads at once than the pool keeps) the network holds at most its pools'
/// workspaces and the process's resident memory is back within that bound.
/// </summary>
[Collection(nameof(MemoryMeasurements))]
public sealed class InferenceMemoryTests(ITestOutputHelper output)
{
    [Fact]
    public void AThousandShortLivedThreads_LeaveInferenceMemoryBounded()
    {
        using var backend = new CpuBackend(1);
        using var net = NetworkSpec.Parse("input 1x28x28 | conv 20 5 relu | maxpool 2 | dense 100 relu | output 10 softmax").Build(1, WeightInit.Chapter6, backend);
        var rng = new Random(1);
        var images = new float[10 * 784];
        for (int i = 0; i < images.Length; i++) images[i] = (float)rng.NextDouble();
        var expected = new float[100];
        net.PredictBatch(images, expected);
        var expectedOne = new float[10];
        net.Predict(images.AsSpan(0, 784), expectedOne);
        int capacity = WorkspacePool.DefaultCapacity;

        ProcessMemory.Settle();
        long before = ProcessMemory.Available ? ProcessMemory.Resident : 0;
        int failures = 0;
        void Call()
        {
            var one = new float[10];
            var batch = new float[100];
            net.Predict(images.AsSpan(0, 784), one);
            net.PredictBatch(images, batch);
            if (!one.AsSpan().SequenceEqual(expectedOne) || !batch.AsSpan().SequenceEqual(expected)) Interlocked.Increment(ref failures);
        }
        // 1,000 threads in waves: 125 waves of as many threads as the pool keeps, then 10 bursts of 50 at once.
        for (int wave = 0; wave < 125; wave++) RunThreads(capacity, Call);
        int afterWaves = net.LiveInferenceWorkspaces;
        for (int burst = 0; burst < 10; burst++) RunThreads(50, Call);
        Assert.Equal(0, failures);

        // Whatever the bursts made beyond the pool's capacity was freed when it came back.
        Assert.True(afterWaves <= 2 * capacity, $"{afterWaves} workspaces after 1,000 threads; the pools keep at most {2 * capacity}");
        Assert.True(net.LiveInferenceWorkspaces <= 2 * capacity, $"{net.LiveInferenceWorkspaces} workspaces after the bursts");
        long workspaceBytes;
        using (var single = net.CreateWorkspace(1, training: false))
        using (var batched = net.CreateWorkspace(Network.PredictBatchCapacity, training: false))
            workspaceBytes = single.Bytes + batched.Bytes;
        if (!ProcessMemory.Available) return;
        ProcessMemory.Settle();
        long grown = ProcessMemory.Resident - before;
        long bound = capacity * workspaceBytes + (64L << 20);
        output.WriteLine($"1,500 threads: resident memory {grown / 1048576.0:+0.0;-0.0} MiB (bound {bound / 1048576.0:F0} MiB: {capacity} pooled pairs of {workspaceBytes / 1048576.0:F1} MiB + 64), {net.LiveInferenceWorkspaces} workspaces live");
        Assert.True(grown < bound, $"resident memory grew by {grown:N0} bytes; bound {bound:N0}");
    }

    private static void RunThreads(int count, Action call)
    {
        var threads = Enumerable.Range(0, count).Select(_ => new Thread(() => call())).ToArray();
        foreach (var t in threads) t.Start();
        foreach (var t in threads) t.Join();
    }
}
