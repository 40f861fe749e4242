using System.Diagnostics;

namespace NativeNet.Core.Backends;

/// <summary>
/// Wraps a backend and adds up the wall time spent in each primitive. For finding where a training step spends its
/// time: `nativenet bench train --profile`. A queued backend (OpenCL) returns before its kernels run, so by default
/// time lands where the host waits (the next blocking transfer); with <paramref name="synchronizeEach"/> every primitive
/// waits for the device, so each row is that primitive's device time plus one launch and one wait.
/// </summary>
/// <param name="inner">The backend that runs every primitive.</param>
/// <param name="synchronizeEach">Wait for the device after each primitive, so each is timed on its own.</param>
public sealed class ProfilingBackend(IComputeBackend inner, bool synchronizeEach = false) : IComputeBackend, IPoolingConvolution
{
    private readonly IComputeBackend _inner = inner;
    private readonly bool _synchronizeEach = synchronizeEach;

    /// <summary>Whether each primitive waits for the device before its time is taken.</summary>
    public bool SynchronizesEach => _synchronizeEach;
    private readonly Dictionary<Entry, (long Ticks, long Calls)> _totals = [];

    /// <summary>A profiler of <paramref name="inner"/> that adds to this one's totals (a network's single-image backend beside its own).</summary>
    internal ProfilingBackend Sharing(IComputeBackend inner) => new(inner, _synchronizeEach, _totals);

    private ProfilingBackend(IComputeBackend inner, bool synchronizeEach, Dictionary<Entry, (long Ticks, long Calls)> totals) : this(inner, synchronizeEach)
        => _totals = totals;

    /// <summary>
    /// A primitive and, for those timed per shape, its three dimensions: the report's name is formatted from it only when
    /// the report is made, so a profiled step allocates nothing.
    /// </summary>
    private readonly record struct Entry(string Primitive, string? DimensionsFormat = null, int D0 = 0, int D1 = 0, int D2 = 0)
    {
        public override string ToString() => DimensionsFormat is null ? Primitive : Primitive + " " + string.Format(DimensionsFormat, D0, D1, D2);
    }

    private static readonly string[] GemmNames = ["Gemm NN", "Gemm NT", "Gemm TN", "Gemm TT"];

    /// <summary>The wrapped backend's name with " (profiled)" after it.</summary>
    public string Name => _inner.Name + " (profiled)";
    /// <summary>The wrapped backend, which runs every primitive.</summary>
    public IComputeBackend Inner => _inner;

    /// <summary>Primitive name, total seconds and call count, largest first.</summary>
    public IReadOnlyList<(string Primitive, double Seconds, long Calls)> Report()
    {
        KeyValuePair<Entry, (long Ticks, long Calls)>[] totals;
        lock (_totals) totals = _totals.ToArray();
        return totals.Select(kv => (kv.Key.ToString(), kv.Value.Ticks / (double)Stopwatch.Frequency, kv.Value.Calls)).OrderByDescending(x => x.Item2).ToList();
    }

    /// <summary>Clears the totals, e.g. after warm-up steps.</summary>
    public void Reset()
    {
        lock (_totals) _totals.Clear();
    }

    private void Record(string primitive, long start) => Record(new Entry(primitive), start);

    private void Record(Entry entry, long start)
    {
        if (_synchronizeEach) _inner.Synchronize();
        long dt = Stopwatch.GetTimestamp() - start;
        lock (_totals)
        {
            ref var slot = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(_totals, entry, out _);
            slot = (slot.Ticks + dt, slot.Calls + 1);
        }
    }

