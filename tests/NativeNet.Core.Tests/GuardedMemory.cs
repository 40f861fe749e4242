using System.Runtime.InteropServices;

namespace NativeNet.Core.Tests;

/// <summary>
/// Floats placed flush against an inaccessible page, so that any read or write past their end faults at once (the test
/// process dies with SIGSEGV) instead of silently touching a neighbour. Linux only (mmap / mprotect).
/// </summary>
internal sealed unsafe partial class GuardedMemory : IDisposable
{
    private const int ProtNone = 0, ProtReadWrite = 3, MapPrivateAnonymous = 0x02 | 0x20;
    private readonly byte* _base;
    private readonly nuint _mapped;

    /// <summary>The floats: the last one ends where the guard page begins.</summary>
    public float* Pointer { get; }
    public int Length { get; }
    public Span<float> Span => new(Pointer, Length);

    public GuardedMemory(int length)
    {
        nuint page = (nuint)Environment.SystemPageSize;
        nuint data = ((nuint)Math.Max(1, length) * sizeof(float) + page - 1) / page * page;
        _mapped = data + page;
        _base = (byte*)mmap(null, _mapped, ProtReadWrite, MapPrivateAnonymous, -1, 0);
        if ((nint)_base == -1) throw new InvalidOperationException($"mmap of {_mapped} bytes failed (errno {Marshal.GetLastPInvokeError()}).");
        if (mprotect(_base + data, page, ProtNone) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            munmap(_base, _mapped);
            throw new InvalidOperationException($"mprotect failed (errno {errno}).");
        }
        Length = length;
        Pointer = (float*)(_base + data) - length;
    }

    private bool _disposed;

    /// <summary>Guarded memory holding a copy of <paramref name="data"/>, its last float against the guard page.</summary>
    public static GuardedMemory CopyOf(ReadOnlySpan<float> data)
    {
        var memory = new GuardedMemory(data.Length);
        data.CopyTo(memory.Span);
        return memory;
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        if (munmap(_base, _mapped) != 0) throw new InvalidOperationException($"munmap failed (errno {Marshal.GetLastPInvokeError()}).");
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial void* mmap(void* addr, nuint length, int prot, int flags, int fd, nint offset);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int mprotect(void* addr, nuint length, int prot);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int munmap(void* addr, nuint length);
}

/// <summary>A fact that needs <see cref="GuardedMemory"/>: skipped, and saying why, where there is no Linux mmap.</summary>
public sealed class LinuxFactAttribute : FactAttribute
{
    public LinuxFactAttribute()
    {
        if (!OperatingSystem.IsLinux()) Skip = "needs Linux mmap/mprotect guard pages";
    }
}

/// <summary>A theory that needs <see cref="GuardedMemory"/>: skipped, and saying why, where there is no Linux mmap.</summary>
public sealed class LinuxTheoryAttribute : TheoryAttribute
{
    public LinuxTheoryAttribute()
    {
        if (!OperatingSystem.IsLinux()) Skip = "needs Linux mmap/mprotect guard pages";
    }
}
