using NativeNet.Core.Kernels;
using NativeNet.Core.Backends;

namespace NativeNet.Core.Tests;

public class ElementwiseTests
{
    private static readonly int[] SomeLengths = [0, 1, 2, 7, 8, 15, 16, 17, 31, 33, 64, 71, 257];

    /// <summary>Every length 0..256 at every level: each vector width, each tail.</summary>
    private static IEnumerable<int> AllLengths => Enumerable.Range(0, 257);

    [Theory]
    [MemberData(nameof(CpuLevels.Supported), MemberType = typeof(CpuLevels))]
    public void ActivationsAndDerivatives_MatchScalarFormulas(CpuLevel level)
    {
        var cpu = CpuContext.For(level);
        foreach (int n in SomeLengths)
        {
            var z = Reference.Random(n, n, 4f);
            var g = Reference.Random(n, n + 1);
            foreach (var f in Enum.GetValues<Activation>())
            {
                var a = new float[n];
                Elementwise.Activate(f, z, a);
                var da = new float[n];
                Elementwise.ActivationBackward(f, a, g, da, cpu);
                for (int i = 0; i < n; i++)
                {
                    double x = z[i];
                    double expect = f switch { Activation.Sigmoid => 1 / (1 + Math.Exp(-x)), Activation.Tanh => Math.Tanh(x), Activation.ReLU => Math.Max(0, x), _ => x };
                    double deriv = f switch { Activation.Sigmoid => expect * (1 - expect), Activation.Tanh => 1 - expect * expect, Activation.ReLU => x > 0 ? 1 : 0, _ => 1 };
                    Assert.True(Math.Abs(a[i] - expect) < 1e-5, $"{f}({x}) = {a[i]}, expected {expect}");
                    Assert.True(Math.Abs(da[i] - g[i] * deriv) < 1e-5, $"{level} {f}'({x}) * {g[i]} = {da[i]}");
                }
            }
        }
    }

    /// <summary>
    /// The fused derivative and output-error kernels at every length 0..256, their operands ending against a guard page
    /// (a read or write past the end kills the process), equal bit for bit to the same formula in scalar float arithmetic.
    /// </summary>
    [LinuxTheory]
    [MemberData(nameof(CpuLevels.Supported), MemberType = typeof(CpuLevels))]
    public void DerivativeAndOutputErrorKernels_EveryLength_InGuardedMemory_EqualTheScalarFormula(CpuLevel level)
    {
        var cpu = CpuContext.For(level);
        foreach (int n in AllLengths)
        {
            var a = Reference.Random(n, n).Select(v => (v + 1) / 2).ToArray();   // outputs of a sigmoid: in (0, 1)
            var g = Reference.Random(n, n + 1000);
            using var ga = GuardedMemory.CopyOf(a);
            using var gg = GuardedMemory.CopyOf(g);
            using var result = new GuardedMemory(n);
            foreach (var f in new[] { Activation.Sigmoid, Activation.Tanh, Activation.ReLU, Activation.Identity })
            {
                Elementwise.ActivationBackward(f, ga.Span, gg.Span, result.Span, cpu);
                for (int i = 0; i < n; i++)
                {
                    float expected = f switch
                    {
                        Activation.Sigmoid => g[i] * a[i] * (1f - a[i]),
                        Activation.Tanh => g[i] * (1f - a[i] * a[i]),
                        Activation.ReLU => a[i] > 0f ? g[i] : 0f,
                        _ => g[i],
                    };
                    AssertSameBits(expected, result.Span[i], $"{level} {f}' n={n} [{i}]");
                }
            }
            Elementwise.OutputDelta(OutputCost.SigmoidQuadratic, ga.Span, gg.Span, result.Span, cpu);
            for (int i = 0; i < n; i++) AssertSameBits((a[i] - g[i]) * a[i] * (1f - a[i]), result.Span[i], $"{level} quadratic delta n={n} [{i}]");
            Elementwise.OutputDelta(OutputCost.SoftmaxLogLikelihood, ga.Span, gg.Span, result.Span, cpu);
            for (int i = 0; i < n; i++) AssertSameBits(a[i] - g[i], result.Span[i], $"{level} softmax delta n={n} [{i}]");
        }
    }

