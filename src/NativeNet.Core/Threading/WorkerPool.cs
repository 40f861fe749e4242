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
/// Work cut into independent units that threads claim in turn (<see cref="WorkerPool.RunClaimed{T}"/>). A unit's result
/// must not depend on which thread runs it or when, so the bits never depend on how many workers joined.
/// </summary>
internal interface IClaimedWork
{
    /// <summary>Runs units [<paramref name="start"/>, <paramref name="end"/>).</summary>
    void ExecuteUnits(int start, int end);
}

/// <summary>
/// Long-lived worker threads for data-parallel kernels. The calling thread takes part as
/// worker 0, so a pool of degree 1 runs everything inline. <see cref="Run{T}"/> allocates
/// nothing. If the pool is already busy (another thread is using it, or a work item calls back
/// into it), the call runs inline on the caller with one worker: safe, never deadlocks, and
/// kernels whose results do not depend on the worker count return the same bits.
/// <para>
/// Two kinds of run. <see cref="Run{T}"/> gives each worker a fixed share and waits for all of them: for work big enough
/// that a late worker costs little. <see cref="RunClaimed{T}"/> never waits for a worker that has not started: the
/// caller claims units from a shared counter at once, a worker that is awake joins and claims too, and the caller waits
/// only for units a worker has already claimed. That is the run for work of tens of microseconds (one image), where a
/// parked worker, or one the scheduler put on the caller's core, would otherwise double the time.
/// <see cref="ClaimingView"/> turns every fixed-share run into a claimed one, for callers whose every kernel is that short.
/// </para>
/// </summary>
internal sealed unsafe class WorkerPool : IDisposable
{
    private static WorkerPool? s_shared;
    private static readonly object s_sharedLock = new();

    // A claiming view's pool: the view has no threads; its runs are claimed runs on this one.
    private readonly WorkerPool? _claimsOn;
    private readonly Thread[] _threads;
    private readonly ManualResetEventSlim[] _start;
    private int _busy;
    // The current run, written once per run: its generation (high 32 bits, which workers watch), whether it is a
    // claimed run, and the workers a fixed-share run uses. One word, so a worker never pairs one run's generation
    // with another run's kind.
    private long _job;
    private readonly int[] _sleeping; // 1 while worker i+1 is blocked on _start[i]
    private delegate*<void*, int, int, void> _fn;
    private void* _state;
    private int _pending;
    // A claimed run: the units, how many one claim takes, the next unclaimed one, and the gate workers join through:
    // the run's generation (high 32 bits), Closed once the caller stops admitting workers, and the count that joined.
    private int _units, _chunk, _nextUnit, _finished;
    private long _gate;
    private long _lastClaimedRun;     // Stopwatch timestamp of the last claimed run's end (see RunClaimed)
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
        _degree = degreeOfParallelism;
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

    /// <summary>Workers a run can use, the calling thread included; 1 on a claiming view told to run inline (<see cref="RunsInline"/>).</summary>
    public int DegreeOfParallelism => _runsInline ? 1 : _degree;

    private readonly int _degree;

    /// <summary>
    /// Kernels split work of at least this many multiply-adds (or the like) over the pool; below it, the hand-off and the
    /// cache lines moving between cores cost more than the split saves (a ch1 training step's products, 10 x 784 x 30,
    /// stay on one thread). A claiming view's split costs the caller only its claims, so it pays from a smaller size.
    /// </summary>
    public long ParallelThreshold => _claimsOn is null ? FixedShareThreshold : ClaimedThreshold;

    /// <summary><see cref="ParallelThreshold"/> of a pool that hands out fixed shares.</summary>
    public const long FixedShareThreshold = 1L << 18;

    /// <summary><see cref="ParallelThreshold"/> of a claiming view: two thirds of a microsecond at the peak of one AVX2 core.</summary>
    public const long ClaimedThreshold = 1L << 15;

    /// <summary>
    /// A view of this pool whose <see cref="Run{T}"/> hands each fixed share out as a claimed unit
    /// (<see cref="RunClaimed{T}"/>): the shares are the same, so every result has the same bits, but the caller runs any
    /// share no worker has taken, and never waits for a worker to wake. For work of tens of microseconds a call (one
    /// image), where a fixed-share run could take twice as long as the calling thread alone. The view owns no threads;
    /// disposing it does nothing.
    /// </summary>
    public WorkerPool ClaimingView() => new(this);

