using System.Runtime.ExceptionServices;

namespace NativeNet.Training;

/// <summary>
/// Runs independent trainings (the members of an ensemble, the trials of a search) several at a time: each lane is a
/// thread that takes the next item not yet started, so lanes stay busy when items take different times. Give each lane
/// its own backend. Two small-batch trainings side by side train more images per second than one after the other on
/// both cores, since neither waits on the other (benchmarks/experiments/training-parallelism.md).
/// </summary>
internal static class Lanes
{
    /// <summary>
    /// Calls <paramref name="run"/>(item, lane, token) for items 0..count-1 on <paramref name="lanes"/> threads (the
    /// calling thread alone when 1). When one call throws, the others see their token cancelled (so they can stop at
    /// their next mini-batch), no new item starts, and the first exception is rethrown once every lane has returned.
    /// Cancelling <paramref name="cancel"/> also stops new items from starting.
    /// </summary>
    public static void Run(int count, int lanes, CancellationToken cancel, Action<int, int, CancellationToken> run)
    {
        ArgumentNullException.ThrowIfNull(run);
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ArgumentOutOfRangeException.ThrowIfLessThan(lanes, 1);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        int next = -1;
        void Lane(int lane)
        {
            try
            {
                for (int i = Interlocked.Increment(ref next); i < count && !stop.IsCancellationRequested; i = Interlocked.Increment(ref next))
                    run(i, lane, stop.Token);
            }
            catch
            {
                stop.Cancel();
                throw;
            }
        }
        lanes = Math.Min(lanes, Math.Max(1, count));
        if (lanes == 1)
        {
            Lane(0);
            return;
        }
        var threads = Enumerable.Range(0, lanes).Select(l => Task.Factory.StartNew(() => Lane(l), CancellationToken.None,
            TaskCreationOptions.LongRunning, TaskScheduler.Default)).ToArray();
        try { Task.WaitAll(threads); }
        catch (AggregateException e) { ExceptionDispatchInfo.Capture(e.InnerExceptions[0]).Throw(); }
    }
}
