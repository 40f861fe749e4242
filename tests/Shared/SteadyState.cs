namespace NativeNet.Testing;

/// <summary>Zero-allocation checks that tolerate the runtime's own one-time work.</summary>
internal static class SteadyState
{
    /// <summary>
    /// Runs <paramref name="window"/> up to <paramref name="attempts"/> times and passes as soon as one run allocates
    /// nothing on this thread. The runtime may do one-time work on the calling thread (tiered recompilation, on-stack
    /// replacement) that lands in an early window; code that allocates in steady state allocates in every window.
    /// </summary>
    public static void AssertAllocatesNothing(Action window, int attempts = 5)
    {
        long least = long.MaxValue;
        for (int i = 0; i < attempts; i++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            window();
            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            if (allocated == 0) return;
            least = Math.Min(least, allocated);
        }
        Assert.Fail($"Every one of {attempts} windows allocated; the least was {least} bytes.");
    }
}