    /// <summary>
    /// On a claiming view: run everything on the calling thread, as a pool of one would (<see cref="DegreeOfParallelism"/>
    /// reads 1, so kernels do not cut their work in shares at all), offering nothing to the workers. Set between calls by
    /// whoever has measured that the split does not pay (NativeNet's SingleImageSplit); a call already running may see
    /// either value, and the kernels give the same bits either way.
    /// </summary>
    public bool RunsInline
    {
        get => _runsInline;
        set
        {
            if (_claimsOn is null) throw new InvalidOperationException("Only a claiming view runs inline on request.");
            _runsInline = value;
        }
    }

    private volatile bool _runsInline;

    private WorkerPool(WorkerPool claimsOn)
    {
        _claimsOn = claimsOn._claimsOn ?? claimsOn;
        _degree = claimsOn._degree;
        _threads = [];
        _start = [];
        _sleeping = [];
    }

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
        if (_claimsOn is not null && workers > 1)
        {
            fixed (T* state = &work)
            {
                var shares = new Shares<T>(state, workers);
                if (RunsInline) shares.ExecuteUnits(0, workers);
                else _claimsOn.RunClaimed(ref shares, workers);
            }
            return;
        }
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
                _error = null;
                Volatile.Write(ref _pending, workers - 1);
                Publish(claimed: false, workers, wakeAtMost: workers - 1);
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

