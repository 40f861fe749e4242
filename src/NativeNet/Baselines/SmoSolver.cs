using NativeNet.Core.Threading;

namespace NativeNet.Baselines;

/// <summary>
/// Settings of the RBF-kernel support vector machine. The defaults are scikit-learn's SVC defaults of the book's time
/// (C = 1, gamma = 1 / number of features, tolerance 1e-3).
/// </summary>
public sealed record SvmOptions
{
    /// <summary>The box constraint C: 0 &lt;= alpha_t &lt;= C. Default 1.</summary>
    public double C { get; init; } = 1;

    /// <summary>The kernel width; null means 1 / (number of features), 1/784 on MNIST.</summary>
    public float? Gamma { get; init; }

    /// <summary>Stop when the largest KKT violation, max over I_up of -y G minus min over I_low of -y G, is below this. Default 1e-3.</summary>
    public double Tolerance { get; init; } = 1e-3;

    /// <summary>Kernel rows kept per binary problem being solved (each worker holds one such store). Default 768 MiB.</summary>
    public long CacheBytes { get; init; } = 768L << 20;

    /// <summary>Kernel rows computed together, as one GEMM, when the solver asks for a row that is not cached. Default 256.</summary>
    public int BlockRows { get; init; } = 256;

    /// <summary>Iterations after which a binary problem stops unconverged; null means max(10,000,000, 100 n).</summary>
    public long? MaxIterations { get; init; }

    /// <summary>Throws <see cref="ArgumentException"/> naming the first setting out of range.</summary>
    public void Validate()
    {
        if (!(C > 0) || double.IsInfinity(C)) throw new ArgumentOutOfRangeException(nameof(C), C, "C must be a positive finite number.");
        if (Gamma is float g && (!(g > 0) || float.IsInfinity(g))) throw new ArgumentOutOfRangeException(nameof(Gamma), g, "Gamma must be a positive finite number.");
        if (!(Tolerance > 0) || double.IsInfinity(Tolerance)) throw new ArgumentOutOfRangeException(nameof(Tolerance), Tolerance, "The tolerance must be a positive finite number.");
        if (CacheBytes < 0) throw new ArgumentOutOfRangeException(nameof(CacheBytes), CacheBytes, "The cache size must not be negative.");
        if (BlockRows < 1) throw new ArgumentOutOfRangeException(nameof(BlockRows), BlockRows, "A block holds at least one kernel row.");
        if (MaxIterations is < 1) throw new ArgumentOutOfRangeException(nameof(MaxIterations), MaxIterations, "The iteration limit must be at least 1.");
    }

    /// <summary>The gamma used for points of <paramref name="features"/> dimensions.</summary>
    /// <param name="features">Floats per point.</param>
    public float GammaFor(int features) => Gamma ?? 1f / features;
}

/// <summary>The dual solution of one binary C-SVM problem.</summary>
/// <param name="Alpha">The dual variables, one per training point, each in [0, C].</param>
/// <param name="Bias">b in the decision function f(x) = sum_t Alpha_t y_t K(x_t, x) + b.</param>
/// <param name="Iterations">Two-variable steps taken.</param>
/// <param name="Converged">False when the iteration limit stopped the solver first.</param>
/// <param name="Objective">The dual objective 1/2 alpha^T Q alpha - sum alpha (minimized).</param>
/// <param name="KernelRowsComputed">Kernel rows the cache computed (n per block it filled).</param>
internal sealed record BinarySvmSolution(double[] Alpha, double Bias, long Iterations, bool Converged, double Objective, long KernelRowsComputed);

/// <summary>
/// Sequential minimal optimization for the C-SVM dual: minimize f(alpha) = 1/2 alpha^T Q alpha - e^T alpha subject to
/// 0 &lt;= alpha_t &lt;= C and y^T alpha = 0, where Q_st = y_s y_t K(x_s, x_t). Each step changes two variables along the
/// direction that keeps y^T alpha fixed and moves the pair to the minimum of f on that line, clipped to the box.
/// The pair is chosen by second-order working-set selection (Fan, Chen and Lin, JMLR 2005): i is the most violating
/// index of I_up by the gradient, j the index of I_low whose step would lower f the most according to the second-order
/// model. The gradient G = Q alpha - e is kept in double precision; kernel rows come from a <see cref="KernelRowCache"/>.
/// No shrinking: every step scans all n points (three passes of n), which costs little next to the kernel rows.
/// </summary>
internal static class SmoSolver
{
    // A floor for the curvature a = K_ii + K_jj - 2 K_ij, which is 0 for duplicate points.
    private const double Tau = 1e-12;

    /// <summary>Solves the problem of <paramref name="kernel"/>'s points with labels <paramref name="labels"/> (each +1 or -1).</summary>
    public static BinarySvmSolution Solve(RbfKernel kernel, ReadOnlySpan<sbyte> labels, SvmOptions options, WorkerPool? pool = null, CancellationToken cancel = default)
    {
        ArgumentNullException.ThrowIfNull(kernel);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var cache = new KernelRowCache(options.CacheBytes, options.BlockRows);
        return Solve(kernel, labels, options, cache, pool, cancel);
    }

