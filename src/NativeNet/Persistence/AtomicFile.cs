using System.Diagnostics;

namespace NativeNet.Persistence;

/// <summary>
/// Writes a file so that readers see the old file or the new one, never a torn one: through a temporary beside it
/// (<c>.{name}.{pid}.tmp</c>), flushed to disk, then renamed over it. A write that fails (a full disk, a read-only
/// folder) removes its temporary and leaves the old file as it was; temporaries that a killed process left behind for
/// the same path are removed by the next write.
/// </summary>
internal static class AtomicFile
{
    /// <summary>Creates <paramref name="path"/>'s folder if needed, lets <paramref name="write"/> fill the temporary, then renames it into place.</summary>
    public static void Write(string path, Action<FileStream> write)
    {
        string full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        RemoveStaleTemporaries(full);
        string tmp = TemporaryPath(full, Environment.ProcessId);
        try
        {
            using (var fs = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None))
            {
                write(fs);
                fs.Flush(flushToDisk: true);
            }
            File.Move(tmp, full, overwrite: true);
        }
        catch
        {
            try { File.Delete(tmp); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            throw;
        }
    }

    /// <summary>Writes all of <paramref name="bytes"/> atomically.</summary>
    public static void WriteAllBytes(string path, ReadOnlyMemory<byte> bytes) => Write(path, fs => fs.Write(bytes.Span));

    /// <summary>The temporary a process writes <paramref name="path"/> through: <c>.{name}.{pid}.tmp</c> beside it.</summary>
    public static string TemporaryPath(string path, int processId) =>
        Path.Combine(Path.GetDirectoryName(path)!, $".{Path.GetFileName(path)}.{processId}.tmp");

    /// <summary>
    /// Removes the temporaries of writes to <paramref name="path"/> that a killed process left behind: those whose
    /// process no longer runs. A live writer's temporary (another process's, or this one's) is left alone.
    /// </summary>
    public static void RemoveStaleTemporaries(string path)
    {
        string dir = Path.GetDirectoryName(Path.GetFullPath(path))!, prefix = $".{Path.GetFileName(path)}.";
        if (!Directory.Exists(dir)) return;
        foreach (var file in Directory.EnumerateFiles(dir, "*.tmp"))
        {
            string name = Path.GetFileName(file);
            if (!name.StartsWith(prefix, StringComparison.Ordinal) || name.Length <= prefix.Length + ".tmp".Length) continue;
            if (!int.TryParse(name.AsSpan(prefix.Length, name.Length - prefix.Length - ".tmp".Length), out int pid)) continue;
            if (pid == Environment.ProcessId || IsRunning(pid)) continue;
            try { File.Delete(file); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    private static bool IsRunning(int pid)
    {
        try
        {
            using var p = Process.GetProcessById(pid);
            return !p.HasExited;
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            return false;
        }
    }
}
