using System.Numerics.Tensors;
using NativeNet.Core.Memory;
using NativeNet.Core.Threading;

namespace NativeNet.Core.Gemm;

/// <summary>
/// A product with few rows of C and a large B read in place (a mini-batch times a layer's weights, 10 x 1000 x 1000)
/// split along k in two halves fixed by the shape: C = (alpha A[:, :h] B[:h, :] + beta C) + alpha A[:, h:] B[h:, :], the
/// second product in scratch, then added. Split along n instead, each of two workers would read every row of B half at
/// a time, an order the prefetchers follow badly; split along k, each streams whole rows of its half of B, as one thread
/// does alone. The halves are the same for any worker count (one worker does both, in turn), so the bits are too.
/// </summary>
internal static unsafe class SplitDepth
{
    /// <summary>B's size (floats) from which the split applies: 1 MiB, where B stops staying in L2 between calls.</summary>
    private const long MinB = 1 << 18;

    /// <summary>
    /// The most rows of C: with more, each element of B feeds enough FMAs that the product is bound by arithmetic, not by
    /// reading B, and the split would only add the partial sum.
    /// </summary>
    private const int MaxRows = 16;

    /// <summary>Whether a product splits k in two.</summary>
    public static bool Applies(in Operands op, int m, int n, int k, GemmConfig config)
        => m <= MaxRows && PackedGemm.ReadsBInPlace(op, m, config.InPlaceRows) && k >= 4 * PackedGemm.InPlaceKC && (long)k * n >= MinB;

    /// <summary>Runs the two halves, half the workers each (see <see cref="PackedGemm"/> for how each half splits), then adds the second to C.</summary>
    public static void Multiply(in Operands op, int m, int n, int k, GemmConfig config, int workers, WorkerPool pool)
    {
        int h = FixedHalves.Boundary(k, PackedGemm.InPlaceKC);   // whole k blocks in the first half
        float* partial = ThreadScratch.C(m * n);
        var split = new Halves(
            new PackedGemm(op, m, n, h, config, FixedHalves.FirstWorkers(workers)),
            new PackedGemm(op.FromDepth(h).WithC(partial, n, 0f), m, n, k - h, config, FixedHalves.SecondWorkers(workers)));
        pool.Run(ref split, workers);   // one worker runs inline
        for (int i = 0; i < m; i++)
        {
            var row = new Span<float>(op.C + (long)i * op.Ldc, n);
            TensorPrimitives.Add(row, new ReadOnlySpan<float>(partial + (long)i * n, n), row);
        }
    }

    /// <summary>The first half's product and the second's, shared among workers as <see cref="FixedHalves"/> does.</summary>
    private readonly struct Halves(PackedGemm first, PackedGemm second) : IParallelWork, IHalvedWork
    {
        private readonly PackedGemm _first = first, _second = second;

        public void Execute(int worker, int workers) => FixedHalves.Execute(this, worker, workers);

        public void First(int worker, int workers) => _first.Execute(worker, workers);

        public void Second(int worker, int workers) => _second.Execute(worker, workers);
    }
}
