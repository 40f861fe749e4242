using NativeNet.Baselines;
using NativeNet.Data;

namespace NativeNet.Tests;

public class BaselineTests
{
    /// <summary>Images of one row whose pixels sum to the given darkness (spread over the pixels).</summary>
    private static LabeledImages Images(double[] darkness, byte[] labels)
    {
        const int pixels = 4;
        var x = new float[darkness.Length * pixels];
        for (int i = 0; i < darkness.Length; i++)
            for (int p = 0; p < pixels; p++) x[i * pixels + p] = (float)(darkness[i] / pixels);
        return new LabeledImages(x, labels, 1, pixels);
    }

    [Fact]
    public void AverageDarkness_LearnsClassMeans_AndGuessesTheNearest()
    {
        // Class means: 0 -> 1.0, 1 -> 3.0, 2 -> 5.2 (pixel values 0.25 apart keep the sums exact in float).
        var training = Images([0.5, 1.5, 3.0, 5.0, 5.4], [0, 0, 1, 2, 2]);
        var model = AverageDarkness.Fit(training);
        Assert.Equal(3, model.Classes);
        Assert.Equal(1.0, model.MeanDarkness[0], 6);
        Assert.Equal(3.0, model.MeanDarkness[1], 6);
        Assert.Equal(5.2, model.MeanDarkness[2], 6);
        // 1.9 is nearer 1.0 than 3.0; 2.1 nearer 3.0; 2.0 is a tie, which goes to the lower class; 4.2 nearer 5.2 (by 0.2).
        Assert.Equal(0, model.Classify(Images([1.9], [0]).Image(0)));
        Assert.Equal(1, model.Classify(Images([2.1], [0]).Image(0)));
        Assert.Equal(0, model.Classify(Images([2.0], [0]).Image(0)));
        Assert.Equal(2, model.Classify(Images([4.2], [0]).Image(0)));
        Assert.Equal(2, model.Classify(Images([100], [0]).Image(0)));
        // Test labels 0, 1, 1, 2: the guesses 0, 0 (2.0 ties), 1, 2 get three right.
        Assert.Equal(3, model.CountCorrect(Images([1.9, 2.0, 2.1, 4.2], [0, 1, 1, 2])));
    }

    [Fact]
    public void AverageDarkness_RejectsAnEmptyTrainingSet() =>
        Assert.Throws<ArgumentException>(() => AverageDarkness.Fit(new LabeledImages([], [], 1, 4)));

    private static float[] RandomPoints(int count, int features, int seed, double scale = 1)
    {
        var rng = new Random(seed);
        var x = new float[count * features];
        for (int i = 0; i < x.Length; i++) x[i] = (float)(rng.NextDouble() * scale);
        return x;
    }

    private static double NaiveKernel(ReadOnlySpan<float> a, ReadOnlySpan<float> b, double gamma)
    {
        double d2 = 0;
        for (int f = 0; f < a.Length; f++) { double d = (double)a[f] - b[f]; d2 += d * d; }
        return Math.Exp(-gamma * d2);
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(7, 3)]
    [InlineData(37, 784)]
    [InlineData(130, 50)]
    public void RbfKernel_RowsAndQueries_MatchTheDefinition(int count, int features)
    {
        const float gamma = 1f / 784 * 20;
        var points = RandomPoints(count, features, seed: count);
        var kernel = new RbfKernel(points, count, features, gamma);
        var rows = new float[count * count];
        kernel.Rows(0, count, rows);
        var queries = RandomPoints(5, features, seed: 99);
        var q = new float[5 * count];
        kernel.Evaluate(queries, 5, q);
        for (int s = 0; s < count; s++)
        {
            for (int t = 0; t < count; t++)
                Assert.Equal(NaiveKernel(kernel.Point(s), kernel.Point(t), gamma), rows[s * count + t], 1e-5);
            for (int r = 0; r < 5; r++)
                Assert.Equal(NaiveKernel(queries.AsSpan(r * features, features), kernel.Point(s), gamma), q[r * count + s], 1e-5);
        }
        if (count > 3)
        {
            var middle = new float[2 * count];
            kernel.Rows(2, 2, middle);
            for (int i = 0; i < middle.Length; i++) Assert.Equal(rows[2 * count + i], middle[i], 1e-6);
        }
    }

