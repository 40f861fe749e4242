using System.Runtime.InteropServices;
using NativeNet.Core;
using NativeNet.Core.Backends;
using NativeNet.Core.Kernels;
using NativeNet.Core.Threading;
using NativeNet.Layers;

using NativeNet.Training;

namespace NativeNet;

/// <summary>
/// Hyper-parameters of mini-batch gradient descent, with the book's semantics: L2 and L1 are lambda over the
/// training-set size n (w &lt;- (1 - eta lambda / n) w - (eta / m) sum grad); biases are not regularized.
/// For chapter 6's network3, whose L2 term is lambda / (number of batches), use lambda3 * m here.
/// </summary>
public sealed record SgdOptions
{
    /// <summary>m, the examples per mini-batch (the largest batch <see cref="SgdTrainer.Step(ReadOnlySpan{float}, ReadOnlySpan{byte})"/> takes).</summary>
    public int BatchSize { get; init; } = 10;
    /// <summary>eta, the step size.</summary>
    public float LearningRate { get; init; } = 0.1f;
    /// <summary>lambda of L2 regularization (weight decay); 0 for none.</summary>
    public float L2 { get; init; }
    /// <summary>lambda of L1 regularization; 0 for none.</summary>
    public float L1 { get; init; }
    /// <summary>mu, the momentum coefficient in [0, 1); 0 for plain SGD. Needs a network built with momentum buffers.</summary>
    public float Momentum { get; init; }
    /// <summary>Use Nesterov's accelerated form of momentum.</summary>
    public bool Nesterov { get; init; }
    /// <summary>n in lambda / n: the number of training examples.</summary>
    public int TrainingSetSize { get; init; } = 50_000;
    /// <summary>Seeds the dropout masks (a pure function of seed, step and layer).</summary>
    public ulong Seed { get; init; } = 1;
    /// <summary>
    /// On the CPU, split each mini-batch into this many slices trained at once on the worker pool, each slice writing
    /// its own gradient copy, summed in slice order. 1 keeps the batch whole and lets large GEMMs use the threads instead;
    /// 0 (the default) chooses: split when the pool has several threads and the batch has at least 4 examples per thread.
    /// </summary>
    public int MiniBatchSplit { get; init; }
    /// <summary>
    /// The most examples one workspace runs forward and backward at once. A worker's share of a mini-batch that is
    /// larger runs in equal passes on one workspace, each adding its gradients to the earlier passes' (the same
    /// gradient, summed in a different order), so the activations stay in cache and the training workspaces do not grow
    /// with the batch. 0 (the default) chooses: on the CPU, a share that holds at least twice the examples whose training
    /// activations fit 2 MiB runs in passes of that many, a smaller share in one pass; on a device, the whole batch.
    /// </summary>
    public int MicroBatch { get; init; }
    /// <summary>
    /// With plain SGD (no momentum, no L1) on a whole mini-batch, fully connected layers fold the update into their
    /// weight-gradient GEMM (W &lt;- (1 - eta lambda / n) W - (eta / m) dz^T x), which saves two passes over each weight
    /// matrix per step. The same arithmetic in a different rounding order; false keeps gradient and update apart.
    /// After a fused step those layers' weight <see cref="Parameter.Gradient"/> tensors are not current (they hold what an
    /// earlier unfused step wrote); <see cref="SgdTrainer.ForwardBackward"/> never fuses and always fills them.
    /// </summary>
    public bool FuseWeightUpdate { get; init; } = true;

    /// <summary>Checks every option's range.</summary>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range; the exception names it.</exception>
    public void Validate()
    {
        if (BatchSize < 1) throw new ArgumentOutOfRangeException(nameof(BatchSize), BatchSize, "Mini-batch size must be at least 1.");
        if (!(LearningRate > 0) || float.IsInfinity(LearningRate)) throw new ArgumentOutOfRangeException(nameof(LearningRate), LearningRate, "The learning rate must be a positive finite number.");
        if (!(L2 >= 0) || !(L1 >= 0) || float.IsInfinity(L2) || float.IsInfinity(L1))
            throw new ArgumentOutOfRangeException(nameof(L2), "Regularization strengths must be finite and non-negative.");
        if (MicroBatch < 0) throw new ArgumentOutOfRangeException(nameof(MicroBatch), MicroBatch, "Micro-batch must be 0 (automatic) or a positive count.");
        if (MiniBatchSplit < 0) throw new ArgumentOutOfRangeException(nameof(MiniBatchSplit), MiniBatchSplit, "Mini-batch split must be 0 (automatic) or a positive count.");
        if (!(Momentum >= 0 && Momentum < 1)) throw new ArgumentOutOfRangeException(nameof(Momentum), Momentum, "Momentum must be in [0, 1).");
        if (TrainingSetSize < 1) throw new ArgumentOutOfRangeException(nameof(TrainingSetSize), TrainingSetSize, "Training-set size must be positive.");
    }
}

