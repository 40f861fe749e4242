using NativeNet.Core.Kernels;
using NativeNet.Core.Backends;

namespace NativeNet.Core.Tests;

public class OptimizerAndDropoutTests
{
    public static TheoryData<CpuLevel, float, float, bool> Rules()
    {
        var data = new TheoryData<CpuLevel, float, float, bool>();
        foreach (var level in CpuContext.SupportedLevels)
        {
            data.Add(level, 0f, 0f, false);      // plain SGD: the vectorized path
            data.Add(level, 0.9f, 0f, false);    // momentum
            data.Add(level, 0.9f, 0f, true);     // Nesterov
            data.Add(level, 0f, 0.01f, false);   // L1
        }
        return data;
    }

    /// <summary>
    /// Every rule at every length 0..256 and every level, w, grad and velocity ending against a guard page: plain SGD equals
    /// its fused form fma(g, -eta/m, (1 - eta l2) w) bit for bit; the other rules match the book's formulas.
    /// </summary>
    [LinuxTheory]
    [MemberData(nameof(Rules))]
    public void Update_EveryLength_InGuardedMemory_MatchesTheFormulas(CpuLevel level, float mu, float l1, bool nesterov)
    {
        var cpu = CpuContext.For(level);
        const float eta = 0.5f, scale = 0.1f, l2 = 0.02f;
        var rule = new UpdateRule(eta, scale, l2, l1, mu, nesterov);
        for (int n = 0; n <= 256; n++)
        {
            var w0 = Reference.Random(n, 1 + n); var g = Reference.Random(n, 2 + n); var v0 = Reference.Random(n, 3 + n);
            using var w = GuardedMemory.CopyOf(w0);
            using var grad = GuardedMemory.CopyOf(g);
            using var v = GuardedMemory.CopyOf(v0);
            Optimizer.Update(w.Span, grad.Span, rule.UsesVelocity ? v.Span : default, rule, cpu);
            for (int i = 0; i < n; i++)
            {
                string what = $"{level} mu={mu} l1={l1} nesterov={nesterov} n={n} [{i}]";
                if (!rule.UsesVelocity && l1 == 0f)
                {
                    float expected = MathF.FusedMultiplyAdd(g[i], -(eta * scale), w0[i] * (1f - eta * l2));
                    Assert.True(expected == w.Span[i], $"{what}: {w.Span[i]}, expected {expected}");
                    continue;
                }
                double step = g[i] * scale + l2 * w0[i] + l1 * Math.Sign(w0[i]);
                if (mu == 0) { Assert.Equal(w0[i] - eta * step, w.Span[i], 1e-5); continue; }
                double vNew = mu * v0[i] - eta * step;
                Assert.Equal(vNew, v.Span[i], 1e-5);
                Assert.Equal(nesterov ? w0[i] - mu * v0[i] + (1 + mu) * vNew : w0[i] + vNew, w.Span[i], 1e-5);
            }
        }
    }

    [Fact]
    public void Update_RefusesMismatchedLengths()
    {
        var rule = new UpdateRule(0.1f, 1f, Momentum: 0.9f);
        Assert.Throws<ArgumentException>(() => Optimizer.Update(new float[4], new float[3], new float[4], rule, CpuContext.Default));
        Assert.Throws<ArgumentException>(() => Optimizer.Update(new float[4], new float[4], new float[3], rule, CpuContext.Default));
    }

    [Theory]
    [MemberData(nameof(CpuLevels.Supported), MemberType = typeof(CpuLevels))]
    public void DropoutMask_IsDeterministic_AndKeepsTheRightFraction(CpuLevel level)
    {
        var cpu = CpuContext.For(level);
        var a = new float[100_000]; var b = new float[100_000]; var c = new float[100_000];
        Dropout.Mask(a, 0.7f, 42, 3, cpu);
        Dropout.Mask(b, 0.7f, 42, 3, cpu);
        Dropout.Mask(c, 0.7f, 42, 4, cpu);
        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
        Assert.All(a, x => Assert.True(x == 0f || x == 1f));
        Assert.InRange(a.Average(), 0.69, 0.71);
        Assert.Throws<ArgumentOutOfRangeException>(() => Dropout.Mask(a, 0f, 1, 1, cpu));
    }

    /// <summary>The vector loop and the scalar tail both compute Uniform24 (the OpenCL kernel does too): every length 0..256, every level, guarded.</summary>
    [LinuxTheory]
    [MemberData(nameof(CpuLevels.Supported), MemberType = typeof(CpuLevels))]
    public void DropoutMask_EqualsTheScalarHash_AtEveryLength(CpuLevel level)
    {
        var cpu = CpuContext.For(level);
        foreach (float keep in new[] { 0.5f, 0.8f, 1f })
            for (int length = 0; length <= 256; length++)
            {
                using var mask = new GuardedMemory(length);
                Dropout.Mask(mask.Span, keep, 0xFEED, 7, cpu);
                uint threshold = (uint)Math.Min(keep * 16777216.0, 16777216.0);
                for (int i = 0; i < length; i++)
                    Assert.Equal(Dropout.Uniform24(0xFEED, 7, (ulong)i) < threshold ? 1f : 0f, mask.Span[i]);
            }
    }
}