    [Fact]
    public void KernelRowCache_SmallStore_EvictsAndRecomputesTheSameRows()
    {
        const int n = 23;
        var kernel = new RbfKernel(RandomPoints(n, 6, seed: 3), n, 6, 0.3f);
        var full = new float[n * n];
        kernel.Rows(0, n, full);
        var cache = new KernelRowCache(capacityBytes: 2 * 4 * n * sizeof(float), blockRows: 4);   // two blocks of four rows
        cache.Reset(kernel, pool: null);
        Assert.Equal(2, cache.Slots);
        int[] order = [0, 5, 22, 1, 9, 5, 17, 0, 21, 3];
        foreach (int i in order)
        {
            var row = cache.Row(i);
            for (int t = 0; t < n; t++) Assert.Equal(full[i * n + t], row[t], 1e-6);
        }
        // Blocks asked for: 0, 1, 5, 0, 2, 1, 4, 0, 5, 0. With two slots and LRU eviction every one misses but the last
        // (0 was used just before it): 9 fills, two of them of block 5, which has 3 rows (20..22): 7 x 4 + 2 x 3 = 34 rows.
        Assert.Equal(34, cache.RowsComputed);
    }

    private static sbyte[] Labels(params int[] y) => y.Select(v => (sbyte)v).ToArray();

    [Fact]
    public void Smo_TwoPoints_HasTheAnalyticSolution()
    {
        // One point per class: alpha_1 = alpha_2 = 1 / (1 - k) minimizes alpha^2 (1 - k) - 2 alpha; b = 0 by symmetry.
        float[] x = [0f, 0f, 1f, 2f];
        const float gamma = 0.2f;
        var kernel = new RbfKernel(x, 2, 2, gamma);
        double k = Math.Exp(-gamma * 5);
        var free = SmoSolver.Solve(kernel, Labels(1, -1), new SvmOptions { C = 100, Tolerance = 1e-9 });
        Assert.True(free.Converged);
        Assert.Equal(1 / (1 - k), free.Alpha[0], 4);
        Assert.Equal(1 / (1 - k), free.Alpha[1], 4);
        Assert.Equal(0, free.Bias, 6);
        Assert.Equal(-1 / (1 - k), free.Objective, 4);
        // With C below 1 / (1 - k) both alphas stop at C, exactly, and b is still 0.
        var clipped = SmoSolver.Solve(kernel, Labels(1, -1), new SvmOptions { C = 0.5, Tolerance = 1e-9 });
        Assert.Equal([0.5, 0.5], clipped.Alpha);
        Assert.Equal(0, clipped.Bias, 9);
    }

    /// <summary>f(x_t) = sum_s alpha_s y_s K(x_s, x_t) + b, in double from the definition.</summary>
    private static double Decision(float[] points, int features, ReadOnlySpan<float> x, sbyte[] y, double[] alpha, double bias, double gamma)
    {
        double f = bias;
        for (int s = 0; s < y.Length; s++)
            if (alpha[s] != 0) f += alpha[s] * y[s] * NaiveKernel(points.AsSpan(s * features, features), x, gamma);
        return f;
    }

    /// <summary>Two noisy blobs in <paramref name="features"/> dimensions, overlapping when <paramref name="spread"/> is large.</summary>
    private static (float[] X, sbyte[] Y) Blobs(int count, int features, double spread, int seed)
    {
        var rng = new Random(seed);
        var x = new float[count * features];
        var y = new sbyte[count];
        for (int i = 0; i < count; i++)
        {
            y[i] = (sbyte)(i % 3 == 0 ? -1 : 1);
            for (int f = 0; f < features; f++) x[i * features + f] = (float)((y[i] > 0 ? 1 : -1) * (f == 0 ? 1 : 0) + spread * (rng.NextDouble() * 2 - 1));
        }
        return (x, y);
    }

    private static void AssertKkt(float[] x, int features, sbyte[] y, BinarySvmSolution s, double c, double gamma, double tolerance)
    {
        double balance = 0;
        for (int t = 0; t < y.Length; t++)
        {
            double a = s.Alpha[t];
            Assert.InRange(a, 0, c);
            balance += a * y[t];
            double margin = y[t] * Decision(x, features, x.AsSpan(t * features, features), y, s.Alpha, s.Bias, gamma);
            if (a == 0) Assert.True(margin >= 1 - tolerance, $"point {t}: alpha 0 but y f = {margin}");
            else if (a == c) Assert.True(margin <= 1 + tolerance, $"point {t}: alpha = C but y f = {margin}");
            else Assert.True(Math.Abs(margin - 1) <= tolerance, $"point {t}: free alpha {a} but y f = {margin}");
        }
        Assert.Equal(0, balance, 9);
    }

