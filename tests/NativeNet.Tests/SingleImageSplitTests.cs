using NativeNet.Core.Threading;

namespace NativeNet.Tests;

public class SingleImageSplitTests
{
    /// <summary>
    /// Every period opens with a trial: <see cref="SingleImageSplit.TrialCalls"/> calls split, as many alone, the first
    /// <see cref="SingleImageSplit.WarmCalls"/> of each not counted; the faster kind runs until the next trial, through
    /// the view's <see cref="WorkerPool.RunsInline"/>.
    /// </summary>
    [Fact]
    public void Trials_KeepTheFasterKind_UntilTheNextTrial_IgnoringWarmUpCalls()
    {
        using var pool = new WorkerPool(2);
        var view = pool.ClaimingView();
        var split = new SingleImageSplit(view);
        Assert.True(split.Splits);

        // Period 1: split calls take 100 ticks, alone ones 150; the split half's warm-up calls are very slow and do not count.
        RunPeriod(split, view, (inPeriod, splits) => splits ? (inPeriod < SingleImageSplit.WarmCalls ? 1_000_000 : 100) : 150, expectSplit: true);
        // Period 2: now the split is the slower one, and the verdict turns.
        RunPeriod(split, view, (_, splits) => splits ? 200 : 150, expectSplit: false);
        // Period 3: level timings keep the split (ties go to it).
        RunPeriod(split, view, (_, _) => 120, expectSplit: true);

        SteadyState.AssertAllocatesNothing(() => { for (int i = 0; i < 100; i++) split.End(split.Begin(), 100); });
        Assert.Throws<InvalidOperationException>(() => pool.RunsInline = true);   // only a view takes the switch
    }

    private static void RunPeriod(SingleImageSplit split, WorkerPool view, Func<int, bool, long> ticks, bool expectSplit)
    {
        for (int i = 0; i < SingleImageSplit.Period; i++)
        {
            long call = split.Begin();
            int inPeriod = (int)(call % SingleImageSplit.Period);
            Assert.Equal(i, inPeriod);
            bool trialSplits = inPeriod < SingleImageSplit.TrialCalls;
            bool inTrial = inPeriod < 2 * SingleImageSplit.TrialCalls;
            Assert.Equal(inTrial ? !trialSplits : !expectSplit, view.RunsInline);
            Assert.Equal(view.RunsInline ? 1 : 2, view.DegreeOfParallelism);   // inline, kernels do not cut shares at all
            split.End(call, ticks(inPeriod % SingleImageSplit.TrialCalls, !view.RunsInline));
            if (inPeriod == 2 * SingleImageSplit.TrialCalls - 1) Assert.Equal(expectSplit, split.Splits);
        }
    }
}
