using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace NativeNet.Core.Kernels;

/// <summary>
/// One gradient-descent step for a parameter tensor. With g = grad * GradientScale + L2 * w + L1 * sign(w):
/// plain SGD w -= eta g; momentum v = mu v - eta g, w += v; Nesterov v' = mu v - eta g, w += -mu v + (1 + mu) v'.
/// With GradientScale = 1/m and L2 = lambda/n this is the book's w &lt;- (1 - eta lambda / n) w - (eta / m) sum grad.
/// </summary>
public readonly record struct UpdateRule(float LearningRate, float GradientScale, float L2 = 0f, float L1 = 0f, float Momentum = 0f, bool Nesterov = false)
{
    public bool UsesVelocity => Momentum != 0f;
}

public static class Optimizer
{
    public static void Update(Span<float> w, ReadOnlySpan<float> grad, Span<float> velocity, in UpdateRule r)
    {
        Elementwise.CheckSame(w.Length, grad.Length, nameof(grad));
        if (r.UsesVelocity) Elementwise.CheckSame(w.Length, velocity.Length, nameof(velocity));
        float eta = r.LearningRate, mu = r.Momentum;
        int i0 = 0;
        if (!r.UsesVelocity && r.L1 == 0f) i0 = PlainSgd(w, grad, eta * r.GradientScale, 1f - eta * r.L2);
        for (int i = i0; i < w.Length; i++)
        {
            float wi = w[i];
            float g = grad[i] * r.GradientScale + r.L2 * wi + (r.L1 == 0f ? 0f : r.L1 * MathF.Sign(wi));
            if (!r.UsesVelocity) { w[i] = wi - eta * g; continue; }
            float v = velocity[i], vNew = mu * v - eta * g;
            velocity[i] = vNew;
            w[i] = r.Nesterov ? wi - mu * v + (1f + mu) * vNew : wi + vNew;
        }
    }

    /// <summary>The common case, vectorized: w = decay * w - step * grad. Returns how many elements it did (the rest is the scalar tail).</summary>
    private static int PlainSgd(Span<float> w, ReadOnlySpan<float> grad, float step, float decay)
    {
        int i = 0, n = w.Length;
        ref float pw = ref MemoryMarshal.GetReference(w);
        ref float pg = ref MemoryMarshal.GetReference(grad);
        if (Vector512.IsHardwareAccelerated)
        {
            var vs = Vector512.Create(-step); var vd = Vector512.Create(decay);
            for (; i <= n - 16; i += 16)
                Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref pg, (nuint)i), vs, Vector512.LoadUnsafe(ref pw, (nuint)i) * vd).StoreUnsafe(ref pw, (nuint)i);
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            var vs = Vector256.Create(-step); var vd = Vector256.Create(decay);
            for (; i <= n - 8; i += 8)
                Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref pg, (nuint)i), vs, Vector256.LoadUnsafe(ref pw, (nuint)i) * vd).StoreUnsafe(ref pw, (nuint)i);
        }
        for (; i < n; i++) w[i] = MathF.FusedMultiplyAdd(grad[i], -step, w[i] * decay);
        return n;
    }
}

/// <summary>
/// Dropout masks from a counter-based generator: element i of stream s under seed k is a pure function of
/// (k, s, i), so the CPU and any device draw the same mask with no state to carry between threads.
/// </summary>
public static class Dropout
{
    /// <summary>mask[i] = 1 with probability keep, else 0.</summary>
    public static void Mask(Span<float> mask, float keep, ulong seed, ulong stream)
    {
        if (!(keep > 0f && keep <= 1f)) throw new ArgumentOutOfRangeException(nameof(keep), keep, "The keep probability must be in (0, 1].");
        uint threshold = (uint)Math.Min(keep * 16777216.0, 16777216.0);
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
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
        for (; i < mask.Length; i++)
            mask[i] = Uniform24(seed, stream, (ulong)i) < threshold ? 1f : 0f;
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
