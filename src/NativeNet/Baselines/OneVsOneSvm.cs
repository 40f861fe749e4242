using System.Diagnostics;
using System.Runtime.InteropServices;
using NativeNet.Core.Gemm;
using NativeNet.Core.Threading;

namespace NativeNet.Baselines;

/// <summary>What training one binary problem (class A against class B) of a <see cref="OneVsOneSvm"/> took and gave.</summary>
/// <param name="ClassA">The class labelled +1.</param>
/// <param name="ClassB">The class labelled -1.</param>
/// <param name="Points">Training points of the two classes.</param>
/// <param name="SupportVectors">Points with alpha &gt; 0.</param>
/// <param name="BoundedSupportVectors">Points with alpha = C.</param>
/// <param name="Iterations">SMO steps.</param>
/// <param name="Converged">False when the iteration limit stopped the solver.</param>
/// <param name="KernelRowsComputed">Kernel rows computed (a row is Points kernel values).</param>
/// <param name="Seconds">Wall time of this problem.</param>
public sealed record SvmPairReport(int ClassA, int ClassB, int Points, int SupportVectors, int BoundedSupportVectors, long Iterations, bool Converged,
    long KernelRowsComputed, double Seconds);

/// <summary>
/// A multiclass RBF-kernel SVM the way libsvm (scikit-learn's SVC) builds one: a binary C-SVM for every pair of classes
/// (k (k - 1) / 2 of them, solved by <see cref="SmoSolver"/>, in parallel on a worker pool), and prediction by vote, each
/// pair voting for its first class when its decision value is positive and for its second otherwise; the most votes
/// win, the lowest class on a tie. The support vectors of all pairs are stored once; prediction evaluates the kernel
/// between a batch of queries and all of them with one GEMM (plus exponentials), and the pairs' decision values with a
/// second GEMM against the coefficient matrix [support vectors x pairs].
/// </summary>
public sealed class OneVsOneSvm
{
    private readonly int[] _classes;
    private readonly (int A, int B)[] _pairs;
    private readonly RbfKernel _supportVectors;
    // coefficient[s * pairs + p] = alpha_s y_s for support vector s in pair p, 0 where s is not one of p's points.
    private readonly float[] _coefficients;
    private readonly float[] _biases;

    private OneVsOneSvm(int[] classes, (int A, int B)[] pairs, RbfKernel supportVectors, float[] coefficients, float[] biases, SvmPairReport[] reports, int[] supportIndices)
    {
        _classes = classes; _pairs = pairs; _supportVectors = supportVectors; _coefficients = coefficients; _biases = biases;
        Reports = reports;
        SupportIndices = supportIndices;
    }

    /// <summary>The class labels, ascending.</summary>
    public IReadOnlyList<int> Classes => _classes;

    /// <summary>One report per binary problem, in pair order (0 vs 1, 0 vs 2, ..., 8 vs 9).</summary>
    public IReadOnlyList<SvmPairReport> Reports { get; }

    /// <summary>Indices into the training set of the support vectors (a point is one if any pair gave it alpha &gt; 0), ascending.</summary>
    public IReadOnlyList<int> SupportIndices { get; }

    /// <summary>Number of distinct support vectors.</summary>
    public int SupportVectorCount => _supportVectors.Count;

    /// <summary>
    /// Trains on the points in <paramref name="points"/> (row-major [count x features]) with class
    /// labels <paramref name="labels"/>. The pairs run on <paramref name="threads"/> workers (0: every core), largest first, one whole pair
    /// per worker at a time (its GEMMs then run on that worker alone); each worker keeps one kernel cache of
    /// <see cref="SvmOptions.CacheBytes"/>. <paramref name="onPair"/> is called from the workers as each pair finishes.
    /// </summary>
    /// <param name="points">The training points, [count x features] row-major.</param>
    /// <param name="labels">One class per point.</param>
    /// <param name="features">Floats per point.</param>
    /// <param name="options">C, gamma, tolerance, cache and iteration limits; validated here.</param>
    /// <param name="threads">Workers for the pairs; 0 for every core.</param>
    /// <param name="onPair">Called from the workers as each pair finishes; null for none.</param>
    /// <param name="cancel">Checked before each pair and every 1,024 solver steps.</param>
    /// <exception cref="OperationCanceledException"><paramref name="cancel"/> was signalled.</exception>
    /// <exception cref="ArgumentException">Shapes disagree, fewer than two classes, or invalid options.</exception>
    public static OneVsOneSvm Train(float[] points, byte[] labels, int features, SvmOptions options, int threads = 0,
        Action<SvmPairReport>? onPair = null, CancellationToken cancel = default)
    {
        using var pool = new WorkerPool(threads > 0 ? threads : Environment.ProcessorCount);
        return Train(points, labels, features, options, pool, onPair, cancel);
    }