/// <summary>Accuracy and mean cost of a network on a data set.</summary>
/// <param name="Correct">Examples classified correctly.</param>
/// <param name="Count">Examples evaluated.</param>
/// <param name="MeanCost">The cost averaged over the examples.</param>
public readonly record struct Evaluation(int Correct, int Count, double MeanCost)
{
    /// <summary>Correct / Count, in [0, 1]; 0 for an empty set.</summary>
    public double Accuracy => Count == 0 ? 0 : (double)Correct / Count;
}

/// <summary>
/// Trains a network one mini-batch at a time: upload the batch, forward, output error, backward over the whole
/// batch at once (matrix form, no per-example loop), then one optimizer step per parameter tensor. After the first
/// step nothing is allocated. The batch's GEMMs are split across the worker pool when their size pays for it;
/// every kernel is deterministic, so a seeded run repeats bit for bit.
/// </summary>
public sealed class SgdTrainer : IDisposable
{
    private readonly Network _net;
    private readonly Workspace _ws;
    private readonly Workspace _eval;
    // The one-hot targets of a step given labels, [BatchSize x outputs] (the workspaces may hold fewer examples).
    private readonly float[] _hostTargets;
    // The step's examples [count x inputs] and targets [count x outputs], pinned while its passes read them.
    private unsafe float* _examples, _targets;
    private readonly int[] _argmax;
    // Mini-batch split across the CPU worker pool: slice 0 is _ws (it writes the parameters' gradients);
    // slices 1.. have private gradients that are added into slice 0's after every step.
    private readonly Workspace[] _slices;
    private readonly Tensor[][] _sliceGradients;
    private readonly int[] _sliceStart, _sliceCount;
    // The update rules of the split step in progress, read by ReduceSlices' workers.
    private (UpdateRule Weights, UpdateRule Biases) _updateRules;
    private readonly WorkerPool? _pool;
    // The CPU context the split step's reduction updates with (set with _pool: only a split batch reduces on the host).
    private readonly CpuContext? _cpu;
    private GCHandle _self;
    // What the optimizer still updates after a step whose backward pass fused the weights' update: everything else.
    private readonly Parameter[] _notFused;

    /// <summary>A trainer for <paramref name="network"/>; it reserves its workspaces now. Not thread-safe: one trainer, one thread.</summary>
    /// <param name="network">The network to train, updated in place.</param>
    /// <param name="options">The hyper-parameters; validated here.</param>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range.</exception>
    /// <exception cref="ArgumentException">Momentum is set but the network has no velocity buffers.</exception>
    public SgdTrainer(Network network, SgdOptions options)
    {
        options.Validate();
        if ((options.Momentum > 0) && !network.HasVelocity)
            throw new ArgumentException("Momentum needs velocity buffers: build the network with withMomentum: true.", nameof(options));
        _net = network;
        Options = options;
        LearningRate = options.LearningRate;
        int split = ChooseSplit(network, options);
        Split = split;
        MicroBatch = ChooseMicroBatch(network, options, split);
        _ws = network.CreateWorkspace(Math.Min(options.BatchSize, MicroBatch), training: true);
        _eval = network.CreateWorkspace(Math.Max(options.BatchSize, 100), training: false);
        _argmax = new int[_eval.Capacity];
        _hostTargets = new float[options.BatchSize * network.OutputSize];
        _slices = new Workspace[split];
        _slices[0] = _ws;
        int sliceCapacity = Math.Min((options.BatchSize + split - 1) / split, MicroBatch);
        for (int k = 1; k < split; k++) _slices[k] = network.CreateWorkspace(sliceCapacity, training: true, ownGradients: true);
        _sliceGradients = _slices.Select(s => s.GradientTargets.ToArray()).ToArray();
        _sliceStart = new int[split];
        _sliceCount = new int[split];
        _notFused = network.Layers.SelectMany(l => l.Parameters.Where(p => !ReferenceEquals(p, l.FusedWeight))).ToArray();
        if (split > 1)
        {
            var host = HostCpu(network)!;
            _pool = host.Pool;
            _cpu = host.Cpu;
            _self = GCHandle.Alloc(this);
        }
    }

