using System.Runtime.InteropServices;

namespace NativeNet.Tests;

/// <summary>
/// Resident memory of this process from /proc/self/status (Linux): the current size and the peak since the last
/// <see cref="ResetPeak"/>. Tests that read it run in the <see cref="MemoryMeasurements"/> collection, alone.
/// </summary>
internal static partial class ProcessMemory
{
    public static bool Available => OperatingSystem.IsLinux() && File.Exists("/proc/self/status");

    public static long Resident => Field("VmRSS:");

    public static long Peak => Field("VmHWM:");

    /// <summary>Starts a new peak from the current size (writing 5 to clear_refs); false where the kernel does not allow it.</summary>
    public static bool ResetPeak()
    {
        try
        {
            File.WriteAllText("/proc/self/clear_refs", "5");
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>Collects garbage, runs finalizers and hands freed native memory back to the system, so <see cref="Resident"/> means what is in use.</summary>
    public static void Settle()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        if (OperatingSystem.IsLinux())
        {
            try { malloc_trim(0); }
            catch (EntryPointNotFoundException) { }   // not glibc
            catch (DllNotFoundException) { }
        }
    }

    [LibraryImport("libc")]
    private static partial int malloc_trim(nuint pad);

    private static long Field(string name)
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
            if (line.StartsWith(name, StringComparison.Ordinal))
                return long.Parse(line[name.Length..].Trim().Split(' ')[0]) * 1024;
        throw new InvalidOperationException($"/proc/self/status has no {name}");
    }
}

/// <summary>Tests that measure the whole process's memory: they run alone, after the parallel ones.</summary>
[CollectionDefinition(nameof(MemoryMeasurements), DisableParallelization = true)]
public sealed class MemoryMeasurements;