    /// <summary>
    /// Runs every unit of <paramref name="work"/> (0..<paramref name="units"/>-1, <paramref name="chunk"/> a claim) on
    /// the calling thread and on whichever workers join before the units run out; returns when all are done. Nothing
    /// waits for a worker to wake: a run no worker joins costs the caller one counter update per claim. A woken worker
    /// arrives too late for the run that woke it (waking takes longer than one image), so a run wakes a sleeping worker
    /// only when it starts within a worker's spin time of the last claimed run's end: calls that come in a stream get
    /// help from their second one on, and a call every few milliseconds pays no system call and keeps no other core
    /// spinning. It wakes one at most: waking them all would cost a many-core caller more than one image's work.
    /// </summary>
    public void RunClaimed<T>(ref T work, int units, int chunk = 1) where T : unmanaged, IClaimedWork
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(chunk, 1);
        if (units <= 0) return;
        // Every thread's last claim moves the counter up to a chunk past the end: it must not wrap.
        if ((long)units + (long)chunk * (DegreeOfParallelism + 1) > int.MaxValue)
            throw new ArgumentOutOfRangeException(nameof(units), units, $"At most {int.MaxValue} units and chunks a run, with room for one claim past the end per thread.");
        if (_claimsOn is not null)
        {
            if (RunsInline) work.ExecuteUnits(0, units);
            else _claimsOn.RunClaimed(ref work, units, chunk);
            return;
        }
        if (DegreeOfParallelism == 1 || units <= chunk || Interlocked.CompareExchange(ref _busy, 1, 0) != 0)
        {
            work.ExecuteUnits(0, units);
            return;
        }
        try
        {
            fixed (T* state = &work)
            {
                _fn = &InvokeUnits<T>;
                _state = state;
                _error = null;
                _units = units;
                _chunk = chunk;
                _nextUnit = 0;
                _finished = 0;
                int generation = (int)(Volatile.Read(ref _job) >> 32) + 1;
                Volatile.Write(ref _gate, (long)generation << 32);
                bool inStream = Stopwatch.GetTimestamp() - _lastClaimedRun < _spinTicks;
                Publish(claimed: true, DegreeOfParallelism, wakeAtMost: inStream ? 1 : 0);
                ClaimUnits();
                // Close the gate: a worker that has not joined by now never will, so only those that did are waited for,
                // and they hold at most one claim each.
                long gate = Interlocked.Or(ref _gate, GateClosed);
                int joined = (int)(gate & GateJoinedMask);
                var spin = new SpinWait();
                while (Volatile.Read(ref _finished) != joined) spin.SpinOnce(sleep1Threshold: -1);
                _state = null;
                _lastClaimedRun = Stopwatch.GetTimestamp();
            }
            _error?.Throw();
        }
        finally
        {
            Volatile.Write(ref _busy, 0);
        }
    }

    private const long GateClosed = 1L << 31;
    private const long GateJoinedMask = 0xFFFF;

    /// <summary>
    /// Starts a run: one write of its generation, kind and worker count, then wakes up to <paramref name="wakeAtMost"/>
    /// of the workers that sleep (a fixed-share run needs them all; a claimed run, see <see cref="RunClaimed{T}"/>).
    /// </summary>
    private void Publish(bool claimed, int workers, int wakeAtMost)
    {
        long generation = (Volatile.Read(ref _job) >> 32) + 1;
        Interlocked.Exchange(ref _job, (generation << 32) | (claimed ? JobClaimed : 0) | (uint)workers);
        for (int i = 0; i < workers - 1 && wakeAtMost > 0; i++)
            if (Interlocked.Exchange(ref _sleeping[i], 0) == 1)
            {
                _start[i].Set();
                wakeAtMost--;
            }
    }

    private const long JobClaimed = 1L << 31;

    /// <summary>Claims and runs chunks of the current claimed run until none is left; the first error stops the claims.</summary>
    private void ClaimUnits()
    {
        int units = _units, chunk = _chunk;
        while (true)
        {
            int start = Interlocked.Add(ref _nextUnit, chunk) - chunk;
            if (start >= units) return;
            try
            {
                _fn(_state, start, Math.Min(start + chunk, units));
            }
            catch (Exception e)
            {
                Interlocked.CompareExchange(ref _error, ExceptionDispatchInfo.Capture(e), null);
                Volatile.Write(ref _nextUnit, units);
                return;
            }
        }
    }

    /// <summary>A worker's part in claimed run <paramref name="generation"/>: join through the gate unless it is closed (or already another run's), then claim.</summary>
    private void JoinClaimed(int generation)
    {
        long gate = Volatile.Read(ref _gate);
        while (true)
        {
            if ((int)(gate >> 32) != generation || (gate & GateClosed) != 0) return;
            long seen = Interlocked.CompareExchange(ref _gate, gate + 1, gate);
            if (seen == gate) break;
            gate = seen;
        }
        try
        {
            ClaimUnits();
        }
        finally
        {
            Interlocked.Increment(ref _finished);   // the caller waits for this: it must come whatever happens
        }
    }

    /// <summary>The fixed shares of a run as claimed units: unit u is share u of <c>workers</c>.</summary>
    private readonly struct Shares<T>(T* work, int workers) : IClaimedWork where T : unmanaged, IParallelWork
    {
        public void ExecuteUnits(int start, int end)
        {
            for (int share = start; share < end; share++) work->Execute(share, workers);
        }
    }

    private static void Invoke<T>(void* state, int worker, int workers) where T : unmanaged, IParallelWork
        => Unsafe.AsRef<T>(state).Execute(worker, workers);

    private static void InvokeUnits<T>(void* state, int start, int end) where T : unmanaged, IClaimedWork
        => Unsafe.AsRef<T>(state).ExecuteUnits(start, end);

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
            long job;
            int generation;
            long spinUntil = Stopwatch.GetTimestamp() + _spinTicks;
            while ((generation = (int)((job = Volatile.Read(ref _job)) >> 32)) == seen)
            {
                if (Stopwatch.GetTimestamp() < spinUntil) { Thread.SpinWait(16); continue; }
                // Announce the sleep, then look once more: Run either sees the flag and wakes us, or we see its new generation.
                // The announcement must be a full fence (Interlocked, not a volatile write): x86 lets a load pass an
                // earlier store, and then we could read the old generation while Run still saw no sleeper: a lost wake-up.
                Interlocked.Exchange(ref _sleeping[worker - 1], 1);
                if ((int)(Volatile.Read(ref _job) >> 32) == seen) start.Wait();
                start.Reset();
                Volatile.Write(ref _sleeping[worker - 1], 0);
                spinUntil = Stopwatch.GetTimestamp() + _spinTicks;
            }
            seen = generation;
            if (_disposed) return;
            if ((job & JobClaimed) != 0)
            {
                JoinClaimed(generation);
                continue;
            }
            int workers = (int)(job & 0xFFFF);
            if (worker >= workers) continue;   // this run needs fewer workers
            try
            {
                _fn(_state, worker, workers);
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
        if (_disposed || _claimsOn is not null) return;
        var spin = new SpinWait();
        while (Interlocked.CompareExchange(ref _busy, 1, 0) != 0) spin.SpinOnce();   // let a run in flight finish
        _disposed = true;
        Interlocked.Exchange(ref _job, ((Volatile.Read(ref _job) >> 32) + 1) << 32);
        foreach (var s in _start) s.Set();
        foreach (var t in _threads) t.Join();
    }
}