    [Fact]
    public void Smo_TinySeparableSet_ClassifiesEveryPointWithAMargin()
    {
        var (x, y) = Blobs(12, 2, spread: 0.3, seed: 1);
        const float gamma = 0.5f;
        var s = SmoSolver.Solve(new RbfKernel(x, 12, 2, gamma), y, new SvmOptions { C = 1e4, Tolerance = 1e-6 });
        Assert.True(s.Converged);
        AssertKkt(x, 2, y, s, 1e4, gamma, 1e-3);
        Assert.DoesNotContain(s.Alpha, a => a >= 1e4);   // separable: no point at the bound
        for (int t = 0; t < 12; t++)
            Assert.True(y[t] * Decision(x, 2, x.AsSpan(t * 2, 2), y, s.Alpha, s.Bias, gamma) >= 1 - 1e-3);
        Assert.Contains(s.Alpha, a => a > 0);
    }

    [Theory]
    [InlineData(40, 3, 1.0, 1.0, 1)]
    [InlineData(60, 5, 1.5, 0.3, 2)]
    [InlineData(33, 2, 0.8, 10.0, 3)]
    public void Smo_AgreesWithANaiveDualSolver_AndMeetsKkt(int count, int features, double spread, double c, int seed)
    {
        var (x, y) = Blobs(count, features, spread, seed);
        const float gamma = 0.7f;
        // A cache of two 4-row blocks, so rows are evicted and recomputed throughout.
        var options = new SvmOptions { C = c, Gamma = gamma, Tolerance = 1e-7, BlockRows = 4, CacheBytes = 2 * 4 * count * sizeof(float) };
        var ours = SmoSolver.Solve(new RbfKernel(x, count, features, gamma), y, options);
        Assert.True(ours.Converged);
        AssertKkt(x, features, y, ours, c, gamma, 1e-4);

        var (alpha, bias) = NaiveDualSolver.Solve(x, features, y, c, gamma);
        for (int t = 0; t < count; t++) Assert.True(Math.Abs(alpha[t] - ours.Alpha[t]) <= 1e-3 * Math.Max(1, c), $"alpha[{t}]: naive {alpha[t]}, ours {ours.Alpha[t]}");
        Assert.Equal(NaiveDualSolver.Objective(x, features, y, alpha, gamma), ours.Objective, 4);
        var probes = RandomPoints(20, features, seed: 50 + seed, scale: 2);
        for (int r = 0; r < 20; r++)
        {
            var q = probes.AsSpan(r * features, features);
            Assert.Equal(Decision(x, features, q, y, alpha, bias, gamma), Decision(x, features, q, y, ours.Alpha, ours.Bias, gamma), 3);
        }
    }

    [Fact]
    public void Smo_RejectsLabelsOtherThanPlusOrMinusOne()
    {
        var kernel = new RbfKernel([0f, 1f], 2, 1, 1f);
        Assert.Throws<ArgumentException>(() => SmoSolver.Solve(kernel, Labels(1, 0), new SvmOptions()));
        Assert.Throws<ArgumentException>(() => SmoSolver.Solve(kernel, Labels(1), new SvmOptions()));
        Assert.Throws<ArgumentOutOfRangeException>(() => SmoSolver.Solve(kernel, Labels(1, -1), new SvmOptions { C = double.NaN }));
    }

    [Fact]
    public void OneVsOne_ThreeBlobs_VotesForTheRightClass()
    {
        // Three classes around (0, 0), (3, 0) and (0, 3); class labels 2, 5 and 7 (not 0..k-1).
        var rng = new Random(4);
        byte[] classes = [2, 5, 7];
        (double X, double Y)[] centres = [(0, 0), (3, 0), (0, 3)];
        const int perClass = 30;
        var points = new float[3 * perClass * 2];
        var labels = new byte[3 * perClass];
        for (int i = 0; i < labels.Length; i++)
        {
            int c = i % 3;
            labels[i] = classes[c];
            points[2 * i] = (float)(centres[c].X + rng.NextDouble() - 0.5);
            points[2 * i + 1] = (float)(centres[c].Y + rng.NextDouble() - 0.5);
        }
        using var pool = new Core.Threading.WorkerPool(2);
        var svm = OneVsOneSvm.Train(points, labels, 2, new SvmOptions { Gamma = 0.5f }, pool);
        Assert.Equal([2, 5, 7], svm.Classes);
        Assert.Equal(3, svm.Reports.Count);
        Assert.All(svm.Reports, r => Assert.True(r.Converged));
        Assert.Equal((2, 5), (svm.Reports[0].ClassA, svm.Reports[0].ClassB));
        Assert.Equal(2 * perClass, svm.Reports[0].Points);
        Assert.InRange(svm.SupportVectorCount, 3, labels.Length);
        Assert.Equal(labels, svm.Predict(points, labels.Length, pool).Select(p => (byte)p).ToArray());
        float[] probes = [0.1f, -0.2f, 2.9f, 0.3f, -0.1f, 3.2f];
        Assert.Equal([2, 5, 7], svm.Predict(probes, 3));
    }

