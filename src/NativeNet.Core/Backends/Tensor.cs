namespace NativeNet.Core.Backends;

/// <summary>
/// Storage that a backend owns: host memory for the CPU, a device buffer for OpenCL. The network never
/// touches it directly; data moves only through <see cref="IComputeBackend.Upload"/> and <see cref="IComputeBackend.Download"/>.
/// </summary>
public abstract class DeviceBuffer : IDisposable
{
    /// <summary>Capacity in floats.</summary>
    public abstract int Length { get; }
    /// <summary>The backend that made the buffer; only it may read or write it.</summary>
    public abstract IComputeBackend Backend { get; }
    /// <summary>Frees the memory. Tensors bound to the buffer must not be used afterwards.</summary>
    public abstract void Dispose();
}

/// <summary>
/// A named, shaped region of a <see cref="DeviceBuffer"/>: the handle that layers pass to backend primitives.
/// Tensors are made once when a network is built (usually carved from a <see cref="TensorArena"/>), never per step.
/// </summary>
public sealed class Tensor
{
    private DeviceBuffer? _buffer;
    private readonly int[] _dims;

    internal Tensor(string name, int[] dims)
    {
        long length = 1;
        foreach (int d in dims)
        {
            if (d < 0) throw new ArgumentException($"Tensor '{name}' has a negative dimension: [{string.Join(", ", dims)}].");
            length *= d;
        }
        if (length > int.MaxValue) throw new ArgumentException($"Tensor '{name}' [{string.Join(", ", dims)}] has more than int.MaxValue elements.");
        Name = name;
        _dims = (int[])dims.Clone();
        Length = (int)length;
    }

    /// <summary>Wraps a whole buffer (or a region of it) as a tensor.</summary>
    /// <param name="name">A name for error messages and <see cref="ToString"/>.</param>
    /// <param name="buffer">The storage; the tensor does not own it.</param>
    /// <param name="offset">Offset in floats of the first element inside <paramref name="buffer"/>.</param>
    /// <param name="dims">The shape; the tensor's length is their product.</param>
    /// <exception cref="ArgumentException">A dimension is negative, the length exceeds int.MaxValue, or the region does not fit the buffer.</exception>
    public Tensor(string name, DeviceBuffer buffer, int offset, params int[] dims) : this(name, dims)
    {
        if (offset < 0 || (long)offset + Length > buffer.Length)
            throw new ArgumentException($"Tensor '{name}' [{string.Join(", ", dims)}] at offset {offset} does not fit a buffer of {buffer.Length} floats.");
        Bind(buffer, offset);
    }

    /// <summary>The name given when the tensor was made (e.g. "L1.a" for layer 1's activations).</summary>
    public string Name { get; }
    /// <summary>The shape, outermost dimension first.</summary>
    public ReadOnlySpan<int> Dims => _dims;
    /// <summary>The number of dimensions.</summary>
    public int Rank => _dims.Length;
    /// <summary>The number of elements: the product of <see cref="Dims"/>.</summary>
    public int Length { get; }
    /// <summary>The size of one dimension.</summary>
    /// <param name="axis">0 for the outermost dimension.</param>
    /// <exception cref="IndexOutOfRangeException"><paramref name="axis"/> is not below <see cref="Rank"/>.</exception>
    public int Dim(int axis) => _dims[axis];

    /// <summary>Offset in floats of the first element inside <see cref="Buffer"/>.</summary>
    public int Offset { get; private set; }

    /// <summary>The storage the tensor is a region of.</summary>
    /// <exception cref="InvalidOperationException">The tensor is not bound yet (its arena is not committed).</exception>
    public DeviceBuffer Buffer => _buffer ?? throw new InvalidOperationException($"Tensor '{Name}' has no storage yet: commit its arena first.");

    /// <summary>Whether the tensor has storage (<see cref="Buffer"/> can be read).</summary>
    public bool IsBound => _buffer is not null;

    internal void Bind(DeviceBuffer buffer, int offset)
    {
        _buffer = buffer;
        Offset = offset;
    }

    /// <summary>The name and shape, e.g. "input[10, 784]".</summary>
    public override string ToString() => $"{Name}[{string.Join(", ", _dims)}]";
}

/// <summary>
/// Carves many tensors out of one backend allocation. Declare every tensor with <see cref="Allocate"/>,
/// then <see cref="Commit"/> makes one buffer and binds them all (each starts on a 64-byte boundary).
/// After that, training and inference allocate nothing.
/// </summary>
internal sealed class TensorArena : IDisposable
{
    private const int AlignFloats = Memory.NativeBuffer.AlignmentFloats;
    private readonly IComputeBackend _backend;
    private readonly List<(Tensor Tensor, int Offset)> _pending = [];
    private DeviceBuffer? _buffer;
    private long _size;

    public TensorArena(IComputeBackend backend) => _backend = backend;

    /// <summary>The backend the arena's buffer will live on.</summary>
    public IComputeBackend Backend => _backend;

    /// <summary>Floats reserved so far (the buffer's size after commit).</summary>
    public long Size => _size;

    public bool IsCommitted => _buffer is not null;

    public Tensor Allocate(string name, params int[] dims)
    {
        if (IsCommitted) throw new InvalidOperationException($"Arena already committed; cannot add tensor '{name}'.");
        var t = new Tensor(name, dims);
        _size = (_size + AlignFloats - 1) / AlignFloats * AlignFloats;
        if (_size + t.Length > int.MaxValue) throw new InvalidOperationException($"Arena would exceed int.MaxValue floats when adding '{name}'.");
        _pending.Add((t, (int)_size));
        _size += t.Length;
        return t;
    }

    /// <summary>Makes the one buffer (zero-filled) and binds every declared tensor to its region.</summary>
    public void Commit()
    {
        if (IsCommitted) return;
        _buffer = _backend.Allocate((int)Math.Max(_size, 1));
        foreach (var (t, offset) in _pending) t.Bind(_buffer, offset);
    }

    public void Dispose() => _buffer?.Dispose();
}