    /// <inheritdoc/>
    public DeviceBuffer Allocate(int length) => _inner.Allocate(length);
    /// <summary>Disposes the wrapped backend.</summary>
    public void Dispose() => _inner.Dispose();
    /// <inheritdoc/>
    public void Upload(ReadOnlySpan<float> source, Tensor destination, int offset = 0) { long t0 = Stopwatch.GetTimestamp(); _inner.Upload(source, destination, offset); Record("Upload", t0); }
    /// <inheritdoc/>
    public void Download(Tensor source, Span<float> destination, int offset = 0) { long t0 = Stopwatch.GetTimestamp(); _inner.Download(source, destination, offset); Record("Download", t0); }
    /// <inheritdoc/>
    public void Fill(Tensor t, float value, int length) { long t0 = Stopwatch.GetTimestamp(); _inner.Fill(t, value, length); Record("Fill", t0); }
    /// <inheritdoc/>
    public void Copy(Tensor source, Tensor destination, int length) { long t0 = Stopwatch.GetTimestamp(); _inner.Copy(source, destination, length); Record("Copy", t0); }
    /// <inheritdoc/>
    public void Gemm(bool transA, bool transB, int m, int n, int k, float alpha, Tensor a, Tensor b, float beta, Tensor c) { long t0 = Stopwatch.GetTimestamp(); _inner.Gemm(transA, transB, m, n, k, alpha, a, b, beta, c); Record(new Entry(GemmNames[(transA ? 2 : 0) + (transB ? 1 : 0)], "m={0} n={1} k={2}", m, n, k), t0); }
    /// <inheritdoc/>
    public void DenseBackwardStep(int rows, int units, int inputs, float alpha, Tensor dz, Tensor x, float beta, Tensor w, Tensor dx) { long t0 = Stopwatch.GetTimestamp(); _inner.DenseBackwardStep(rows, units, inputs, alpha, dz, x, beta, w, dx); Record(new Entry("DenseBackwardStep", "m={0} units={1} inputs={2}", rows, units, inputs), t0); }
    /// <inheritdoc/>
    public void BiasActivation(Tensor z, Tensor bias, Tensor a, int rows, int cols, BiasAxis axis, Activation f) { long t0 = Stopwatch.GetTimestamp(); _inner.BiasActivation(z, bias, a, rows, cols, axis, f); Record("BiasActivation", t0); }
    /// <inheritdoc/>
    public void Softmax(Tensor z, Tensor a, int rows, int cols) { long t0 = Stopwatch.GetTimestamp(); _inner.Softmax(z, a, rows, cols); Record("Softmax", t0); }
    /// <inheritdoc/>
    public void ActivationBackward(Tensor a, Tensor gradA, Tensor gradZ, int length, Activation f) { long t0 = Stopwatch.GetTimestamp(); _inner.ActivationBackward(a, gradA, gradZ, length, f); Record("ActivationBackward", t0); }
    /// <inheritdoc/>
    public void BiasGradient(Tensor gradZ, Tensor gradBias, int rows, int cols, BiasAxis axis, float beta) { long t0 = Stopwatch.GetTimestamp(); _inner.BiasGradient(gradZ, gradBias, rows, cols, axis, beta); Record("BiasGradient", t0); }
    /// <inheritdoc/>
    public void OutputDelta(OutputCost cost, Tensor a, Tensor y, Tensor delta, int length) { long t0 = Stopwatch.GetTimestamp(); _inner.OutputDelta(cost, a, y, delta, length); Record("OutputDelta", t0); }
    /// <inheritdoc/>
    public double Cost(OutputCost cost, Tensor a, Tensor y, int length) { long t0 = Stopwatch.GetTimestamp(); var r = _inner.Cost(cost, a, y, length); Record("Cost", t0); return r; }
    /// <inheritdoc/>
    public double Sum(Tensor x, int length, bool squares) { long t0 = Stopwatch.GetTimestamp(); var r = _inner.Sum(x, length, squares); Record("Sum", t0); return r; }
    /// <inheritdoc/>
    public void Multiply(Tensor x, Tensor y, Tensor dst, int length) { long t0 = Stopwatch.GetTimestamp(); _inner.Multiply(x, y, dst, length); Record("Multiply", t0); }
    /// <inheritdoc/>
    public void Scale(Tensor x, float s, int length) { long t0 = Stopwatch.GetTimestamp(); _inner.Scale(x, s, length); Record("Scale", t0); }
    /// <inheritdoc/>
    public void DropoutMask(Tensor mask, int length, float keep, ulong seed, ulong stream) { long t0 = Stopwatch.GetTimestamp(); _inner.DropoutMask(mask, length, keep, seed, stream); Record("DropoutMask", t0); }
    /// <inheritdoc/>
    public void Im2Col(Tensor input, Tensor cols, in ConvGeometry g) { long t0 = Stopwatch.GetTimestamp(); _inner.Im2Col(input, cols, in g); Record("Im2Col", t0); }
    /// <inheritdoc/>
    public bool SupportsDirectConvolution(in ConvGeometry g) => _inner.SupportsDirectConvolution(g);
    /// <inheritdoc/>
    public void Convolve(Tensor input, Tensor weights, Tensor output, int filters, in ConvGeometry g) { long t0 = Stopwatch.GetTimestamp(); _inner.Convolve(input, weights, output, filters, in g); Record("DirectConvolve", t0); }