    /// <summary>
    /// A split pays when a step does much arithmetic per parameter: every step the updated weights must travel to the
    /// other cores' caches, and for small networks that costs more than the halved arithmetic saves. Measured with
    /// `nativenet bench train --split 1|2`: ch1 (60 FLOP per parameter per step) is faster whole, ch6-relu (about 1000) split.
    /// </summary>
    private static bool SplitPays(Network net, int batch) => (double)net.TrainingFlopsPerExample * batch / net.ParameterCount >= 300;

    /// <summary>The CPU backend the network runs on, looking through a profiling wrapper; null for devices.</summary>
    private static CpuBackend? HostCpu(Network net) => CpuBackend.Behind(net.Backend);

    /// <summary>How many slices each mini-batch is split into (1: not split).</summary>
    public int Split { get; }

    /// <summary>The most examples one workspace runs forward and backward at once (see <see cref="SgdOptions.MicroBatch"/>).</summary>
    public int MicroBatch { get; }

    /// <summary>
    /// The training activations (with their gradients and scratch) one pass holds when <see cref="SgdOptions.MicroBatch"/>
    /// is automatic and a worker's share of the batch is large. Measured on a Zen 3 core (512 KiB L2, 32 MiB L3):
    /// ch6-relu trained as fast in passes of 6 to 11 images, and faster than in passes of 4 or in one pass of 32 or 64
    /// images (see benchmarks/experiments/avx2-zen3.md). Chapter 1's network fits any batch in one pass.
    /// </summary>
    internal const long PassBytes = 2L << 20;

    /// <summary>
    /// The pass size: the option's, at most the batch; on a device, the batch; else what fits <see cref="PassBytes"/>,
    /// unless a worker's share is smaller than two such passes. Cutting batch 10 (one thread) into two passes of 5 cost
    /// 5-8% on the Zen 3 core, and a pass that is not the whole batch cannot fuse the dense layers' update.
    /// </summary>
    private static int ChooseMicroBatch(Network net, SgdOptions o, int split)
    {
        if (o.MicroBatch != 0) return Math.Min(o.MicroBatch, o.BatchSize);
        if (HostCpu(net) is null) return o.BatchSize;   // a device keeps the batch in one pass
        int share = (o.BatchSize + split - 1) / split;
        int fits = (int)Math.Clamp(PassBytes / net.TrainingBytesPerExample(), 1, o.BatchSize);
        return share < 2 * fits ? o.BatchSize : fits;
    }

    private static int ChooseSplit(Network net, SgdOptions o)
    {
        if (HostCpu(net) is not CpuBackend cpu) return 1;   // a device parallelizes inside its kernels
        int threads = cpu.Pool.DegreeOfParallelism;
        int split = o.MiniBatchSplit != 0 ? o.MiniBatchSplit : threads > 1 && o.BatchSize >= 4 * threads && SplitPays(net, o.BatchSize) ? threads : 1;
        return Math.Clamp(split, 1, Math.Max(1, o.BatchSize));
    }

    /// <summary>The options the trainer was made with.</summary>
    public SgdOptions Options { get; }
    /// <summary>The network being trained.</summary>
    public Network Network => _net;

    /// <summary>The current learning rate (schedules lower it during training).</summary>
    public float LearningRate { get; set; }

    /// <summary>Optimizer steps taken so far (also the dropout stream).</summary>
    public ulong Steps { get; set; }

    /// <summary>One step on a batch with integer class labels (targets are one-hot).</summary>
    /// <param name="examples">labels.Length examples back to back, InputSize floats each.</param>
    /// <param name="labels">One class per example, 1 to <see cref="SgdOptions.BatchSize"/> of them, each below OutputSize.</param>
    /// <exception cref="ArgumentException">A length does not match, or a label is outside the output classes.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The batch is empty or larger than <see cref="SgdOptions.BatchSize"/>.</exception>
    public void Step(ReadOnlySpan<float> examples, ReadOnlySpan<byte> labels)
    {
        int count = labels.Length;
        CheckCount(count);
        var y = _hostTargets.AsSpan(0, count * _net.OutputSize);
        OneHot(labels, y, _net.OutputSize);
        Step(examples, y, count);
    }

