using System.Buffers.Binary;
using System.IO.Compression;

namespace NativeNet.Data.Tests;

/// <summary>Builds IDX bytes by hand, independently of <see cref="IdxWriter"/>, so tests can also write malformed files.</summary>
internal static class Idx
{
    /// <summary>Header (00 00 type rank, big-endian sizes) followed by <paramref name="data"/>.</summary>
    public static byte[] Bytes(int[] dimensions, byte[] data, byte type = 0x08)
    {
        var bytes = new byte[4 + (4 * dimensions.Length) + data.Length];
        bytes[2] = type;
        bytes[3] = (byte)dimensions.Length;
        for (int i = 0; i < dimensions.Length; i++)
        {
            BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(4 + (4 * i)), dimensions[i]);
        }

        data.CopyTo(bytes, 4 + (4 * dimensions.Length));
        return bytes;
    }

    public static byte[] Gzip(byte[] content)
    {
        using var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.Optimal, leaveOpen: true))
        {
            gzip.Write(content);
        }

        return output.ToArray();
    }

    /// <summary>0, 1, 2, ... wrapping at 256: data whose every byte is checkable.</summary>
    public static byte[] Sequence(int length)
    {
        var data = new byte[length];
        for (int i = 0; i < length; i++)
        {
            data[i] = (byte)i;
        }

        return data;
    }
}

internal static class Allocations
{
    /// <summary>Managed bytes allocated on this thread while running <paramref name="action"/>.</summary>
    public static long Measure(Action action)
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        action();
        return GC.GetAllocatedBytesForCurrentThread() - before;
    }

    /// <summary>Runs <paramref name="action"/>, which must throw <typeparamref name="T"/>, and returns the bytes it allocated.</summary>
    public static long MeasureThrowing<T>(Action action)
        where T : Exception
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        Assert.Throws<T>(action);
        return GC.GetAllocatedBytesForCurrentThread() - before;
    }
}