    bool IPoolingConvolution.SupportsConvolveMaxPool2(in ConvGeometry g) => _inner is IPoolingConvolution p && p.SupportsConvolveMaxPool2(g);

    void IPoolingConvolution.ConvolveMaxPool2(Tensor input, Tensor weights, Tensor pooled, int filters, in ConvGeometry g)
    {
        long t0 = Stopwatch.GetTimestamp();
        ((IPoolingConvolution)_inner).ConvolveMaxPool2(input, weights, pooled, filters, in g);
        Record("DirectConvolveMaxPool", t0);
    }
    /// <inheritdoc/>
    public void Col2Im(Tensor cols, Tensor gradInput, in ConvGeometry g) { long t0 = Stopwatch.GetTimestamp(); _inner.Col2Im(cols, gradInput, in g); Record("Col2Im", t0); }
    /// <inheritdoc/>
    public long ConvolutionGradientScratch(in ConvGeometry g, int filters) => _inner.ConvolutionGradientScratch(g, filters);
    /// <inheritdoc/>
    public void ConvolutionWeightGradient(Tensor input, Tensor dz, Tensor cols, Tensor gradWeights, int filters, in ConvGeometry g, float beta) { long t0 = Stopwatch.GetTimestamp(); _inner.ConvolutionWeightGradient(input, dz, cols, gradWeights, filters, in g, beta); Record(new Entry("ConvWeightGradient", "F={0} CKK={1} N*P={2}", filters, g.ColRows, g.ColCols), t0); }
    /// <inheritdoc/>
    public void ConvolutionInputGradient(Tensor weights, Tensor dz, Tensor gradCols, Tensor gradInput, int filters, in ConvGeometry g) { long t0 = Stopwatch.GetTimestamp(); _inner.ConvolutionInputGradient(weights, dz, gradCols, gradInput, filters, in g); Record(new Entry("ConvInputGradient", "F={0} CKK={1} N*P={2}", filters, g.ColRows, g.ColCols), t0); }
    /// <inheritdoc/>
    public void PoolForward(PoolKind kind, Tensor input, Tensor output, Tensor argmax, in PoolGeometry g) { long t0 = Stopwatch.GetTimestamp(); _inner.PoolForward(kind, input, output, argmax, in g); Record("PoolForward", t0); }
    /// <inheritdoc/>
    public void PoolBackward(PoolKind kind, Tensor input, Tensor output, Tensor argmax, Tensor gradOutput, Tensor gradInput, in PoolGeometry g) { long t0 = Stopwatch.GetTimestamp(); _inner.PoolBackward(kind, input, output, argmax, gradOutput, gradInput, in g); Record("PoolBackward", t0); }
    /// <inheritdoc/>
    public void ChannelMajorToBatchMajor(Tensor source, Tensor destination, int channels, int batch, int pixels, bool inverse) { long t0 = Stopwatch.GetTimestamp(); _inner.ChannelMajorToBatchMajor(source, destination, channels, batch, pixels, inverse); Record("ChannelMajorToBatchMajor", t0); }
    /// <inheritdoc/>
    public void Update(Tensor w, Tensor grad, Tensor? velocity, int length, in UpdateRule rule) { long t0 = Stopwatch.GetTimestamp(); _inner.Update(w, grad, velocity, length, in rule); Record("Update", t0); }
    /// <inheritdoc/>
    public void Synchronize() { long t0 = Stopwatch.GetTimestamp(); _inner.Synchronize(); Record("Synchronize", t0); }
}