    /// <summary>The same, with a cache the caller reuses across problems.</summary>
    internal static BinarySvmSolution Solve(RbfKernel kernel, ReadOnlySpan<sbyte> labels, SvmOptions options, KernelRowCache cache, WorkerPool? pool, CancellationToken cancel)
    {
        int n = kernel.Count;
        if (labels.Length != n) throw new ArgumentException($"{labels.Length} labels for {n} points.", nameof(labels));
        var y = new double[n];
        for (int t = 0; t < n; t++)
        {
            if (labels[t] is not (1 or -1)) throw new ArgumentException($"Label {labels[t]} at index {t}: a binary SVM's labels are +1 or -1.", nameof(labels));
            y[t] = labels[t];
        }
        double c = options.C, eps = options.Tolerance;
        long maxIterations = options.MaxIterations ?? Math.Max(10_000_000L, 100L * n);
        var alpha = new double[n];
        var gradient = new double[n];
        Array.Fill(gradient, -1.0);   // G = Q alpha - e at alpha = 0
        cache.Reset(kernel, pool);

        long iterations = 0;
        bool converged = false;
        double gMax = 0, gMin = 0;
        while (true)
        {
            if ((iterations & 1023) == 0) cancel.ThrowIfCancellationRequested();
            // m_t = -y_t G_t. i: the largest m over I_up (points whose alpha can move in the direction of y).
            int i = -1;
            gMax = double.NegativeInfinity;
            for (int t = 0; t < n; t++)
            {
                if (!InUp(alpha[t], y[t], c)) continue;
                double m = -y[t] * gradient[t];
                if (m > gMax) { gMax = m; i = t; }
            }
            // j: over I_low with m_t < m_i, the point whose pair step lowers f the most, -(m_i - m_t)^2 / a_it.
            int j = -1;
            gMin = double.PositiveInfinity;
            if (i >= 0)
            {
                var ki = cache.Row(i);
                double best = double.PositiveInfinity;
                for (int t = 0; t < n; t++)
                {
                    if (!InLow(alpha[t], y[t], c)) continue;
                    double m = -y[t] * gradient[t];
                    if (m < gMin) gMin = m;
                    double b = gMax - m;
                    if (b <= 0) continue;
                    double a = Curvature(ki[t]);
                    double decrease = -(b * b) / a;
                    if (decrease <= best) { best = decrease; j = t; }
                }
            }
            if (i < 0 || j < 0 || gMax - gMin < eps) { converged = true; break; }
            if (iterations >= maxIterations) break;
            Step(i, j, cache, alpha, gradient, y, c);
            iterations++;
        }

        return new BinarySvmSolution(alpha, Bias(alpha, gradient, y, c, gMax, gMin), iterations, converged, Objective(alpha, gradient), cache.RowsComputed);
    }

    /// <summary>alpha_t may grow along y_t: alpha_t &lt; C with y = +1, or alpha_t &gt; 0 with y = -1.</summary>
    private static bool InUp(double alpha, double y, double c) => y > 0 ? alpha < c : alpha > 0;

    /// <summary>alpha_t may shrink along y_t: alpha_t &gt; 0 with y = +1, or alpha_t &lt; C with y = -1.</summary>
    private static bool InLow(double alpha, double y, double c) => y > 0 ? alpha > 0 : alpha < c;

    /// <summary>a_it = K_ii + K_tt - 2 K_it = 2 - 2 K_it for the RBF kernel (K_tt = 1), at least <see cref="Tau"/>.</summary>
    private static double Curvature(float kit) => Math.Max(2.0 - 2.0 * kit, Tau);

    /// <summary>
    /// Moves alpha_i by y_i d and alpha_j by -y_j d (y^T alpha unchanged). Along that line f changes by
    /// -(m_i - m_j) d + a d^2 / 2, so the unconstrained minimum is d = (m_i - m_j) / a; the box bounds cap d.
    /// Then G_t += Q_ti y_i d - Q_tj y_j d = y_t d (K_it - K_jt) for every t.
    /// </summary>
    private static void Step(int i, int j, KernelRowCache cache, double[] alpha, double[] gradient, double[] y, double c)
    {
        var ki = cache.Row(i);
        var kj = cache.Row(j);
        double mi = -y[i] * gradient[i], mj = -y[j] * gradient[j];
        double d = (mi - mj) / Curvature(ki[j]);
        double roomI = y[i] > 0 ? c - alpha[i] : alpha[i];
        double roomJ = y[j] > 0 ? alpha[j] : c - alpha[j];
        bool clipI = false, clipJ = false;
        if (d >= roomI) { d = roomI; clipI = true; }
        if (d >= roomJ) { d = roomJ; clipJ = true; clipI = roomI == roomJ; }
        // A clipped variable lands exactly on its bound, so the I_up / I_low tests see it there.
        alpha[i] = clipI ? (y[i] > 0 ? c : 0) : alpha[i] + y[i] * d;
        alpha[j] = clipJ ? (y[j] > 0 ? 0 : c) : alpha[j] - y[j] * d;
        for (int t = 0; t < gradient.Length; t++) gradient[t] += y[t] * d * (ki[t] - kj[t]);
    }

    /// <summary>
    /// b from the KKT conditions: for a free point (0 &lt; alpha &lt; C), y f(x) = 1 gives b = -y G. The mean over the free
    /// points; with none, the middle of the interval [max over I_up of -y G, min over I_low of -y G] that b must lie in.
    /// </summary>
    private static double Bias(double[] alpha, double[] gradient, double[] y, double c, double gMax, double gMin)
    {
        double sum = 0;
        int free = 0;
        for (int t = 0; t < alpha.Length; t++)
            if (alpha[t] > 0 && alpha[t] < c) { sum += -y[t] * gradient[t]; free++; }
        if (free > 0) return sum / free;
        if (double.IsInfinity(gMax) || double.IsInfinity(gMin)) return 0;
        return (gMax + gMin) / 2;
    }

    /// <summary>1/2 alpha^T Q alpha - e^T alpha = 1/2 sum alpha_t (G_t - 1), since Q alpha = G + e.</summary>
    private static double Objective(double[] alpha, double[] gradient)
    {
        double f = 0;
        for (int t = 0; t < alpha.Length; t++) f += alpha[t] * (gradient[t] - 1);
        return f / 2;
    }
}
