namespace NativeNet.Core.Threading;

/// <summary>
/// Work in two halves fixed by the shape, not by the worker count (a product's depth, a dense layer's units), so every
/// element sees the same operations whatever the worker count: workers [0, W/2) share the first half, the others the
/// second, and a single worker runs both in turn. <see cref="FixedHalves.Execute{T}"/> hands each worker its share.
/// </summary>
internal interface IHalvedWork
{
    /// <summary>This worker's share of the first half, among <paramref name="workers"/> that share it.</summary>
    void First(int worker, int workers);

    /// <summary>This worker's share of the second half, among <paramref name="workers"/> that share it.</summary>
    void Second(int worker, int workers);
}

internal static class FixedHalves
{
    /// <summary>Where the first half of [0, length) ends: half of it rounded up to whole blocks, so the second starts on a block.</summary>
    public static int Boundary(int length, int block) => (length / 2 + block - 1) / block * block;

    /// <summary>Workers the first half gets when <paramref name="workers"/> run the halves (at least one).</summary>
    public static int FirstWorkers(int workers) => Math.Max(1, workers / 2);

    /// <summary>Workers the second half gets (at least one; the single worker runs both halves).</summary>
    public static int SecondWorkers(int workers) => Math.Max(1, workers - workers / 2);

    /// <summary>Runs worker <paramref name="worker"/>'s share of the halves of <paramref name="work"/> (see <see cref="IHalvedWork"/>).</summary>
    public static void Execute<T>(T work, int worker, int workers) where T : struct, IHalvedWork
    {
        if (workers == 1)
        {
            work.First(0, 1);
            work.Second(0, 1);
        }
        else if (worker < FirstWorkers(workers)) work.First(worker, FirstWorkers(workers));
        else work.Second(worker - FirstWorkers(workers), SecondWorkers(workers));
    }
}
