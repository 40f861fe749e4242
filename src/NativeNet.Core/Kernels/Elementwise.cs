using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using NativeNet.Core.Threading;
using NativeNet.Core.Backends;

namespace NativeNet.Core.Kernels;

/// <summary>
/// Activations, their derivatives, output errors, biases and reductions on spans.
/// TensorPrimitives does the plain elementwise math; the fused derivative and error kernels are
/// small operation structs run by one binary driver that handles Vector512, Vector256 and the scalar tail.
/// </summary>
internal static class Elementwise
{
    /// <summary>a = f(z). <paramref name="z"/> and <paramref name="a"/> may be the same span.</summary>
    public static void Activate(Activation f, ReadOnlySpan<float> z, Span<float> a)
    {
        CheckSame(z.Length, a.Length, nameof(a));
        if (z.IsEmpty) return;   // TensorPrimitives rejects empty spans
        switch (f)
        {
            case Activation.Identity: z.CopyTo(a); break;
            case Activation.Sigmoid: TensorPrimitives.Sigmoid(z, a); break;
            case Activation.Tanh: TensorPrimitives.Tanh(z, a); break;
            case Activation.ReLU: TensorPrimitives.Max(z, 0f, a); break;
            default: throw new ArgumentOutOfRangeException(nameof(f), f, null);
        }
    }

    /// <summary>gradZ = gradA * f'(z), with f' computed from the outputs a. gradZ may alias gradA.</summary>
    public static void ActivationBackward(Activation f, ReadOnlySpan<float> a, ReadOnlySpan<float> gradA, Span<float> gradZ, CpuContext cpu)
    {
        CheckSame(a.Length, gradA.Length, nameof(gradA));
        CheckSame(a.Length, gradZ.Length, nameof(gradZ));
        switch (f)
        {
            case Activation.Identity: gradA.CopyTo(gradZ); break;
            case Activation.Sigmoid: Binary<SigmoidGrad>(a, gradA, gradZ, cpu.Level); break;
            case Activation.Tanh: Binary<TanhGrad>(a, gradA, gradZ, cpu.Level); break;
            case Activation.ReLU: Binary<ReluGrad>(a, gradA, gradZ, cpu.Level); break;
            default: throw new ArgumentOutOfRangeException(nameof(f), f, null);
        }
    }

    /// <summary>delta = dC/dz for the output pairing, from outputs a and targets y.</summary>
    public static void OutputDelta(OutputCost cost, ReadOnlySpan<float> a, ReadOnlySpan<float> y, Span<float> delta, CpuContext cpu)
    {
        CheckSame(a.Length, y.Length, nameof(y));
        CheckSame(a.Length, delta.Length, nameof(delta));
        if (cost == OutputCost.SigmoidQuadratic) Binary<QuadraticSigmoidDelta>(a, y, delta, cpu.Level);
        else TensorPrimitives.Subtract(a, y, delta);
    }

    /// <summary>The summed cost over all rows (divide by the batch size for the mean).</summary>
    public static double Cost(OutputCost cost, ReadOnlySpan<float> a, ReadOnlySpan<float> y)
    {
        CheckSame(a.Length, y.Length, nameof(y));
        double sum = 0;
        switch (cost)
        {
            case OutputCost.SigmoidQuadratic:
            case OutputCost.LinearQuadratic:
                for (int i = 0; i < a.Length; i++) { double d = a[i] - y[i]; sum += 0.5 * d * d; }
                break;
            case OutputCost.SigmoidCrossEntropy:
                // ln(0) terms are clamped so a saturated unit costs a large finite amount, not NaN.
                for (int i = 0; i < a.Length; i++)
                {
                    double ai = Math.Clamp(a[i], 1e-12, 1 - 1e-12);
                    sum -= y[i] * Math.Log(ai) + (1 - y[i]) * Math.Log(1 - ai);
                }
                break;
            case OutputCost.SoftmaxLogLikelihood:
                for (int i = 0; i < a.Length; i++)
                    if (y[i] != 0) sum -= y[i] * Math.Log(Math.Max(a[i], 1e-30));
                break;
            default: throw new ArgumentOutOfRangeException(nameof(cost), cost, null);
        }
        return sum;
    }

