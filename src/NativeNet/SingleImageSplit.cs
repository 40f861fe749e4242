using NativeNet.Core.Threading;

namespace NativeNet;

/// <summary>
/// Decides, while a network predicts single images, whether they split their kernels over a claiming view of the pool
/// or run on the calling thread alone. Neither choice holds on every machine and at every moment: splitting one image
/// pays when the two cores pass cache lines quickly, and costs more than it saves when the host has placed them far
/// apart (on a VM that changes while a process runs). So the network times both: the first <see cref="TrialCalls"/>
/// calls of every <see cref="Period"/> run split, the next <see cref="TrialCalls"/> alone, the first
/// <see cref="WarmCalls"/> of each not counted (a sleeping worker is being woken), and the faster one runs until the
/// next trial. Both give the same bits: the view runs the same shares either way. Thread-safe and allocation-free;
/// calls that overlap a trial from several threads only blur its timing.
/// </summary>
internal sealed class SingleImageSplit(WorkerPool view)
{
    /// <summary>Calls between the starts of two trials.</summary>
    public const int Period = 4096;

    /// <summary>Calls of each kind in a trial.</summary>
    public const int TrialCalls = 32;

    /// <summary>Calls at the start of each kind that are run but not timed.</summary>
    public const int WarmCalls = 8;

    private long _calls, _splitTicks, _aloneTicks;
    private volatile bool _splits = true;

    /// <summary>Whether calls outside a trial split (the last trial's verdict; true before the first).</summary>
    public bool Splits => _splits;

    /// <summary>Sets the view for the next call and returns the call's number, for <see cref="End"/>.</summary>
    public long Begin()
    {
        long call = Interlocked.Increment(ref _calls) - 1;
        long inPeriod = call % Period;
        view.RunsInline = inPeriod < 2 * TrialCalls ? inPeriod >= TrialCalls : !_splits;
        return call;
    }

    /// <summary>Records how long call <paramref name="call"/> took (Stopwatch ticks); the trial's last call gives the verdict.</summary>
    public void End(long call, long ticks)
    {
        long inPeriod = call % Period;
        if (inPeriod >= 2 * TrialCalls) return;
        if (inPeriod % TrialCalls >= WarmCalls) Interlocked.Add(ref inPeriod < TrialCalls ? ref _splitTicks : ref _aloneTicks, ticks);
        if (inPeriod == 2 * TrialCalls - 1)
        {
            _splits = Interlocked.Exchange(ref _splitTicks, 0) <= Interlocked.Exchange(ref _aloneTicks, 0);
            view.RunsInline = !_splits;
        }
    }
}
