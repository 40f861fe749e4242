using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.ExceptionServices;

namespace NativeNet.Core.Threading;

/// <summary>
/// A unit of parallel work. <see cref="Execute"/> is called once for each worker index
/// 0..workers-1; the item decides from the index which static slice it owns, so a given
/// worker count always produces the same partition (and therefore the same bits).
/// Items are unmanaged structs: the pool passes a pointer to the caller's copy, never boxes.
/// </summary>
internal interface IParallelWork
{
    void Execute(int worker, int workers);
}

/// <summary>
/// Long-lived worker threads for data-parallel kernels. The calling thread takes part as
/// worker 0, so a pool of degree 1 runs everything inline. <see cref="Run{T}"/> allocates
/// nothing. If the pool is already busy (another thread is using it, or a work item calls back
/// into it), the call runs inline on the caller with one worker: safe, never deadlocks, and
/// kernels whose results do not depend on the worker count return the same bits.
/// </summary>
internal sealed unsafe class WorkerPool : IDisposable
{
    private static WorkerPool? s_shared;
    private static readonly object s_sharedLock = new();

    private readonly Thread[] _threads;
    private readonly ManualResetEventSlim[] _start;
    private int _busy;
    private int _generation;          // incremented once per parallel run; workers watch it
    private readonly int[] _sleeping; // 1 while worker i+1 is blocked on _start[i]
    private delegate*<void*, int, int, void> _fn;
    private void* _state;
    private int _activeWorkers;
    private int _pending;
    private volatile bool _disposed;
    private ExceptionDispatchInfo? _error;

    /// <param name="degreeOfParallelism">Workers, the calling thread included (1 to 4 x the processor count).</param>
    /// <param name="spinMicroseconds">How long an idle worker spins before blocking (default 200, or NATIVENET_SPIN_US).</param>
    public WorkerPool(int degreeOfParallelism, int? spinMicroseconds = null)
    {
        _spinTicks = Stopwatch.Frequency * Math.Max(0, spinMicroseconds ?? s_defaultSpinMicroseconds) / 1_000_000;
        if (degreeOfParallelism < 1 || degreeOfParallelism > Environment.ProcessorCount * 4)
            throw new ArgumentOutOfRangeException(nameof(degreeOfParallelism), degreeOfParallelism,
                $"Degree of parallelism must be between 1 and {Environment.ProcessorCount * 4}.");
        DegreeOfParallelism = degreeOfParallelism;
        _threads = new Thread[degreeOfParallelism - 1];
        _start = new ManualResetEventSlim[degreeOfParallelism - 1];
        _sleeping = new int[degreeOfParallelism - 1];
        for (int i = 0; i < _threads.Length; i++)
        {
            _start[i] = new ManualResetEventSlim(false, 0);
            int worker = i + 1;
            _threads[i] = new Thread(() => WorkerLoop(worker)) { IsBackground = true, Name = $"NativeNet worker {worker}" };
            _threads[i].Start();
        }
    }

    public int DegreeOfParallelism { get; }

    /// <summary>
    /// The process-wide pool used by kernels when none is given. Its degree is the core count,
    /// or NATIVENET_THREADS when set; <see cref="SetSharedDegree"/> replaces it.
    /// </summary>
    public static WorkerPool Shared
    {
        get
        {
            var pool = Volatile.Read(ref s_shared);
            if (pool is not null) return pool;
            lock (s_sharedLock)
            {
                s_shared ??= new WorkerPool(DefaultDegree());
                return s_shared;
            }
        }
    }

    /// <summary>Replaces the shared pool with one of the given degree (1..core count x 4).</summary>
    public static void SetSharedDegree(int degree)
    {
        lock (s_sharedLock)
        {
            if (s_shared?.DegreeOfParallelism == degree) return;
            var old = s_shared;
            s_shared = new WorkerPool(degree);
            old?.Dispose();
        }
    }

    private static int DefaultDegree()
    {
        var env = Environment.GetEnvironmentVariable("NATIVENET_THREADS");
        return int.TryParse(env, out int n) && n >= 1 ? Math.Min(n, Environment.ProcessorCount * 4) : Environment.ProcessorCount;
    }