    /// <summary>
    /// Row-wise softmax of a [rows x cols] matrix, exp(z - max) / sum(exp(z - max)); z and a may be the same span.
    /// The row maximum is subtracted first (TensorPrimitives.SoftMax does not), so logits beyond ln(float.MaxValue),
    /// about 88, which a ReLU network can reach, give probabilities rather than inf / inf = NaN.
    /// </summary>
    public static void Softmax(ReadOnlySpan<float> z, Span<float> a, int rows, int cols)
    {
        CheckMatrix(z.Length, rows, cols, nameof(z));
        CheckMatrix(a.Length, rows, cols, nameof(a));
        if (cols == 0) return;
        for (int r = 0; r < rows; r++)
        {
            var ar = a.Slice(r * cols, cols);
            var zr = z.Slice(r * cols, cols);
            TensorPrimitives.Subtract(zr, TensorPrimitives.Max(zr), ar);
            TensorPrimitives.Exp(ar, ar);   // every exponent <= 0, the largest exactly 0: the sum is in [1, cols]
            TensorPrimitives.Divide(ar, TensorPrimitives.Sum(ar), ar);
        }
    }

    /// <summary>
    /// Row-wise log-softmax, z - max - ln(sum(exp(z - max))): finite where softmax underflows to 0, so log-likelihoods of
    /// confident wrong answers stay exact. z and a may be the same span.
    /// </summary>
    public static void LogSoftmax(ReadOnlySpan<float> z, Span<float> a, int rows, int cols)
    {
        CheckMatrix(z.Length, rows, cols, nameof(z));
        CheckMatrix(a.Length, rows, cols, nameof(a));
        if (cols == 0) return;
        for (int r = 0; r < rows; r++)
        {
            var zr = z.Slice(r * cols, cols);
            var ar = a.Slice(r * cols, cols);
            float max = TensorPrimitives.Max(zr);
            TensorPrimitives.Subtract(zr, max, ar);
            float sum = 0f;
            foreach (float v in ar) sum += MathF.Exp(v);   // every exponent <= 0: no overflow; the max term is 1
            float logSum = MathF.Log(sum);
            TensorPrimitives.Subtract(ar, logSum, ar);
        }
    }

    /// <summary>
    /// Bias + activation and pooling over at least this many output floats split over a worker pool when given one: a
    /// worker's wake-up costs about a microsecond, and these kernels stream a few floats per nanosecond. A pool that is
    /// busy (a kernel inside a split training step) runs the work inline.
    /// </summary>
    public const int ParallelElements = 1 << 16;

    /// <summary>
    /// Runs <paramref name="work"/> inline, or over the pool when it covers at least <see cref="ParallelElements"/> floats
    /// in at least two parts and the pool has more than one worker. The kernels that split their own output (bias +
    /// activation, pooling, im2col / col2im) all decide here.
    /// </summary>
    internal static void RunSplit<T>(ref T work, long floats, int parts, WorkerPool? pool) where T : unmanaged, IParallelWork
    {
        if (pool is null || floats < ParallelElements || parts < 2 || pool.DegreeOfParallelism == 1) work.Execute(0, 1);
        else pool.Run(ref work, pool.DegreeOfParallelism);
    }

    /// <summary>
    /// z += bias, then a = f(z), on a row-major [rows x cols] matrix. ReLU and identity with a per-row bias (the
    /// convolutional case) run fused in one pass; the rest adds the bias, then calls <see cref="Activate"/>.
    /// With a <paramref name="pool"/> and at least <see cref="ParallelElements"/> floats, contiguous ranges of rows go to
    /// the workers; each element is computed as on one thread.
    /// </summary>
    public static unsafe void BiasActivation(Span<float> z, ReadOnlySpan<float> bias, Span<float> a, int rows, int cols, BiasAxis axis, Activation f,
        WorkerPool? pool, CpuContext cpu)
    {
        CheckMatrix(z.Length, rows, cols, nameof(z));
        CheckMatrix(a.Length, rows, cols, nameof(a));
        CheckBias(bias.Length, rows, cols, axis);
        fixed (float* pz = z, pb = bias, pa = a)
        {
            var work = new BiasActivationSplit(pz, pb, pa, rows, cols, axis, f, cpu.Level);
            RunSplit(ref work, (long)rows * cols, rows, pool);
        }
    }

    /// <summary>A contiguous range of rows per worker; the bias follows the rows when it is per row.</summary>
    private readonly unsafe struct BiasActivationSplit(float* z, float* bias, float* a, int rows, int cols, BiasAxis axis, Activation f, CpuLevel level) : IParallelWork
    {
        public void Execute(int worker, int workers)
        {
            var (r0, r1) = WorkerPool.Partition(rows, worker, workers);
            if (r0 >= r1) return;
            int n = r1 - r0;
            long start = (long)r0 * cols;
            var b = axis == BiasAxis.PerRow ? new ReadOnlySpan<float>(bias + r0, n) : new ReadOnlySpan<float>(bias, cols);
            BiasActivationRows(new Span<float>(z + start, n * cols), b, new Span<float>(a + start, n * cols), n, cols, axis, f, level);
        }
    }

