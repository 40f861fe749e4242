using System.Runtime.InteropServices;

namespace NativeNet.Core.Memory;

/// <summary>
/// A 64-byte aligned block of unmanaged floats. Aligned so that every Vector512 load at a
/// multiple of 16 floats stays inside one cache line; unmanaged so the GC never moves or scans it
/// and pointers taken from it stay valid for the buffer's lifetime.
/// </summary>
internal sealed unsafe class NativeBuffer : IDisposable
{
    public const int Alignment = 64;

    /// <summary>Floats in <see cref="Alignment"/> bytes: one cache line, one Vector512.</summary>
    public const int AlignmentFloats = Alignment / sizeof(float);

    private float* _ptr;

    public NativeBuffer(long length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        if (length > int.MaxValue)
            throw new ArgumentOutOfRangeException(nameof(length), length, "A buffer holds at most int.MaxValue floats.");
        Length = (int)length;
        // Allocate at least one line so an empty buffer still has a valid, aligned pointer.
        nuint bytes = (nuint)Math.Max(length * sizeof(float), Alignment);
        _ptr = (float*)NativeMemory.AlignedAlloc(bytes, Alignment);
        NativeMemory.Clear(_ptr, bytes);
        GC.AddMemoryPressure((long)bytes);
    }

    public int Length { get; }

    public float* Pointer
    {
        get
        {
            ObjectDisposedException.ThrowIf(_ptr == null, this);
            return _ptr;
        }
    }

    public Span<float> Span => new(Pointer, Length);

    public Span<float> Slice(int offset, int length) => Span.Slice(offset, length);


    public void Dispose()
    {
        if (_ptr == null) return;
        NativeMemory.AlignedFree(_ptr);
        GC.RemoveMemoryPressure(Math.Max((long)Length * sizeof(float), Alignment));
        _ptr = null;
        GC.SuppressFinalize(this);
    }

    ~NativeBuffer()
    {
        if (_ptr != null) NativeMemory.AlignedFree(_ptr);
    }
}

/// <summary>
/// A per-thread scratch buffer that only grows. Kernels use it for packing panels and
/// temporary tiles: the first call on a thread allocates, later calls of the same or smaller
/// size allocate nothing.
/// </summary>
internal static unsafe class ThreadScratch
{
    [ThreadStatic] private static NativeBuffer? s_a;
    [ThreadStatic] private static NativeBuffer? s_b;
    [ThreadStatic] private static NativeBuffer? s_c;

    /// <summary>First scratch slot (GEMM packs A here).</summary>
    public static float* A(int length) => Ensure(ref s_a, length);

    /// <summary>Second scratch slot (GEMM packs B here).</summary>
    public static float* B(int length) => Ensure(ref s_b, length);

    /// <summary>
    /// Third scratch slot: a partial product that the pool's workers write (GEMM's second k half; the fused dense
    /// backward's dz^T and second half of dx, which calls no GEMM while it holds them).
    /// </summary>
    public static float* C(int length) => Ensure(ref s_c, length);

    private static float* Ensure(ref NativeBuffer? slot, int length)
    {
        if (slot is null || slot.Length < length)
        {
            slot?.Dispose();
            slot = new NativeBuffer(length);
        }
        return slot.Pointer;
    }
}