    /// <summary>
    /// Bias + activation on one row of every length 0..256 and on a few rows of it, both bias axes, at every level, in
    /// guarded memory: z + b and f(z + b), with the ReLU and identity rows fused into one pass, equal the two steps done
    /// apart; the in-place form (a is z) gives the same.
    /// </summary>
    [LinuxTheory]
    [MemberData(nameof(CpuLevels.Supported), MemberType = typeof(CpuLevels))]
    public void BiasActivation_EveryLength_InGuardedMemory_EqualsBiasThenActivation(CpuLevel level)
    {
        var cpu = CpuContext.For(level);
        foreach (int cols in AllLengths)
        foreach (int rows in new[] { 1, 3 })
        foreach (var axis in new[] { BiasAxis.PerRow, BiasAxis.PerColumn })
        foreach (var f in new[] { Activation.ReLU, Activation.Identity, Activation.Sigmoid })
        {
            var z = Reference.Random(rows * cols, cols, 3f);
            var bias = Reference.Random(axis == BiasAxis.PerRow ? rows : cols, cols + 1);
            var expectZ = (float[])z.Clone();
            Elementwise.AddBias(expectZ, bias, rows, cols, axis);
            var expectA = new float[z.Length];
            Elementwise.Activate(f, expectZ, expectA);

            using var gz = GuardedMemory.CopyOf(z);
            using var gb = GuardedMemory.CopyOf(bias);
            using var ga = new GuardedMemory(z.Length);
            Elementwise.BiasActivation(gz.Span, gb.Span, ga.Span, rows, cols, axis, f, pool: null, cpu);
            string what = $"{level} {f} {axis} {rows} x {cols}";
            Assert.True(expectZ.AsSpan().SequenceEqual(gz.Span), what + ": z + b");
            Assert.True(expectA.AsSpan().SequenceEqual(ga.Span), what + ": f(z + b)");

            using var inPlace = GuardedMemory.CopyOf(z);
            Elementwise.BiasActivation(inPlace.Span, gb.Span, inPlace.Span, rows, cols, axis, f, pool: null, cpu);
            Assert.True(expectA.AsSpan().SequenceEqual(inPlace.Span), what + ": in place");
        }
    }

    [Fact]
    public void Softmax_Bias_BiasGradient_ArgMax_MatchNaive()
    {
        int rows = 5, cols = 13;
        var z = Reference.Random(rows * cols, 1, 5f);
        var a = new float[z.Length];
        Elementwise.Softmax(z, a, rows, cols);
        for (int r = 0; r < rows; r++)
        {
            double sum = Enumerable.Range(0, cols).Sum(c => Math.Exp(z[r * cols + c]));
            for (int c = 0; c < cols; c++) Assert.Equal(Math.Exp(z[r * cols + c]) / sum, a[r * cols + c], 1e-5);
        }
        var bias = Reference.Random(cols, 2);
        var x = (float[])z.Clone();
        Elementwise.AddBias(x, bias, rows, cols, BiasAxis.PerColumn);
        for (int i = 0; i < x.Length; i++) Assert.Equal(z[i] + bias[i % cols], x[i], 1e-6f);
        var rowBias = Reference.Random(rows, 3);
        x = (float[])z.Clone();
        Elementwise.AddBias(x, rowBias, rows, cols, BiasAxis.PerRow);
        for (int i = 0; i < x.Length; i++) Assert.Equal(z[i] + rowBias[i / cols], x[i], 1e-6f);
        var gb = new float[cols];
        Elementwise.BiasGradient(z, gb, rows, cols, BiasAxis.PerColumn, 0f);
        for (int c = 0; c < cols; c++) Assert.Equal(Enumerable.Range(0, rows).Sum(r => z[r * cols + c]), gb[c], 1e-5f);
        var gr = new float[rows];
        Elementwise.BiasGradient(z, gr, rows, cols, BiasAxis.PerRow, 0f);
        for (int r = 0; r < rows; r++) Assert.Equal(Enumerable.Range(0, cols).Sum(c => z[r * cols + c]), gr[r], 1e-5f);
        var idx = new int[rows];
        Elementwise.ArgMaxRows(z, rows, cols, idx);
        for (int r = 0; r < rows; r++) Assert.Equal(Array.IndexOf(z, z.Skip(r * cols).Take(cols).Max(), r * cols) - r * cols, idx[r]);
    }