    /// <summary>One step on a batch with real-valued targets [count x outputs].</summary>
    /// <param name="examples">count x InputSize floats, row-major.</param>
    /// <param name="targets">count x OutputSize floats, row-major.</param>
    /// <param name="count">Examples in the batch, 1 to <see cref="SgdOptions.BatchSize"/>.</param>
    /// <exception cref="ArgumentException">A span's length does not match <paramref name="count"/>.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="count"/> is below 1 or above <see cref="SgdOptions.BatchSize"/>.</exception>
    public void Step(ReadOnlySpan<float> examples, ReadOnlySpan<float> targets, int count)
    {
        FusedSgd? fused = FusesWeightUpdateOn(count)
            ? new FusedSgd(-LearningRate / count, 1f - LearningRate * (Options.L2 / Options.TrainingSetSize))
            : null;
        RunSlices(examples, targets, count, fused);
        if (Whole(count)) ApplyUpdate(count, fused is not null ? _notFused : _net.ParameterArray);
        else ReduceSlices(count, update: true);
        Steps++;
    }

    /// <summary>Whether steps on whole (unsplit) batches fold the fully connected layers' update into their GEMM (see <see cref="SgdOptions.FuseWeightUpdate"/>).</summary>
    public bool FusesWeightUpdate => Options.FuseWeightUpdate && Options.Momentum == 0f && Options.L1 == 0f;

    /// <summary>Whether a step on <paramref name="count"/> examples folds the update into the GEMMs: plain SGD on a whole batch in one pass.</summary>
    /// <param name="count">Examples in the step.</param>
    public bool FusesWeightUpdateOn(int count) => FusesWeightUpdate && Whole(count) && count <= _ws.Capacity;

    /// <summary>Whether a batch of <paramref name="count"/> runs whole on one workspace (not split across workers).</summary>
    private bool Whole(int count) => Split == 1 || count < 2 * Split;

    /// <summary>Forward and backward without updating: fills every parameter's gradient (summed over the batch).</summary>
    /// <param name="examples">count x InputSize floats, row-major.</param>
    /// <param name="targets">count x OutputSize floats, row-major.</param>
    /// <param name="count">Examples in the batch, 1 to <see cref="SgdOptions.BatchSize"/>.</param>
    public void ForwardBackward(ReadOnlySpan<float> examples, ReadOnlySpan<float> targets, int count)
    {
        RunSlices(examples, targets, count, fused: null);
        if (!Whole(count)) ReduceSlices(count, update: false);
    }

    /// <summary>
    /// The batch forward and backward, whole or in slices over the pool; a split batch leaves each slice's gradients in
    /// its own tensors, for <see cref="ReduceSlices"/> to sum.
    /// </summary>
    private unsafe void RunSlices(ReadOnlySpan<float> examples, ReadOnlySpan<float> targets, int count, FusedSgd? fused)
    {
        CheckCount(count);
        Network.CheckLength(examples.Length, count * _net.InputSize, nameof(examples));
        Network.CheckLength(targets.Length, count * _net.OutputSize, nameof(targets));
        fixed (float* x = examples, y = targets)
        {
            _examples = x; _targets = y;
            try
            {
                if (Whole(count)) RunShare(_ws, 0, count, worker: 0, fused);
                else
                {
                    for (int k = 0; k < Split; k++)
                    {
                        var (start, end) = WorkerPool.Partition(count, k, Split);
                        _sliceStart[k] = start;
                        _sliceCount[k] = end - start;
                    }
                    var work = new SliceWork(GCHandle.ToIntPtr(_self));
                    _pool!.Run(ref work, Split);
                }
            }
            finally { _examples = _targets = null; }
        }
    }

    private void CheckCount(int count)
    {
        if (count < 1 || count > Options.BatchSize)
            throw new ArgumentOutOfRangeException(nameof(count), count, $"A step takes 1 to {Options.BatchSize} examples (the batch size), not {count}.");
    }

