using NativeNet.Core.Backends;
using NativeNet.Core.Gemm;
using NativeNet.Core.Kernels;
using Silk.NET.OpenCL;

namespace NativeNet.OpenCL;

/// <summary>The allocator role: device buffers, host transfers, fills, copies and the scratch buffer (fill and copy kernels of elementwise.cl).</summary>
public sealed unsafe partial class OpenClBackend
{
    private nint CreateMem(long bytes)
    {
        int err;
        nint mem = _cl.CreateBuffer(_context, MemFlags.ReadWrite, (nuint)Math.Max(bytes, 4), null, &err);
        if (err != 0)
            ClNative.Check(err, "clCreateBuffer", DeviceName, $"{bytes} bytes requested; the device allows {MaxAllocationBytes} per buffer and has {Device.GlobalMemoryBytes} in all");
        return mem;
    }

    internal void ReleaseBuffer(nint mem)
    {
        if (_disposed) { _cl.ReleaseMemObject(mem); return; }
        Check(_cl.ReleaseMemObject(mem), "clReleaseMemObject");
    }

    /// <inheritdoc/>
    public DeviceBuffer Allocate(int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        ObjectDisposedException.ThrowIf(_disposed, this);
        nint mem = CreateMem((long)length * sizeof(float));
        var buffer = new OpenClBuffer(this, mem, length);
        try
        {
            // Zero-filled like the CPU backend's buffers (the arena relies on it).
            if (length > 0)
                lock (_lock)
                {
                    var a = new Args(this, _fill);
                    a.AddMem(mem); a.Add(0); a.Add(0f); a.Add(length);
                    Launch(_fill, length);
                }
        }
        catch
        {
            buffer.Dispose();
            throw;
        }
        return buffer;
    }

    /// <inheritdoc/>
    public void Upload(ReadOnlySpan<float> source, Tensor destination, int offset = 0)
    {
        Own(destination, 0, nameof(destination));
        if (offset < 0 || (long)offset + source.Length > destination.Length)
            throw new ArgumentOutOfRangeException(nameof(offset), $"Upload of {source.Length} floats at offset {offset} does not fit tensor {destination} ({destination.Length} elements).");
        if (source.Length == 0) return;
        nint mem = ((OpenClBuffer)destination.Buffer).Handle;
        lock (_lock)
            fixed (float* p = source)
                Check(_cl.EnqueueWriteBuffer(_queue, mem, true, (nuint)(((long)destination.Offset + offset) * sizeof(float)),
                    (nuint)((long)source.Length * sizeof(float)), p, 0, null, null), "clEnqueueWriteBuffer");
    }

    /// <inheritdoc/>
    public void Download(Tensor source, Span<float> destination, int offset = 0)
    {
        Own(source, 0, nameof(source));
        if (offset < 0 || (long)offset + destination.Length > source.Length)
            throw new ArgumentOutOfRangeException(nameof(offset), $"Download of {destination.Length} floats at offset {offset} does not fit tensor {source} ({source.Length} elements).");
        if (destination.Length == 0) return;
        nint mem = ((OpenClBuffer)source.Buffer).Handle;
        lock (_lock)
            fixed (float* p = destination)
                Check(_cl.EnqueueReadBuffer(_queue, mem, true, (nuint)(((long)source.Offset + offset) * sizeof(float)),
                    (nuint)((long)destination.Length * sizeof(float)), p, 0, null, null), "clEnqueueReadBuffer");
    }

    /// <inheritdoc/>
    public void Fill(Tensor t, float value, int length)
    {
        CheckCount(length, nameof(length));
        Own(t, length, nameof(t));
        if (length == 0) return;
        lock (_lock)
        {
            var a = new Args(this, _fill);
            a.Add(t); a.Add(value); a.Add(length);
            Launch(_fill, length);
        }
    }

    /// <inheritdoc/>
    public void Copy(Tensor source, Tensor destination, int length)
    {
        CheckCount(length, nameof(length));
        Own(source, length, nameof(source));
        Own(destination, length, nameof(destination));
        if (length == 0) return;
        nint src = ((OpenClBuffer)source.Buffer).Handle, dst = ((OpenClBuffer)destination.Buffer).Handle;
        bool sameBuffer = src == dst;
        if (sameBuffer && source.Offset == destination.Offset) return;
        bool overlap = sameBuffer && source.Offset < destination.Offset + length && destination.Offset < source.Offset + length;
        lock (_lock)
        {
            if (!overlap)
            {
                CopyRaw(src, source.Offset, dst, destination.Offset, length);
                return;
            }
            // Overlapping ranges (memmove semantics, as on the CPU) go through a device scratch buffer.
            EnsureScratch(length);
            CopyRaw(src, source.Offset, _scratch, 0, length);
            CopyRaw(_scratch, 0, dst, destination.Offset, length);
        }
    }

    /// <summary>
    /// Grows the device scratch buffer (overlapping copies, split-K slice results) to at least <paramref name="floats"/>;
    /// called under the lock. It only grows, so a training loop's shapes reach their size in the first step. Kernels
    /// already queued that read it keep the old buffer alive: OpenCL releases a buffer after its last queued use.
    /// </summary>
    private void EnsureScratch(long floats)
    {
        if (_scratchFloats >= floats) return;
        if (_scratch != 0) { Check(_cl.ReleaseMemObject(_scratch), "clReleaseMemObject"); _scratch = 0; _scratchFloats = 0; }
        _scratch = CreateMem(floats * sizeof(float));
        _scratchFloats = floats;
    }

    private void CopyRaw(nint src, int srcOffset, nint dst, int dstOffset, int length)
    {
        var a = new Args(this, _copy);
        a.AddMem(src); a.Add(srcOffset); a.AddMem(dst); a.Add(dstOffset); a.Add(length);
        Launch(_copy, length);
    }
}