    [Fact]
    public void OneVsOne_NeedsTwoClasses() =>
        Assert.Throws<ArgumentException>(() => OneVsOneSvm.Train([0f, 1f], [3, 3], 1, new SvmOptions()));
}

/// <summary>
/// An independent reference for the C-SVM dual: Platt's original two-variable update (bounds L and H on alpha_j, then
/// alpha_i from the equality constraint) swept over every pair in turn, in double with the kernel from its definition,
/// until a whole sweep changes nothing.
/// </summary>
internal static class NaiveDualSolver
{
    public static (double[] Alpha, double Bias) Solve(float[] x, int features, sbyte[] y, double c, double gamma)
    {
        int n = y.Length;
        var k = new double[n, n];
        for (int s = 0; s < n; s++)
            for (int t = 0; t < n; t++)
            {
                double d2 = 0;
                for (int f = 0; f < features; f++) { double d = (double)x[s * features + f] - x[t * features + f]; d2 += d * d; }
                k[s, t] = Math.Exp(-gamma * d2);
            }
        var alpha = new double[n];
        var u = new double[n];   // u_t = sum_s alpha_s y_s K_st (f without b)
        for (int sweep = 0; sweep < 100_000; sweep++)
        {
            double change = 0;
            for (int i = 0; i < n; i++)
                for (int j = i + 1; j < n; j++)
                {
                    double eta = k[i, i] + k[j, j] - 2 * k[i, j];
                    if (eta <= 1e-12) continue;
                    double lo, hi;
                    if (y[i] != y[j]) { lo = Math.Max(0, alpha[j] - alpha[i]); hi = Math.Min(c, c + alpha[j] - alpha[i]); }
                    else { lo = Math.Max(0, alpha[i] + alpha[j] - c); hi = Math.Min(c, alpha[i] + alpha[j]); }
                    double ei = u[i] - y[i], ej = u[j] - y[j];
                    double aj = Math.Min(Math.Max(alpha[j] + y[j] * (ei - ej) / eta, lo), hi);   // lo may pass hi by a rounding
                    double ai = alpha[i] + y[i] * y[j] * (alpha[j] - aj);
                    double di = ai - alpha[i], dj = aj - alpha[j];
                    if (di == 0 && dj == 0) continue;
                    for (int t = 0; t < n; t++) u[t] += di * y[i] * k[i, t] + dj * y[j] * k[j, t];
                    alpha[i] = ai; alpha[j] = aj;
                    change = Math.Max(change, Math.Max(Math.Abs(di), Math.Abs(dj)));
                }
            if (change < 1e-13) break;
        }
        // b from the free points (y_t f(x_t) = 1), else the middle of the feasible interval.
        double sum = 0, lower = double.NegativeInfinity, upper = double.PositiveInfinity;
        int free = 0;
        for (int t = 0; t < n; t++)
        {
            double b = y[t] - u[t];
            if (alpha[t] > 1e-9 && alpha[t] < c - 1e-9) { sum += b; free++; }
            else if ((alpha[t] <= 1e-9) == (y[t] > 0)) lower = Math.Max(lower, b);   // needs y f >= 1
            else upper = Math.Min(upper, b);
        }
        return (alpha, free > 0 ? sum / free : (lower + upper) / 2);
    }

    public static double Objective(float[] x, int features, sbyte[] y, double[] alpha, double gamma)
    {
        double quadratic = 0, linear = 0;
        for (int s = 0; s < y.Length; s++)
        {
            linear += alpha[s];
            for (int t = 0; t < y.Length; t++)
            {
                double d2 = 0;
                for (int f = 0; f < features; f++) { double d = (double)x[s * features + f] - x[t * features + f]; d2 += d * d; }
                quadratic += alpha[s] * alpha[t] * y[s] * y[t] * Math.Exp(-gamma * d2);
            }
        }
        return quadratic / 2 - linear;
    }
}