    /// <summary>The same on a given worker pool (null: the shared one).</summary>
    /// <param name="points">The training points, [count x features] row-major.</param>
    /// <param name="labels">One class per point.</param>
    /// <param name="features">Floats per point.</param>
    /// <param name="options">C, gamma, tolerance, cache and iteration limits; validated here.</param>
    /// <param name="pool">The workers for the pairs; null for the shared pool.</param>
    /// <param name="onPair">Called from the workers as each pair finishes; null for none.</param>
    /// <param name="cancel">Checked before each pair and every 1,024 solver steps.</param>
    internal static OneVsOneSvm Train(float[] points, byte[] labels, int features, SvmOptions options, WorkerPool? pool,
        Action<SvmPairReport>? onPair = null, CancellationToken cancel = default)
    {
        ArgumentNullException.ThrowIfNull(points);
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        int count = labels.Length;
        if (features < 1) throw new ArgumentOutOfRangeException(nameof(features), features, "Points need at least one feature.");
        if (points.Length != (long)count * features) throw new ArgumentException($"{count} labels need {(long)count * features} floats of points, not {points.Length}.", nameof(points));
        int[] classes = labels.Distinct().Select(l => (int)l).Order().ToArray();
        if (classes.Length < 2) throw new ArgumentException($"An SVM needs at least two classes; the labels hold {classes.Length}.", nameof(labels));
        var members = classes.Select(c => Enumerable.Range(0, count).Where(t => labels[t] == c).ToArray()).ToArray();
        var pairs = new List<(int A, int B)>();
        for (int a = 0; a < classes.Length; a++)
            for (int b = a + 1; b < classes.Length; b++) pairs.Add((a, b));

        var job = new TrainingJob(points, features, classes, members, pairs.ToArray(), options, pool ?? WorkerPool.Shared, onPair, cancel);
        job.Run();

        // Support vectors: the union over pairs, in training order; one coefficient column per pair.
        var isSupport = new bool[count];
        foreach (var (pair, solution) in job.Pairs.Zip(job.Solutions))
        {
            var idx = job.PairIndices(pair);
            for (int t = 0; t < idx.Length; t++) if (solution!.Alpha[t] > 0) isSupport[idx[t]] = true;
        }
        int[] supportIndices = Enumerable.Range(0, count).Where(t => isSupport[t]).ToArray();
        var slot = new int[count];
        for (int s = 0; s < supportIndices.Length; s++) slot[supportIndices[s]] = s;
        int p = pairs.Count;
        var coefficients = new float[supportIndices.Length * p];
        var biases = new float[p];
        for (int q = 0; q < p; q++)
        {
            var idx = job.PairIndices(pairs[q]);
            var solution = job.Solutions[q]!;
            int positives = members[pairs[q].A].Length;
            for (int t = 0; t < idx.Length; t++)
                if (solution.Alpha[t] > 0) coefficients[slot[idx[t]] * p + q] = (float)(t < positives ? solution.Alpha[t] : -solution.Alpha[t]);
            biases[q] = (float)solution.Bias;
        }
        var svPoints = new float[supportIndices.Length * features];
        for (int s = 0; s < supportIndices.Length; s++) points.AsSpan(supportIndices[s] * features, features).CopyTo(svPoints.AsSpan(s * features, features));
        var kernel = new RbfKernel(svPoints, supportIndices.Length, features, options.GammaFor(features));
        return new OneVsOneSvm(classes, pairs.ToArray(), kernel, coefficients, biases, job.Reports!, supportIndices);
    }

    /// <summary>Queries classified per batch: the kernel block is this many rows x the support vectors.</summary>
    public const int PredictionBatch = 512;

    /// <summary>
    /// The class of each of <paramref name="count"/> queries (row-major [count x features]), in batches of
    /// <see cref="PredictionBatch"/>: K [batch x SVs] = exp(-gamma ||q - s||^2) (one GEMM), decision [batch x pairs] =
    /// K . coefficients + bias (a second GEMM), then the vote.
    /// </summary>
    /// <param name="queries">The points to classify, [count x features] row-major.</param>
    /// <param name="count">Points in <paramref name="queries"/>.</param>
    /// <param name="threads">Workers for the GEMMs; 0 for every core.</param>
    /// <exception cref="ArgumentException"><paramref name="queries"/> is not count x features floats long.</exception>
    public int[] Predict(ReadOnlySpan<float> queries, int count, int threads = 0)
    {
        using var pool = new WorkerPool(threads > 0 ? threads : Environment.ProcessorCount);
        return Predict(queries, count, pool);
    }

