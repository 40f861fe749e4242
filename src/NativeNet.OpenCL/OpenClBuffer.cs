using NativeNet.Core.Backends;

namespace NativeNet.OpenCL;

/// <summary>A device buffer (cl_mem) of floats owned by one <see cref="OpenClBackend"/>. Data moves only through the backend's Upload/Download.</summary>
internal sealed class OpenClBuffer : DeviceBuffer
{
    private readonly OpenClBackend _owner;
    private nint _mem;

    internal OpenClBuffer(OpenClBackend owner, nint mem, int length)
    {
        _owner = owner;
        _mem = mem;
        Length = length;
    }

    public override int Length { get; }
    public override IComputeBackend Backend => _owner;
    internal OpenClBackend Owner => _owner;

    /// <summary>The cl_mem handle (zero once disposed).</summary>
    internal nint Handle => _mem != 0 ? _mem : throw new ObjectDisposedException(nameof(OpenClBuffer), "This OpenCL buffer was disposed.");

    public override void Dispose()
    {
        nint mem = Interlocked.Exchange(ref _mem, 0);
        if (mem != 0) _owner.ReleaseBuffer(mem);
    }
}