    /// <summary>Runs <paramref name="work"/> on <paramref name="workers"/> workers (clamped to the pool's degree) and waits.</summary>
    public void Run<T>(ref T work, int workers) where T : unmanaged, IParallelWork
    {
        workers = Math.Clamp(workers, 1, DegreeOfParallelism);
        // A flag, not a Monitor: a Monitor is re-entrant, and a work item that calls back into its own pool
        // (a kernel inside a data-parallel step) must run inline rather than re-dispatch to busy workers.
        if (workers == 1 || Interlocked.CompareExchange(ref _busy, 1, 0) != 0)
        {
            work.Execute(0, 1);
            return;
        }
        try
        {
            fixed (T* state = &work)
            {
                _fn = &Invoke<T>;
                _state = state;
                _activeWorkers = workers;
                _error = null;
                Volatile.Write(ref _pending, workers - 1);
                Interlocked.Increment(ref _generation);
                for (int i = 0; i < workers - 1; i++)
                    if (Interlocked.Exchange(ref _sleeping[i], 0) == 1) _start[i].Set();
                try
                {
                    work.Execute(0, workers);
                }
                catch (Exception e)
                {
                    _error ??= ExceptionDispatchInfo.Capture(e);
                }
                // The caller waits by spinning (yielding, never sleeping): the work is split evenly, so the wait is short,
                // and unlike a blocking wait it allocates nothing on this thread, ever.
                var spin = new SpinWait();
                while (Volatile.Read(ref _pending) != 0) spin.SpinOnce(sleep1Threshold: -1);
                _state = null;
            }
            _error?.Throw();
        }
        finally
        {
            Volatile.Write(ref _busy, 0);
        }
    }

    private static void Invoke<T>(void* state, int worker, int workers) where T : unmanaged, IParallelWork
        => Unsafe.AsRef<T>(state).Execute(worker, workers);

    /// <summary>
    /// How long an idle worker spins before it blocks. Training calls the pool every few microseconds, and waking a
    /// blocked thread costs tens of microseconds, so workers stay hot for a while (NATIVENET_SPIN_US overrides).
    /// </summary>
    private static readonly int s_defaultSpinMicroseconds =
        int.TryParse(Environment.GetEnvironmentVariable("NATIVENET_SPIN_US"), out int us) && us >= 0 ? us : 200;

    private readonly long _spinTicks;

    private void WorkerLoop(int worker)
    {
        var start = _start[worker - 1];
        int seen = 0;
        while (true)
        {
            int generation;
            long spinUntil = Stopwatch.GetTimestamp() + _spinTicks;
            while ((generation = Volatile.Read(ref _generation)) == seen)
            {
                if (Stopwatch.GetTimestamp() < spinUntil) { Thread.SpinWait(16); continue; }
                // Announce the sleep, then look once more: Run either sees the flag and wakes us, or we see its new generation.
                // The announcement must be a full fence (Interlocked, not a volatile write): x86 lets a load pass an
                // earlier store, and then we could read the old generation while Run still saw no sleeper: a lost wake-up.
                Interlocked.Exchange(ref _sleeping[worker - 1], 1);
                if (Volatile.Read(ref _generation) == seen) start.Wait();
                start.Reset();
                Volatile.Write(ref _sleeping[worker - 1], 0);
                spinUntil = Stopwatch.GetTimestamp() + _spinTicks;
            }
            seen = generation;
            if (_disposed) return;
            if (worker >= _activeWorkers) continue;   // this run needs fewer workers
            try
            {
                _fn(_state, worker, _activeWorkers);
            }
            catch (Exception e)
            {
                Interlocked.CompareExchange(ref _error, ExceptionDispatchInfo.Capture(e), null);
            }
            finally
            {
                Interlocked.Decrement(ref _pending);
            }
        }
    }

    /// <summary>The [start, end) slice of <paramref name="total"/> items that <paramref name="worker"/> owns, in multiples of <paramref name="grain"/>.</summary>
    public static (int Start, int End) Partition(int total, int worker, int workers, int grain = 1)
    {
        int units = (total + grain - 1) / grain;
        int start = (int)((long)units * worker / workers) * grain;
        int end = (int)((long)units * (worker + 1) / workers) * grain;
        return (Math.Min(start, total), Math.Min(end, total));
    }

    public void Dispose()
    {
        if (_disposed) return;
        var spin = new SpinWait();
        while (Interlocked.CompareExchange(ref _busy, 1, 0) != 0) spin.SpinOnce();   // let a run in flight finish
        _disposed = true;
        Interlocked.Increment(ref _generation);
        foreach (var s in _start) s.Set();
        foreach (var t in _threads) t.Join();
    }
}
