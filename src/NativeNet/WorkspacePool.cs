namespace NativeNet;

/// <summary>
/// The inference workspaces of one network and one batch capacity, shared by every thread that calls
/// <see cref="Network.Predict"/> / <see cref="Network.PredictBatch"/>. A call rents a workspace and gives it back; up to
/// <see cref="Capacity"/> idle ones are kept, so memory follows the most calls ever running at once (at most
/// <see cref="Capacity"/> kept), never the number of threads that ever called. When more calls run at once than the
/// pool keeps, the extra ones get a fresh workspace that is freed when they return it: still correct, but that call
/// allocates. Renting and returning are lock-free and allocate nothing.
/// </summary>
internal sealed class WorkspacePool : IDisposable
{
    private readonly Func<Workspace> _create;
    private readonly Workspace?[] _idle;
    private int _live;
    private volatile bool _disposed;

    /// <param name="create">Makes a new workspace when none is idle.</param>
    /// <param name="capacity">Idle workspaces kept for reuse.</param>
    public WorkspacePool(Func<Workspace> create, int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _create = create;
        _idle = new Workspace?[capacity];
    }

    /// <summary>Idle workspaces kept at most.</summary>
    public int Capacity => _idle.Length;

    /// <summary>Workspaces this pool made that are not yet freed (idle or rented).</summary>
    public int Live => Volatile.Read(ref _live);

    /// <summary>The default capacity: every core, and at least 8 so small machines serve a few more threads allocation-free.</summary>
    public static int DefaultCapacity => Math.Max(8, Environment.ProcessorCount);

    /// <summary>An idle workspace, or a new one. Slots are scanned from one that depends on the thread, so a thread that calls
    /// alone keeps finding the same workspace (warm in its caches) and concurrent callers rarely touch the same slot.</summary>
    public Workspace Rent()
    {
        var idle = _idle;
        int start = (int)((uint)Environment.CurrentManagedThreadId % (uint)idle.Length);
        for (int i = 0, k = start; i < idle.Length; i++, k = k + 1 == idle.Length ? 0 : k + 1)
            if (Volatile.Read(ref idle[k]) is not null && Interlocked.Exchange(ref idle[k], null) is { } ws) return ws;
        ObjectDisposedException.ThrowIf(_disposed, this);
        var created = _create();
        Interlocked.Increment(ref _live);
        return created;
    }

    /// <summary>Puts a rented workspace back, or frees it when the pool is full or disposed.</summary>
    public void Return(Workspace ws)
    {
        var idle = _idle;
        if (!_disposed)
        {
            int start = (int)((uint)Environment.CurrentManagedThreadId % (uint)idle.Length);
            for (int i = 0, k = start; i < idle.Length; i++, k = k + 1 == idle.Length ? 0 : k + 1)
                if (Volatile.Read(ref idle[k]) is null && Interlocked.CompareExchange(ref idle[k], ws, null) is null)
                {
                    if (_disposed) FreeIdle();   // Dispose ran while this was being put back
                    return;
                }
        }
        Free(ws);
    }

    private void Free(Workspace ws)
    {
        ws.Dispose();
        Interlocked.Decrement(ref _live);
    }

    private void FreeIdle()
    {
        for (int k = 0; k < _idle.Length; k++)
            if (Interlocked.Exchange(ref _idle[k], null) is { } ws) Free(ws);
    }

    /// <summary>Frees the idle workspaces; ones still rented are freed when they come back.</summary>
    public void Dispose()
    {
        _disposed = true;
        FreeIdle();
    }
}
