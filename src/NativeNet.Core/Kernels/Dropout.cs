using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace NativeNet.Core.Kernels;

/// <summary>
/// Dropout masks from a counter-based generator: element i of stream s under seed k is a pure function of
/// (k, s, i), so the CPU and any device draw the same mask with no state to carry between threads.
/// </summary>
internal static class Dropout
{
    /// <summary>mask[i] = 1 with probability keep, else 0.</summary>
    public static void Mask(Span<float> mask, float keep, ulong seed, ulong stream, CpuContext cpu)
    {
        if (!(keep > 0f && keep <= 1f)) throw new ArgumentOutOfRangeException(nameof(keep), keep, "The keep probability must be in (0, 1].");
        uint threshold = (uint)Math.Min(keep * 16777216.0, 16777216.0);
        int i = 0;
        if (cpu.HasVector512)
        {
            // The same hash, 16 indices at a time in 64-bit lanes (two vectors of 8, narrowed to one mask of 16 floats).
            var start = Vector512.Create(seed + 0x9E3779B97F4A7C15UL * (stream + 1));
            var lanes = Vector512.Create(1UL, 2, 3, 4, 5, 6, 7, 8);   // index + 1
            var limit = Vector512.Create((ulong)threshold);
            ref float dst = ref MemoryMarshal.GetReference(mask);
            for (; i <= mask.Length - 16; i += 16)
            {
                var low = Vector512.LessThan(Uniform24(start, lanes + Vector512.Create((ulong)i)), limit);
                var high = Vector512.LessThan(Uniform24(start, lanes + Vector512.Create((ulong)i + 8)), limit);
                var keepLanes = Vector512.Narrow(low, high).AsSingle();   // all ones where kept
                Vector512.ConditionalSelect(keepLanes, Vector512<float>.One, Vector512<float>.Zero).StoreUnsafe(ref dst, (nuint)i);
            }
        }
        else if (cpu.HasVector256)
        {
            // The same hash, 8 indices at a time in 64-bit lanes (two vectors of 4); AVX2 has no 64-bit multiply, so
            // each product is put together from 32-bit ones (Multiply64).
            var start = Vector256.Create(seed + 0x9E3779B97F4A7C15UL * (stream + 1));
            var lanes = Vector256.Create(1UL, 2, 3, 4);   // index + 1
            var limit = Vector256.Create((long)threshold);
            ref float dst = ref MemoryMarshal.GetReference(mask);
            for (; i <= mask.Length - 8; i += 8)
            {
                // Hashes are below 2^24, so the signed 64-bit compare AVX2 has is exact.
                var low = Vector256.LessThan(Uniform24(start, lanes + Vector256.Create((ulong)i)).AsInt64(), limit);
                var high = Vector256.LessThan(Uniform24(start, lanes + Vector256.Create((ulong)i + 4)).AsInt64(), limit);
                var keepLanes = Vector256.Narrow(low, high).AsSingle();   // all ones where kept
                Vector256.ConditionalSelect(keepLanes, Vector256<float>.One, Vector256<float>.Zero).StoreUnsafe(ref dst, (nuint)i);
            }
        }
        for (; i < mask.Length; i++)
            mask[i] = Uniform24(seed, stream, (ulong)i) < threshold ? 1f : 0f;
    }

    /// <summary><see cref="Uniform24(ulong, ulong, ulong)"/> in four lanes, as the Vector512 overload.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<ulong> Uniform24(Vector256<ulong> start, Vector256<ulong> indexPlusOne)
    {
        var z = start + Multiply64(indexPlusOne, 0xD1B54A32D192ED03UL);
        z = Multiply64(z ^ Vector256.ShiftRightLogical(z, 30), 0xBF58476D1CE4E5B9UL);
        z = Multiply64(z ^ Vector256.ShiftRightLogical(z, 27), 0x94D049BB133111EBUL);
        z ^= Vector256.ShiftRightLogical(z, 31);
        return Vector256.ShiftRightLogical(z, 40);
    }

    /// <summary>
    /// x * c modulo 2^64 in each lane from AVX2's 32 x 32 -> 64-bit products: lo(x) lo(c) + (hi(x) lo(c) + lo(x) hi(c)) 2^32.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<ulong> Multiply64(Vector256<ulong> x, ulong c)
    {
        var cLow = Vector256.Create(c & 0xFFFFFFFFUL).AsUInt32();
        var cHigh = Vector256.Create(c >> 32).AsUInt32();
        var cross = Avx2.Multiply(Vector256.ShiftRightLogical(x, 32).AsUInt32(), cLow) + Avx2.Multiply(x.AsUInt32(), cHigh);
        return Avx2.Multiply(x.AsUInt32(), cLow) + Vector256.ShiftLeft(cross, 32);
    }

    /// <summary><see cref="Uniform24(ulong, ulong, ulong)"/> in eight lanes: start is seed + golden * (stream + 1), indexPlusOne the lanes' index + 1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<ulong> Uniform24(Vector512<ulong> start, Vector512<ulong> indexPlusOne)
    {
        var z = start + Vector512.Create(0xD1B54A32D192ED03UL) * indexPlusOne;
        z = (z ^ Vector512.ShiftRightLogical(z, 30)) * Vector512.Create(0xBF58476D1CE4E5B9UL);
        z = (z ^ Vector512.ShiftRightLogical(z, 27)) * Vector512.Create(0x94D049BB133111EBUL);
        z ^= Vector512.ShiftRightLogical(z, 31);
        return Vector512.ShiftRightLogical(z, 40);
    }

    /// <summary>The top 24 bits of a SplitMix64-finalized hash of (seed, stream, index).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint Uniform24(ulong seed, ulong stream, ulong index)
    {
        ulong z = seed + 0x9E3779B97F4A7C15UL * (stream + 1) + 0xD1B54A32D192ED03UL * (index + 1);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        z ^= z >> 31;
        return (uint)(z >> 40);
    }
}