    /// <summary>The bias gradient (sums along an axis, onto beta times the old gradient) at every width 0..256, in guarded memory.</summary>
    [LinuxFact]
    public void BiasGradient_EveryWidth_InGuardedMemory_MatchesDoubleSums()
    {
        foreach (int cols in AllLengths)
        foreach (var axis in new[] { BiasAxis.PerRow, BiasAxis.PerColumn })
        {
            const int rows = 3;
            const float beta = 0.5f;
            var gz = Reference.Random(rows * cols, cols);
            var old = Reference.Random(axis == BiasAxis.PerRow ? rows : cols, cols + 7);
            using var gGz = GuardedMemory.CopyOf(gz);
            using var gGrad = GuardedMemory.CopyOf(old);
            Elementwise.BiasGradient(gGz.Span, gGrad.Span, rows, cols, axis, beta);
            for (int b = 0; b < old.Length; b++)
            {
                double sum = axis == BiasAxis.PerRow
                    ? Enumerable.Range(0, cols).Sum(c => (double)gz[b * cols + c])
                    : Enumerable.Range(0, rows).Sum(r => (double)gz[r * cols + b]);
                Assert.Equal(beta * old[b] + sum, gGrad.Span[b], 1e-4);
            }
        }
    }

    [Fact]
    public void Softmax_OfLogitsBeyondExpRange_IsFiniteAndExact()
    {
        // exp(100) overflows a float: a softmax that does not subtract the row maximum returns NaN here (a ReLU network
        // trained on the expanded set reached such logits and diverged).
        float[] z = [100f, 0f, 50f, -1000f, 1000f, 999f];
        var a = new float[z.Length];
        Elementwise.Softmax(z, a, 2, 3);
        Assert.All(a, v => Assert.True(float.IsFinite(v), $"softmax gave {v}"));
        Assert.Equal(1.0, a[0], 1e-6);
        Assert.Equal(Math.Exp(-50), a[2], 1e-12);
        Assert.Equal(0f, a[3]);
        Assert.Equal(1 / (1 + Math.Exp(-1)), a[4], 1e-6);
        Assert.Equal(Math.Exp(-1) / (1 + Math.Exp(-1)), a[5], 1e-6);
    }

    [Fact]
    public void LogSoftmax_MatchesLogOfSoftmax_AndStaysFiniteWhereSoftmaxUnderflows()
    {
        int rows = 3, cols = 11;
        var z = Reference.Random(rows * cols, 8, 6f);
        var log = new float[z.Length];
        Elementwise.LogSoftmax(z, log, rows, cols);
        for (int r = 0; r < rows; r++)
        {
            double max = z.Skip(r * cols).Take(cols).Max();
            double sum = z.Skip(r * cols).Take(cols).Sum(v => Math.Exp(v - max));
            for (int c = 0; c < cols; c++) Assert.Equal(z[r * cols + c] - max - Math.Log(sum), log[r * cols + c], 1e-5);
        }
        float[] extreme = [0f, -200f, 300f];
        Elementwise.LogSoftmax(extreme, extreme, 1, 3);
        Assert.Equal(-300f, extreme[0], 1e-3f);
        Assert.Equal(-500f, extreme[1], 1e-3f);
        Assert.Equal(0f, extreme[2], 1e-6f);
    }

    [Fact]
    public void MismatchedLengths_ThrowArgumentException()
    {
        Assert.Throws<ArgumentException>(() => Elementwise.Activate(Activation.Sigmoid, new float[3], new float[4]));
        Assert.Throws<ArgumentException>(() => Elementwise.Softmax(new float[5], new float[6], 2, 3));
        Assert.Throws<ArgumentException>(() => Elementwise.AddBias(new float[6], new float[2], 2, 3, BiasAxis.PerColumn));
        Assert.Throws<ArgumentException>(() => Elementwise.ActivationBackward(Activation.ReLU, new float[3], new float[3], new float[2], CpuContext.Default));
    }

    private static void AssertSameBits(float expected, float actual, string what)
    {
        if (BitConverter.SingleToInt32Bits(expected) != BitConverter.SingleToInt32Bits(actual))
            Assert.Fail($"{what}: expected {expected} but got {actual}.");
    }
}
