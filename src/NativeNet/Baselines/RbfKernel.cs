using System.Numerics.Tensors;
using NativeNet.Core.Gemm;
using NativeNet.Core.Threading;

namespace NativeNet.Baselines;

/// <summary>
/// The Gaussian (RBF) kernel K(x, z) = exp(-gamma ||x - z||^2) between a fixed set of points and query vectors, computed
/// a block at a time as one GEMM plus elementwise work: ||x - z||^2 = ||x||^2 + ||z||^2 - 2 x.z, where the dot products of
/// a block of queries [m x d] with all points [n x d] are one NT product, and the norms, the scaling and the exponential
/// are TensorPrimitives calls on each output row. Squared distances that rounding makes negative count as 0, so every
/// value lies in (0, 1].
/// </summary>
internal sealed class RbfKernel
{
    private readonly float[] _points;
    // -gamma ||p_t||^2 for every point t: the per-column term of each output row.
    private readonly float[] _negGammaNorms;

    /// <param name="points">The points, row-major [<paramref name="count"/> x <paramref name="features"/>]; the kernel keeps this array (no copy).</param>
    /// <param name="count">Number of points n.</param>
    /// <param name="features">Dimension d of every point.</param>
    /// <param name="gamma">The kernel width, a positive finite number.</param>
    public RbfKernel(float[] points, int count, int features, float gamma)
    {
        ArgumentNullException.ThrowIfNull(points);
        if (count < 0 || features < 1) throw new ArgumentException($"An RBF kernel needs a non-negative point count and at least one feature, not {count} x {features}.");
        if ((long)count * features != points.Length)
            throw new ArgumentException($"The points array has {points.Length} floats, but {count} points of {features} features need {(long)count * features}.", nameof(points));
        if (!(gamma > 0) || float.IsInfinity(gamma)) throw new ArgumentOutOfRangeException(nameof(gamma), gamma, "Gamma must be a positive finite number.");
        _points = points;
        Count = count;
        Features = features;
        Gamma = gamma;
        _negGammaNorms = new float[count];
        for (int t = 0; t < count; t++) _negGammaNorms[t] = -gamma * TensorPrimitives.SumOfSquares(Point(t));
    }

    /// <summary>Number of points n (the columns of every kernel row).</summary>
    public int Count { get; }

    /// <summary>Dimension d of the points and the queries.</summary>
    public int Features { get; }

    /// <summary>The kernel width gamma.</summary>
    public float Gamma { get; }

    /// <summary>Point <paramref name="index"/> (d floats).</summary>
    public ReadOnlySpan<float> Point(int index) => _points.AsSpan(index * Features, Features);

    /// <summary>
    /// Rows <paramref name="first"/>..<paramref name="first"/>+<paramref name="rows"/>-1 of the kernel matrix among the
    /// points: <paramref name="destination"/>[r * n + t] = K(p_first+r, p_t), [rows x n].
    /// </summary>
    public void Rows(int first, int rows, Span<float> destination, WorkerPool? pool = null)
    {
        if (first < 0 || rows < 0 || first + rows > Count)
            throw new ArgumentOutOfRangeException(nameof(first), $"Rows {first}..{first + rows - 1} are outside the {Count} points.");
        Evaluate(_points.AsSpan(first * Features, rows * Features), rows, destination, pool, _negGammaNorms.AsSpan(first, rows));
    }

    /// <summary>
    /// The kernel between <paramref name="queryCount"/> queries (row-major [m x d]) and every point:
    /// <paramref name="destination"/>[r * n + t] = K(q_r, p_t), [m x n].
    /// </summary>
    public void Evaluate(ReadOnlySpan<float> queries, int queryCount, Span<float> destination, WorkerPool? pool = null) =>
        Evaluate(queries, queryCount, destination, pool, queryNegGammaNorms: default);

    private void Evaluate(ReadOnlySpan<float> queries, int m, Span<float> destination, WorkerPool? pool, ReadOnlySpan<float> queryNegGammaNorms)
    {
        int n = Count, d = Features;
        if (m < 0) throw new ArgumentOutOfRangeException(nameof(m), m, "The query count must not be negative.");
        if (queries.Length != (long)m * d) throw new ArgumentException($"{m} queries of {d} features need {(long)m * d} floats, not {queries.Length}.", nameof(queries));
        if (destination.Length < (long)m * n) throw new ArgumentException($"The destination holds {destination.Length} floats; {m} x {n} kernel values need {(long)m * n}.", nameof(destination));
        if (m == 0 || n == 0) return;
        // dot[r, t] = q_r . p_t: C [m x n] = Q [m x d] . P^T, P being [n x d].
        Sgemm.Multiply(false, true, m, n, d, 1f, queries, d, _points, d, 0f, destination, n, pool);
        float twoGamma = 2f * Gamma;
        for (int r = 0; r < m; r++)
        {
            var row = destination.Slice(r * n, n);
            float queryTerm = queryNegGammaNorms.IsEmpty ? -Gamma * TensorPrimitives.SumOfSquares(queries.Slice(r * d, d)) : queryNegGammaNorms[r];
            // -gamma ||q - p||^2 = 2 gamma q.p - gamma ||p||^2 - gamma ||q||^2, at most 0.
            TensorPrimitives.FusedMultiplyAdd(row, twoGamma, _negGammaNorms, row);
            TensorPrimitives.Add(row, queryTerm, row);
            TensorPrimitives.Min(row, 0f, row);
            TensorPrimitives.Exp(row, row);
        }
    }
}