    /// <summary><see cref="BiasActivation"/> on one thread, the shapes already checked.</summary>
    private static void BiasActivationRows(Span<float> z, ReadOnlySpan<float> bias, Span<float> a, int rows, int cols, BiasAxis axis, Activation f, CpuLevel level)
    {
        if (axis == BiasAxis.PerColumn || f is not (Activation.ReLU or Activation.Identity))
        {
            AddBias(z, bias, rows, cols, axis);
            Activate(f, z[..(rows * cols)], a[..(rows * cols)]);
            return;
        }
        float floor = f == Activation.ReLU ? 0f : float.NegativeInfinity;
        for (int r = 0; r < rows; r++) BiasRowThenFloor(z.Slice(r * cols, cols), bias[r], floor, a.Slice(r * cols, cols), level);
    }

    /// <summary>z += b; a = max(z, floor) in one pass over a row.</summary>
    private static void BiasRowThenFloor(Span<float> z, float b, float floor, Span<float> a, CpuLevel level)
    {
        int i = 0, n = z.Length;
        ref float pz = ref z.GetPinnableReference();
        ref float pa = ref a.GetPinnableReference();
        if (level >= CpuLevel.Avx512)
        {
            var vb = Vector512.Create(b); var vf = Vector512.Create(floor);
            for (; i <= n - 16; i += 16)
            {
                var v = Vector512.LoadUnsafe(ref pz, (nuint)i) + vb;
                v.StoreUnsafe(ref pz, (nuint)i);
                Vector512.Max(v, vf).StoreUnsafe(ref pa, (nuint)i);
            }
        }
        else if (level >= CpuLevel.Avx2)
        {
            var vb = Vector256.Create(b); var vf = Vector256.Create(floor);
            for (; i <= n - 8; i += 8)
            {
                var v = Vector256.LoadUnsafe(ref pz, (nuint)i) + vb;
                v.StoreUnsafe(ref pz, (nuint)i);
                Vector256.Max(v, vf).StoreUnsafe(ref pa, (nuint)i);
            }
        }
        for (; i < n; i++)
        {
            float v = Unsafe.Add(ref pz, i) + b;
            Unsafe.Add(ref pz, i) = v;
            Unsafe.Add(ref pa, i) = Math.Max(v, floor);
        }
    }

    /// <summary>x[r, c] += bias[c] (PerColumn) or bias[r] (PerRow) on a row-major [rows x cols] matrix.</summary>
    public static void AddBias(Span<float> x, ReadOnlySpan<float> bias, int rows, int cols, BiasAxis axis)
    {
        CheckMatrix(x.Length, rows, cols, nameof(x));
        CheckBias(bias.Length, rows, cols, axis);
        for (int r = 0; r < rows; r++)
        {
            var row = x.Slice(r * cols, cols);
            if (axis == BiasAxis.PerColumn) TensorPrimitives.Add(row, bias[..cols], row);
            else TensorPrimitives.Add(row, bias[r], row);
        }
    }

    /// <summary>gradBias = beta * gradBias + the sums of gradZ along the bias axis.</summary>
    public static void BiasGradient(ReadOnlySpan<float> gradZ, Span<float> gradBias, int rows, int cols, BiasAxis axis, float beta)
    {
        CheckMatrix(gradZ.Length, rows, cols, nameof(gradZ));
        CheckBias(gradBias.Length, rows, cols, axis);
        if (axis == BiasAxis.PerColumn)
        {
            var g = gradBias[..cols];
            if (beta == 0f) g.Clear(); else if (beta != 1f) TensorPrimitives.Multiply(g, beta, g);
            for (int r = 0; r < rows; r++) TensorPrimitives.Add(g, gradZ.Slice(r * cols, cols), g);
        }
        else
        {
            for (int r = 0; r < rows; r++)
            {
                float s = TensorPrimitives.Sum(gradZ.Slice(r * cols, cols));
                gradBias[r] = beta == 0f ? s : beta * gradBias[r] + s;
            }
        }
    }

    /// <summary>Index of the largest value in each row of a [rows x cols] matrix.</summary>
    public static void ArgMaxRows(ReadOnlySpan<float> x, int rows, int cols, Span<int> result)
    {
        CheckMatrix(x.Length, rows, cols, nameof(x));
        if (result.Length < rows) throw new ArgumentException($"ArgMaxRows: result has {result.Length} slots for {rows} rows.", nameof(result));
        for (int r = 0; r < rows; r++) result[r] = TensorPrimitives.IndexOfMax(x.Slice(r * cols, cols));
    }

    // ---- fused binary operations: (x, y) -> z, with scalar, Vector256 and Vector512 forms ----