    /// <summary>
    /// Forward and backward of examples [start, start + count) of the step on <paramref name="ws"/>, in as few equal
    /// passes as its capacity allows; a later pass adds its gradients to the earlier ones'. Only a single pass may fuse.
    /// </summary>
    private unsafe void RunShare(Workspace ws, int start, int count, int worker, FusedSgd? fused)
    {
        int inputs = _net.InputSize, outputs = _net.OutputSize, passes = (count + ws.Capacity - 1) / ws.Capacity;
        if (fused is not null && passes > 1) throw new InvalidOperationException("A fused weight update needs the whole batch in one pass.");
        for (int pass = 0; pass < passes; pass++)
        {
            var (p0, p1) = WorkerPool.Partition(count, pass, passes);
            int n = p1 - p0, first = start + p0;
            ws.LoadInputs(new ReadOnlySpan<float>(_examples + (long)first * inputs, n * inputs), n);
            _net.Backend.Upload(new ReadOnlySpan<float>(_targets + (long)first * outputs, n * outputs), ws.Target!);
            ws.Forward(n, training: true, Options.Seed, Steps, worker, pass);
            ws.Backward(n, Options.Seed, Steps, worker, fused, pass);
        }
    }

    /// <summary>
    /// The end of a split batch, on the whole pool: sum the slices' gradients into slice 0's (the parameters' own) and, for
    /// a step, apply the optimizer right away while each share is in cache. Every worker takes an equal range of every
    /// parameter tensor; both operations are element-wise and each element sums the slices in slice order, so the bits do
    /// not depend on the worker count. (On one thread, sum and update left the other cores idle.)
    /// </summary>
    private void ReduceSlices(int count, bool update)
    {
        if (update) _updateRules = UpdateRules(count);
        var work = new ReduceWork(GCHandle.ToIntPtr(_self), update);
        _pool!.Run(ref work, _pool.DegreeOfParallelism);
    }

    private readonly struct ReduceWork(nint trainer, bool update) : IParallelWork
    {
        public void Execute(int worker, int workers) => ((SgdTrainer)GCHandle.FromIntPtr(trainer).Target!).Reduce(worker, workers, update);
    }

    private void Reduce(int worker, int workers, bool update)
    {
        var parameters = _net.ParameterArray;
        for (int t = 0; t < parameters.Length; t++)
        {
            var p = parameters[t];
            var (start, end) = WorkerPool.Partition(p.Value.Length, worker, workers, grain: 16);
            if (start >= end) continue;
            var sum = CpuBackend.Span(_sliceGradients[0][t]).Slice(start, end - start);
            for (int k = 1; k < Split; k++)
                System.Numerics.Tensors.TensorPrimitives.Add(sum, CpuBackend.Span(_sliceGradients[k][t]).Slice(start, end - start), sum);
            if (!update) continue;
            var velocity = p.Velocity is null ? default : CpuBackend.Span(p.Velocity).Slice(start, end - start);
            Optimizer.Update(CpuBackend.Span(p.Value).Slice(start, end - start), sum, velocity, p.IsWeight ? _updateRules.Weights : _updateRules.Biases,
                _cpu!);
        }
    }

    private readonly struct SliceWork(nint trainer) : IParallelWork
    {
        public void Execute(int worker, int workers)
        {
            // Normally one slice per worker; if the pool was busy and runs this inline, one worker takes every slice.
            var self = (SgdTrainer)GCHandle.FromIntPtr(trainer).Target!;
            for (int k = worker; k < self.Split; k += workers) self.RunSlice(k);
        }
    }

    private void RunSlice(int k) => RunShare(_slices[k], _sliceStart[k], _sliceCount[k], worker: k, fused: null);

    private void ApplyUpdate(int count, Parameter[] parameters)
    {
        var (weights, biases) = UpdateRules(count);
        foreach (var p in parameters)
            _net.Backend.Update(p.Value, p.Gradient, p.Velocity, p.Value.Length, p.IsWeight ? weights : biases);
    }

    /// <summary>This step's update for weights (with L2 / L1) and for biases (without), for a batch of <paramref name="count"/>.</summary>
    private (UpdateRule Weights, UpdateRule Biases) UpdateRules(int count)
    {
        float n = Options.TrainingSetSize;
        var weights = new UpdateRule(LearningRate, 1f / count, Options.L2 / n, Options.L1 / n, Options.Momentum, Options.Nesterov);
        return (weights, weights with { L2 = 0f, L1 = 0f });
    }

