using NativeNet.Core.Threading;

namespace NativeNet.Baselines;

/// <summary>
/// The rows of an <see cref="RbfKernel"/>'s matrix that an SMO solver asks for, kept in a bounded store. Rows are
/// computed in blocks of consecutive rows, one GEMM per block (one row alone would be a matrix-vector product, bound by
/// reading all n points from memory for 2 d n flops); the least recently used block is evicted when the store is full.
/// The store is one array, reused from problem to problem (<see cref="Reset"/>), so a solver that runs many problems
/// allocates it once.
/// </summary>
internal sealed class KernelRowCache
{
    private readonly long _capacityFloats;
    private readonly int _blockRows;
    private float[] _store = [];
    private RbfKernel? _kernel;
    private WorkerPool? _pool;
    private int _n, _slots;
    private int[] _slotOfBlock = [];   // -1: not cached
    private int[] _blockOfSlot = [];   // -1: free
    private long[] _lastUse = [];      // per slot, from _clock
    private long _clock;

    /// <param name="capacityBytes">Upper bound on the store; at least two blocks are always kept, whatever it says.</param>
    /// <param name="blockRows">Rows computed together on a miss.</param>
    public KernelRowCache(long capacityBytes, int blockRows)
    {
        if (capacityBytes < 0) throw new ArgumentOutOfRangeException(nameof(capacityBytes), capacityBytes, "The cache size must not be negative.");
        if (blockRows < 1) throw new ArgumentOutOfRangeException(nameof(blockRows), blockRows, "A block holds at least one row.");
        _capacityFloats = capacityBytes / sizeof(float);
        _blockRows = blockRows;
    }

    /// <summary>Rows computed since the last <see cref="Reset"/> (a multiple of the block size, but for the last block).</summary>
    public long RowsComputed { get; private set; }

    /// <summary>How many blocks fit in the store for the current problem.</summary>
    public int Slots => _slots;

    /// <summary>Empties the cache and points it at a new kernel (a new problem); grows the store when it must.</summary>
    public void Reset(RbfKernel kernel, WorkerPool? pool)
    {
        _kernel = kernel;
        _pool = pool;
        _n = kernel.Count;
        int blocks = (_n + _blockRows - 1) / _blockRows;
        long blockFloats = Math.Max(1L, (long)_blockRows * _n);
        _slots = (int)Math.Clamp(_capacityFloats / blockFloats, Math.Min(2, blocks), blocks);
        long need = _slots * blockFloats;
        if (need > Array.MaxLength) throw new ArgumentException($"A kernel cache of {_slots} blocks of {_blockRows} x {_n} floats is larger than an array can be; lower the cache size or the block rows.");
        if (_store.Length < need) _store = GC.AllocateUninitializedArray<float>((int)need);
        _slotOfBlock = new int[blocks];
        Array.Fill(_slotOfBlock, -1);
        _blockOfSlot = new int[_slots];
        Array.Fill(_blockOfSlot, -1);
        _lastUse = new long[_slots];
        _clock = 0;
        RowsComputed = 0;
    }

    /// <summary>
    /// Row <paramref name="i"/> of the kernel matrix (n values). The span stays valid until a later call evicts its
    /// block: with at least two slots, the row returned by the call just before this one is never evicted by it.
    /// </summary>
    public ReadOnlySpan<float> Row(int i)
    {
        var kernel = _kernel ?? throw new InvalidOperationException("Reset the cache with a kernel first.");
        if ((uint)i >= (uint)_n) throw new ArgumentOutOfRangeException(nameof(i), i, $"The kernel has {_n} rows.");
        int block = i / _blockRows;
        int slot = _slotOfBlock[block];
        if (slot < 0)
        {
            slot = FreeOrLeastRecentSlot();
            if (_blockOfSlot[slot] >= 0) _slotOfBlock[_blockOfSlot[slot]] = -1;
            int first = block * _blockRows, rows = Math.Min(_blockRows, _n - first);
            kernel.Rows(first, rows, SlotSpan(slot, rows), _pool);
            RowsComputed += rows;
            _blockOfSlot[slot] = block;
            _slotOfBlock[block] = slot;
        }
        _lastUse[slot] = ++_clock;
        return SlotSpan(slot, _blockRows).Slice((i - block * _blockRows) * _n, _n);
    }

    private Span<float> SlotSpan(int slot, int rows) => _store.AsSpan(slot * _blockRows * _n, rows * _n);

    private int FreeOrLeastRecentSlot()
    {
        int best = 0;
        for (int s = 0; s < _slots; s++)
        {
            if (_blockOfSlot[s] < 0) return s;
            if (_lastUse[s] < _lastUse[best]) best = s;
        }
        return best;
    }
}