    internal interface IBinaryOp
    {
        static abstract float Invoke(float x, float y);
        static abstract Vector256<float> Invoke(Vector256<float> x, Vector256<float> y);
        static abstract Vector512<float> Invoke(Vector512<float> x, Vector512<float> y);
    }

    /// <summary>x = a, y = gradA: gradA * a * (1 - a).</summary>
    internal readonly struct SigmoidGrad : IBinaryOp
    {
        public static float Invoke(float a, float g) => g * a * (1f - a);
        public static Vector256<float> Invoke(Vector256<float> a, Vector256<float> g) => g * a * (Vector256<float>.One - a);
        public static Vector512<float> Invoke(Vector512<float> a, Vector512<float> g) => g * a * (Vector512<float>.One - a);
    }

    /// <summary>x = a, y = gradA: gradA * (1 - a^2).</summary>
    internal readonly struct TanhGrad : IBinaryOp
    {
        public static float Invoke(float a, float g) => g * (1f - a * a);
        public static Vector256<float> Invoke(Vector256<float> a, Vector256<float> g) => g * (Vector256<float>.One - a * a);
        public static Vector512<float> Invoke(Vector512<float> a, Vector512<float> g) => g * (Vector512<float>.One - a * a);
    }

    /// <summary>x = a, y = gradA: gradA where a > 0, else 0.</summary>
    internal readonly struct ReluGrad : IBinaryOp
    {
        public static float Invoke(float a, float g) => a > 0f ? g : 0f;
        public static Vector256<float> Invoke(Vector256<float> a, Vector256<float> g) => Vector256.ConditionalSelect(Vector256.GreaterThan(a, Vector256<float>.Zero), g, Vector256<float>.Zero);
        public static Vector512<float> Invoke(Vector512<float> a, Vector512<float> g) => Vector512.ConditionalSelect(Vector512.GreaterThan(a, Vector512<float>.Zero), g, Vector512<float>.Zero);
    }

    /// <summary>x = a, y = target: (a - y) a (1 - a).</summary>
    internal readonly struct QuadraticSigmoidDelta : IBinaryOp
    {
        public static float Invoke(float a, float y) => (a - y) * a * (1f - a);
        public static Vector256<float> Invoke(Vector256<float> a, Vector256<float> y) => (a - y) * a * (Vector256<float>.One - a);
        public static Vector512<float> Invoke(Vector512<float> a, Vector512<float> y) => (a - y) * a * (Vector512<float>.One - a);
    }

    /// <summary>The one driver for binary operations: the level's vectors, then the scalar tail.</summary>
    internal static void Binary<TOp>(ReadOnlySpan<float> x, ReadOnlySpan<float> y, Span<float> z, CpuLevel level) where TOp : IBinaryOp
    {
        int n = x.Length, i = 0;
        ref float px = ref Unsafe.AsRef(in x.GetPinnableReference());
        ref float py = ref Unsafe.AsRef(in y.GetPinnableReference());
        ref float pz = ref z.GetPinnableReference();
        if (level >= CpuLevel.Avx512)
        {
            for (; i <= n - 16; i += 16)
                TOp.Invoke(Vector512.LoadUnsafe(ref px, (nuint)i), Vector512.LoadUnsafe(ref py, (nuint)i)).StoreUnsafe(ref pz, (nuint)i);
        }
        else if (level >= CpuLevel.Avx2)
        {
            for (; i <= n - 8; i += 8)
                TOp.Invoke(Vector256.LoadUnsafe(ref px, (nuint)i), Vector256.LoadUnsafe(ref py, (nuint)i)).StoreUnsafe(ref pz, (nuint)i);
        }
        for (; i < n; i++)
            Unsafe.Add(ref pz, i) = TOp.Invoke(Unsafe.Add(ref px, i), Unsafe.Add(ref py, i));
    }

    internal static void CheckSame(int expected, int actual, string name)
    {
        if (expected != actual) throw new ArgumentException($"Length mismatch: {name} has {actual} elements, expected {expected}.", name);
    }

    internal static void CheckMatrix(int length, int rows, int cols, string name)
    {
        if (rows < 0 || cols < 0 || length < (long)rows * cols)
            throw new ArgumentException($"{name} has {length} elements, too few for a {rows} x {cols} matrix.", name);
    }

    private static void CheckBias(int length, int rows, int cols, BiasAxis axis)
    {
        int need = axis == BiasAxis.PerColumn ? cols : rows;
        if (length < need) throw new ArgumentException($"Bias has {length} elements, but a {rows} x {cols} matrix with {axis} bias needs {need}.", "bias");
    }
}
