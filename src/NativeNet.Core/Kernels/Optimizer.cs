using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

using NativeNet.Core.Backends;

namespace NativeNet.Core.Kernels;

/// <summary>The optimizer step of <see cref="UpdateRule"/> on host spans.</summary>
internal static class Optimizer
{
    /// <summary>w (and velocity, with momentum) after one step of <paramref name="r"/>; velocity is unused without momentum.</summary>
    public static void Update(Span<float> w, ReadOnlySpan<float> grad, Span<float> velocity, in UpdateRule r, CpuContext cpu)
    {
        Elementwise.CheckSame(w.Length, grad.Length, nameof(grad));
        if (r.UsesVelocity) Elementwise.CheckSame(w.Length, velocity.Length, nameof(velocity));
        float eta = r.LearningRate, mu = r.Momentum;
        if (!r.UsesVelocity && r.L1 == 0f)
        {
            PlainSgd(w, grad, eta * r.GradientScale, 1f - eta * r.L2, cpu.Level);
            return;
        }
        for (int i = 0; i < w.Length; i++)
        {
            float wi = w[i];
            float g = grad[i] * r.GradientScale + r.L2 * wi + (r.L1 == 0f ? 0f : r.L1 * MathF.Sign(wi));
            if (!r.UsesVelocity) { w[i] = wi - eta * g; continue; }
            float v = velocity[i], vNew = mu * v - eta * g;
            velocity[i] = vNew;
            w[i] = r.Nesterov ? wi - mu * v + (1f + mu) * vNew : wi + vNew;
        }
    }

    /// <summary>The common case, vectorized: w = fma(grad, -step, decay * w) for every element.</summary>
    private static void PlainSgd(Span<float> w, ReadOnlySpan<float> grad, float step, float decay, CpuLevel level)
    {
        int i = 0, n = w.Length;
        ref float pw = ref MemoryMarshal.GetReference(w);
        ref float pg = ref MemoryMarshal.GetReference(grad);
        if (level >= CpuLevel.Avx512)
        {
            var vs = Vector512.Create(-step); var vd = Vector512.Create(decay);
            for (; i <= n - 16; i += 16)
                Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref pg, (nuint)i), vs, Vector512.LoadUnsafe(ref pw, (nuint)i) * vd).StoreUnsafe(ref pw, (nuint)i);
        }
        else if (level >= CpuLevel.Avx2)
        {
            var vs = Vector256.Create(-step); var vd = Vector256.Create(decay);
            for (; i <= n - 8; i += 8)
                Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref pg, (nuint)i), vs, Vector256.LoadUnsafe(ref pw, (nuint)i) * vd).StoreUnsafe(ref pw, (nuint)i);
        }
        for (; i < n; i++) w[i] = MathF.FusedMultiplyAdd(grad[i], -step, w[i] * decay);
    }
}