    /// <summary>The same on a given worker pool (null: the shared one).</summary>
    /// <param name="queries">The points to classify, [count x features] row-major.</param>
    /// <param name="count">Points in <paramref name="queries"/>.</param>
    /// <param name="pool">The workers for the GEMMs; null for the shared pool.</param>
    internal int[] Predict(ReadOnlySpan<float> queries, int count, WorkerPool? pool)
    {
        int d = _supportVectors.Features, p = _pairs.Length, n = _supportVectors.Count;
        if (count < 0) throw new ArgumentOutOfRangeException(nameof(count), count, "The query count must not be negative.");
        if (queries.Length != (long)count * d) throw new ArgumentException($"{count} queries of {d} features need {(long)count * d} floats, not {queries.Length}.", nameof(queries));
        var result = new int[count];
        int batch = Math.Min(PredictionBatch, Math.Max(1, count));
        var kernelBlock = new float[(long)batch * n];
        var decisions = new float[batch * p];
        var votes = new int[_classes.Length];
        for (int start = 0; start < count; start += batch)
        {
            int m = Math.Min(batch, count - start);
            _supportVectors.Evaluate(queries.Slice(start * d, m * d), m, kernelBlock, pool);
            for (int r = 0; r < m; r++) _biases.CopyTo(decisions.AsSpan(r * p, p));
            Sgemm.Multiply(false, false, m, p, n, 1f, kernelBlock, n, _coefficients, p, 1f, decisions, p, pool);
            for (int r = 0; r < m; r++)
            {
                Array.Clear(votes);
                for (int q = 0; q < p; q++) votes[decisions[r * p + q] > 0 ? _pairs[q].A : _pairs[q].B]++;
                int best = 0;
                for (int c = 1; c < votes.Length; c++) if (votes[c] > votes[best]) best = c;
                result[start + r] = _classes[best];
            }
        }
        return result;
    }

    /// <summary>The pairs' problems and their results, shared by the workers; <see cref="Run"/> hands pairs out largest first.</summary>
    private sealed class TrainingJob(float[] points, int features, int[] classes, int[][] members, (int A, int B)[] pairs, SvmOptions options, WorkerPool pool,
        Action<SvmPairReport>? onPair, CancellationToken cancel)
    {
        private readonly int[] _order = Enumerable.Range(0, pairs.Length).OrderByDescending(q => members[pairs[q].A].Length + members[pairs[q].B].Length).ToArray();
        private int _next = -1;

        public (int A, int B)[] Pairs => pairs;
        public BinarySvmSolution?[] Solutions { get; } = new BinarySvmSolution?[pairs.Length];
        public SvmPairReport[] Reports { get; } = new SvmPairReport[pairs.Length];

        /// <summary>The training indices of a pair's points: class A's (labelled +1), then class B's (-1).</summary>
        public int[] PairIndices((int A, int B) pair) => [.. members[pair.A], .. members[pair.B]];

        public void Run()
        {
            var self = GCHandle.Alloc(this);
            try
            {
                var work = new Work(GCHandle.ToIntPtr(self));
                pool.Run(ref work, pool.DegreeOfParallelism);
            }
            finally
            {
                self.Free();
            }
        }

        private readonly struct Work(nint job) : IParallelWork
        {
            public void Execute(int worker, int workers) => ((TrainingJob)GCHandle.FromIntPtr(job).Target!).Drain();
        }

        /// <summary>One worker: take the next unsolved pair until none is left; one kernel cache for all of them.</summary>
        private void Drain()
        {
            var cache = new KernelRowCache(options.CacheBytes, options.BlockRows);
            int k;
            while ((k = Interlocked.Increment(ref _next)) < _order.Length)
            {
                cancel.ThrowIfCancellationRequested();
                int q = _order[k];
                var clock = Stopwatch.StartNew();
                var idx = PairIndices(pairs[q]);
                var x = new float[idx.Length * features];
                for (int t = 0; t < idx.Length; t++) points.AsSpan(idx[t] * features, features).CopyTo(x.AsSpan(t * features, features));
                int positives = members[pairs[q].A].Length;
                var y = new sbyte[idx.Length];
                for (int t = 0; t < y.Length; t++) y[t] = (sbyte)(t < positives ? 1 : -1);
                var kernel = new RbfKernel(x, idx.Length, features, options.GammaFor(features));
                // The pool is busy running this job, so the solver's GEMMs run inline on this worker.
                var solution = SmoSolver.Solve(kernel, y, options, cache, pool, cancel);
                Solutions[q] = solution;
                int support = solution.Alpha.Count(a => a > 0), bounded = solution.Alpha.Count(a => a >= options.C);
                Reports[q] = new SvmPairReport(classes[pairs[q].A], classes[pairs[q].B], idx.Length, support, bounded, solution.Iterations, solution.Converged,
                    solution.KernelRowsComputed, clock.Elapsed.TotalSeconds);
                onPair?.Invoke(Reports[q]);
            }
        }
    }
}