    /// <summary>
    /// Accuracy and mean cost on a data set, in batches of the evaluation workspace. With <paramref name="includeRegularization"/>
    /// the cost adds the book's 0.5 (lambda / n) sum w^2 (and (lambda_1 / n) sum |w|).
    /// </summary>
    /// <param name="examples">labels.Length examples back to back, InputSize floats each.</param>
    /// <param name="labels">One class per example.</param>
    /// <param name="includeRegularization">Add the regularization term to the mean cost.</param>
    public Evaluation Evaluate(ReadOnlySpan<float> examples, ReadOnlySpan<byte> labels, bool includeRegularization = false)
    {
        int count = labels.Length, k = _net.OutputSize, correct = 0;
        Network.CheckLength(examples.Length, count * _net.InputSize, nameof(examples));
        double cost = 0;
        var b = _net.Backend;
        for (int start = 0; start < count; start += _eval.Capacity)
        {
            int m = Math.Min(_eval.Capacity, count - start);
            _eval.LoadInputs(examples.Slice(start * _net.InputSize, m * _net.InputSize), m);
            _eval.Forward(m, training: false, 0, 0);
            var scores = _eval.HostOutput.AsSpan(0, m * k);
            b.Download(_eval.Output, scores);
            var y = _eval.HostTarget.AsSpan(0, m * k);
            OneHot(labels.Slice(start, m), y, k);
            cost += Elementwise.Cost(_net.Cost, scores, y);
            Elementwise.ArgMaxRows(scores, m, k, _argmax);
            for (int i = 0; i < m; i++) if (_argmax[i] == labels[start + i]) correct++;
        }
        double mean = count == 0 ? 0 : cost / count;
        if (includeRegularization) mean += RegularizationCost();
        return new Evaluation(correct, count, mean);
    }

    /// <summary>0.5 (lambda / n) sum w^2 + (lambda_1 / n) sum |w| over the weights.</summary>
    public double RegularizationCost()
    {
        if (Options.L2 == 0 && Options.L1 == 0) return 0;
        double l2 = 0, l1 = 0;
        foreach (var p in _net.Parameters.Where(p => p.IsWeight))
        {
            if (Options.L2 != 0) l2 += _net.Backend.Sum(p.Value, p.Value.Length, squares: true);
            if (Options.L1 != 0) l1 += _net.Backend.Sum(p.Value, p.Value.Length, squares: false);
        }
        return 0.5 * Options.L2 / Options.TrainingSetSize * l2 + Options.L1 / Options.TrainingSetSize * l1;
    }

    /// <summary>
    /// Chapter 5's speed of learning: for each layer with biases, ||dC/db|| = ||delta^l|| averaged over the last batch
    /// passed to <see cref="ForwardBackward"/> (the bias gradient is the batch sum of delta).
    /// </summary>
    /// <param name="batchCount">The number of examples in that batch (the divisor of the norm).</param>
    public double[] DeltaNorms(int batchCount)
    {
        var norms = new List<double>();
        foreach (var layer in _net.Layers)
            foreach (var p in layer.Parameters.Where(p => !p.IsWeight))
                norms.Add(Math.Sqrt(_net.Backend.Sum(p.Gradient, p.Gradient.Length, squares: true)) / batchCount);
        return norms.ToArray();
    }

    /// <summary>
    /// y [labels x classes] = the one-hot rows of the labels: row i is 1 at column labels[i], 0 elsewhere.
    /// </summary>
    /// <exception cref="ArgumentException">A label is not below <paramref name="classes"/>; <paramref name="paramName"/> names the argument it came from.</exception>
    internal static void OneHot(ReadOnlySpan<byte> labels, Span<float> y, int classes, string paramName = "labels")
    {
        y.Clear();
        for (int i = 0; i < labels.Length; i++)
        {
            if (labels[i] >= classes) throw new ArgumentException($"Label {labels[i]} at index {i} is outside the network's {classes} output classes.", paramName);
            y[i * classes + labels[i]] = 1f;
        }
    }

    /// <summary>Frees the trainer's workspaces; the network stays usable.</summary>
    public void Dispose()
    {
        foreach (var s in _slices) s.Dispose();
        _eval.Dispose();
        if (_self.IsAllocated) _self.Free();
    }
}
