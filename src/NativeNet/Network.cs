using System.Diagnostics;
using NativeNet.Core.Backends;
using NativeNet.Core.Threading;
using NativeNet.Core.Kernels;
using NativeNet.Layers;

namespace NativeNet;

/// <summary>
/// A feed-forward network: an ordered list of layers whose parameters live in one arena on a backend.
/// Build one with <see cref="NetworkBuilder"/> or <see cref="NetworkSpec"/>; train it with <see cref="SgdTrainer"/>;
/// classify with <see cref="Predict"/> / <see cref="PredictBatch"/> / <see cref="Classify"/>, which are safe to call from
/// many threads at once. Each call rents an inference workspace from a small pool and gives it back, so memory does not
/// grow with the number of threads that ever called, and once the pool is warm a call allocates nothing (as long as
/// no more than <see cref="WorkspacePool.DefaultCapacity"/> calls run at the same moment). Calls that predict while
/// another thread trains the same network read weights that are being written: their results are then undefined
/// (not a crash); predict from a separate network, or between training steps.
/// </summary>
public sealed class Network : IDisposable
{
    /// <summary>Rows per chunk in <see cref="PredictBatch"/>.</summary>
    public const int PredictBatchCapacity = 100;

    private readonly TensorArena _parameters;
    // The parameters' gradients: storage only once a training workspace is made (EnsureGradients), so a network that
    // only predicts (a loaded model) holds its weights alone.
    private readonly TensorArena _gradients;
    private readonly WorkspacePool _single;
    private readonly WorkspacePool _batched;
    // Workspaces made through CreateWorkspace that are not yet disposed; Dispose frees them with the network.
    private readonly HashSet<Workspace> _workspaces = [];
    private NetworkSpec? _architecture;
    // The backend single-image inference runs its kernels on: the calling thread, joined by workers already running
    // (CpuBackend.ForSingleImages), or null for the network's own backend (see SingleImageBackend).
    private readonly IComputeBackend? _singleImageBackend;
    // Times single images split and alone now and then and keeps the faster; null where no kernel of one image is large
    // enough to split (ch1) or single images do not use a claiming view.
    private readonly SingleImageSplit? _singleImageSplit;

    /// <summary>
    /// Single-image inference of a network with fewer multiply-adds per image than this runs on the calling thread, its
    /// kernels open to workers that are running already (claimed units, <see cref="CpuBackend.ForSingleImages"/>: the call
    /// never waits for a worker to wake). Splitting one image's kernels in fixed shares would save at most a fraction of
    /// tens of microseconds, and a worker that the scheduler has parked, or placed on the caller's core, costs more than
    /// that: one image could take twice as long on two threads as on one. From this size (tens of milliseconds a call)
    /// the network's own backend runs them, its products in fixed shares, which pay whatever the scheduler does. Every
    /// network of the book is below it. Batches (<see cref="PredictBatch"/>) always use the pool.
    /// </summary>
    internal const long SingleImagePoolMinMacs = 1L << 24;

    /// <summary>
    /// Decided once per network: the backend for single images, a claiming view of the CPU pool (the calling thread,
    /// helped only by running workers; profiled when the network's backend is), or null for the network's own backend.
    /// </summary>
    private static IComputeBackend? SingleImageBackend(IComputeBackend backend, long macsPerImage)
    {
        if (CpuBackend.Behind(backend) is not CpuBackend cpu || cpu.Pool.DegreeOfParallelism == 1 || macsPerImage >= SingleImagePoolMinMacs) return null;
        return backend is ProfilingBackend profiler ? profiler.Sharing(cpu.ForSingleImages()) : cpu.ForSingleImages();
    }

    /// <summary>Whether <see cref="Predict"/> and <see cref="Classify"/> run on a claiming view of the pool (decided once, from the network's size).</summary>
    internal bool SingleImageRunsOnClaimingView => _singleImageBackend is not null;

    internal Network(IComputeBackend backend, FeatureShape input, IReadOnlyList<Layer> layers, bool withVelocity)
    {
        Backend = backend;
        InputShape = input;
        Layers = layers;
        var output = (DenseLayer)layers[^1];
        Cost = output.Cost ?? throw new ArgumentException("The last layer must be an output layer with a cost.");
        _parameters = new TensorArena(backend);
        _gradients = new TensorArena(backend);
        foreach (var layer in layers) layer.DeclareParameters(_parameters, _gradients, withVelocity);
        _parameters.Commit();
        ParameterArray = layers.SelectMany(l => l.Parameters).ToArray();
        HasVelocity = withVelocity;
        // Inference pools a convolution's maps before its bias and activation when a max pool follows it (see PoolLayer).
        for (int i = 1; i < layers.Count; i++)
            if (layers[i] is PoolLayer { Kind: PoolKind.Max } pool && layers[i - 1] is ConvLayer conv) pool.ApplyActivationOf(conv);
        _singleImageBackend = SingleImageBackend(backend, InferenceFlopsPerExample / 2);
        // Below the view's threshold every kernel of one image runs on the calling thread anyway: nothing to decide.
        if (CpuBackend.Behind(_singleImageBackend)?.Pool is WorkerPool view && InferenceFlopsPerExample / 2 >= view.ParallelThreshold)
            _singleImageSplit = new SingleImageSplit(view);
        _single = new WorkspacePool(() => new Workspace(this, 1, training: false, ownGradients: false, _singleImageBackend), WorkspacePool.DefaultCapacity);
        _batched = new WorkspacePool(() => new Workspace(this, PredictBatchCapacity, training: false, ownGradients: false), WorkspacePool.DefaultCapacity);
    }

    /// <summary>
    /// The architecture of this network as a <see cref="NetworkSpec"/>: the spec it was built from, or one that
    /// describes the layers a <see cref="NetworkBuilder"/> gave it. Model files record it, so any network can be saved.
    /// </summary>
    public NetworkSpec Architecture
    {
        get => _architecture ??= NetworkSpec.Describe(InputShape, Layers);
        internal set => _architecture = value;
    }

    /// <summary>Inference workspaces the pools hold (idle or in use); tests check that this stays bounded.</summary>
    internal int LiveInferenceWorkspaces => _single.Live + _batched.Live;

    /// <summary>The backend the parameters live on and the kernels run on.</summary>
    public IComputeBackend Backend { get; }
    /// <summary>The shape of one input example.</summary>
    public FeatureShape InputShape { get; }
    /// <summary>Floats per input example (784 for MNIST).</summary>
    public int InputSize => InputShape.Size;
    /// <summary>Floats per output: the output layer's units (10 for MNIST's digits).</summary>
    public int OutputSize => Layers[^1].Output.Size;
    /// <summary>The layers in order, the output layer last.</summary>
    public IReadOnlyList<Layer> Layers { get; }
    /// <summary>The output layer's pairing of activation and cost.</summary>
    public OutputCost Cost { get; }
    internal bool HasVelocity { get; }

    /// <summary>Every learnable tensor in layer order (weights before biases).</summary>
    internal IReadOnlyList<Parameter> Parameters => ParameterArray;

    /// <summary>The same list as an array, so hot loops iterate without an enumerator.</summary>
    internal Parameter[] ParameterArray { get; }

    /// <summary>Learnable values: every weight and bias.</summary>
    public long ParameterCount => ParameterArray.Sum(p => (long)p.Value.Length);

    /// <summary>Initializes every parameter from a seeded generator (the same seed gives the same network).</summary>
    /// <param name="rule">How weights and biases are drawn.</param>
    /// <param name="seed">Seeds the generator.</param>
    public void Initialize(WeightInit rule, int seed)
    {
        var rng = new Random(seed);
        foreach (var layer in Layers) layer.Initialize(Backend, rule, rng);
    }

    /// <summary>Activations for a batch capacity; training workspaces also hold gradients and targets.</summary>
    /// <param name="batch">The most examples one pass takes.</param>
    /// <param name="training">Also hold gradients and targets.</param>
    /// <param name="ownGradients">Give the workspace private gradient tensors (a worker's slice of a split mini-batch) instead of writing the parameters' own.</param>
    internal Workspace CreateWorkspace(int batch, bool training, bool ownGradients = false)
    {
        var ws = new Workspace(this, batch, training, ownGradients);
        lock (_workspaces) _workspaces.Add(ws);
        ws.OnDispose = Forget;
        return ws;
    }

    private void Forget(Workspace ws)
    {
        lock (_workspaces) _workspaces.Remove(ws);
    }

    /// <summary>Class scores (probabilities for softmax/sigmoid outputs) of one example. Thread-safe; allocates nothing once warm.</summary>
    /// <param name="example">The input, <see cref="InputSize"/> floats.</param>
    /// <param name="output">Receives the <see cref="OutputSize"/> scores.</param>
    /// <exception cref="ArgumentException">A span's length is not the one the network expects; the message names it.</exception>
    public void Predict(ReadOnlySpan<float> example, Span<float> output)
    {
        CheckLength(example.Length, InputSize, nameof(example));
        CheckLength(output.Length, OutputSize, nameof(output));
        var ws = _single.Rent();
        try
        {
            PredictOne(ws, example, output);
        }
        finally
        {
            _single.Return(ws);
        }
    }

    private void PredictOne(Workspace ws, ReadOnlySpan<float> example, Span<float> output)
    {
        if (_singleImageSplit is not { } split)
        {
            ForwardOne(ws, example, output);
            return;
        }
        long call = split.Begin();
        long t0 = Stopwatch.GetTimestamp();
        ForwardOne(ws, example, output);
        split.End(call, Stopwatch.GetTimestamp() - t0);
    }

    private void ForwardOne(Workspace ws, ReadOnlySpan<float> example, Span<float> output)
    {
        ws.LoadInputs(example, 1);
        ws.Forward(1, training: false, seed: 0, step: 0);
        Backend.Download(ws.Output, output);
    }

    /// <summary>Whether single images split over the pool until the next trial (null: no trials; see <see cref="SingleImageSplit"/>).</summary>
    internal bool? SingleImagesSplit => _singleImageSplit?.Splits;

    /// <summary>The most likely class of one example (the index of the largest score). Thread-safe; allocates nothing once warm.</summary>
    /// <param name="example">The input, <see cref="InputSize"/> floats.</param>
    /// <exception cref="ArgumentException"><paramref name="example"/> is not <see cref="InputSize"/> floats long.</exception>
    public int Classify(ReadOnlySpan<float> example)
    {
        CheckLength(example.Length, InputSize, nameof(example));
        var ws = _single.Rent();
        try
        {
            var scores = ws.HostOutput.AsSpan(0, OutputSize);
            PredictOne(ws, example, scores);
            return System.Numerics.Tensors.TensorPrimitives.IndexOfMax(scores);
        }
        finally
        {
            _single.Return(ws);
        }
    }

    /// <summary>
    /// Scores of many examples: examples [count x InputSize] to outputs [count x OutputSize], row-major, in chunks of
    /// <see cref="PredictBatchCapacity"/>. Thread-safe; allocates nothing once warm.
    /// </summary>
    /// <param name="examples">count examples back to back.</param>
    /// <param name="outputs">Receives count x <see cref="OutputSize"/> scores.</param>
    /// <exception cref="ArgumentException"><paramref name="examples"/> is not a multiple of <see cref="InputSize"/>, or <paramref name="outputs"/> does not match the count.</exception>
    public void PredictBatch(ReadOnlySpan<float> examples, Span<float> outputs)
    {
        if (examples.Length % InputSize != 0)
            throw new ArgumentException($"examples has {examples.Length} floats, not a multiple of the input size {InputSize}.", nameof(examples));
        int count = examples.Length / InputSize;
        CheckLength(outputs.Length, count * OutputSize, nameof(outputs));
        if (count == 0) return;
        var ws = _batched.Rent();
        try
        {
            for (int start = 0; start < count; start += ws.Capacity)
            {
                int n = Math.Min(ws.Capacity, count - start);
                ws.LoadInputs(examples.Slice(start * InputSize, n * InputSize), n);
                ws.Forward(n, training: false, seed: 0, step: 0);
                Backend.Download(ws.Output, outputs.Slice(start * OutputSize, n * OutputSize));
            }
        }
        finally
        {
            _batched.Return(ws);
        }
    }

    /// <summary>Copies all parameters to the host in <see cref="Parameters"/> order.</summary>
    public float[][] ExportParameters() => Parameters.Select(p => { var h = new float[p.Value.Length]; Backend.Download(p.Value, h); return h; }).ToArray();

    /// <summary>Replaces all parameters (same order and sizes as <see cref="ExportParameters"/>).</summary>
    /// <param name="values">One array per learnable tensor, in layer order, weights before biases.</param>
    /// <exception cref="ArgumentException">The count or a length differs from the network's.</exception>
    public void ImportParameters(IReadOnlyList<float[]> values)
    {
        var ps = ParameterArray;
        if (values.Count != ps.Length) throw new ArgumentException($"Expected {ps.Length} parameter tensors, got {values.Count}.");
        for (int i = 0; i < ps.Length; i++)
        {
            CheckLength(values[i].Length, ps[i].Value.Length, $"parameter {ps[i].Value.Name}");
            Backend.Upload(values[i], ps[i].Value);
        }
    }

    /// <summary>
    /// Floating-point operations of one training example in the GEMMs: forward, weight gradient and input gradient
    /// (none for the first layer), 2 per multiply-add. Elementwise work is not counted.
    /// </summary>
    public long TrainingFlopsPerExample => 2 * Layers.Sum(l => l.MacsPerExample * (l.Index == 0 ? 2 : 3));

    /// <summary>
    /// Bytes one more example adds to a training workspace: its input and target, every layer's activations and their
    /// gradients, and the scratch that grows with the batch (<see cref="Workspace.DeclaredFloats"/>).
    /// </summary>
    internal long TrainingBytesPerExample()
    {
        const int Span = 16;   // over several examples, so per-tensor alignment and fixed-size scratch average out
        long floats = Workspace.DeclaredFloats(this, 1 + Span, training: true) - Workspace.DeclaredFloats(this, 1, training: true);
        return Math.Max(1, floats * sizeof(float) / Span);
    }

    /// <summary>Floating-point operations of one forward pass (2 per multiply-add of the GEMMs).</summary>
    public long InferenceFlopsPerExample => 2 * Layers.Sum(l => l.MacsPerExample);

    /// <summary>One line: the input shape and each layer's <see cref="Layer.Describe"/>, e.g. "input 784 -> Dense 30 sigmoid -> ...".</summary>
    public string Describe() => $"input {InputShape} -> " + string.Join(" -> ", Layers.Select(l => l.Describe()));

    internal static void CheckLength(int actual, int expected, string name)
    {
        if (actual != expected) throw new ArgumentException($"{name} has {actual} elements; the network expects {expected}.", name);
    }

    /// <summary>Frees the parameters and every workspace. No call may be running on the network while it is disposed.</summary>
    public void Dispose()
    {
        Workspace[] owned;
        lock (_workspaces) owned = [.. _workspaces];
        foreach (var ws in owned) ws.Dispose();
        _single.Dispose();
        _batched.Dispose();
        _singleImageBackend?.Dispose();
        _parameters.Dispose();
        _gradients.Dispose();
    }

    /// <summary>Gives the parameters' gradients their storage (zero-filled) if they have none yet; safe from any thread.</summary>
    internal void EnsureGradients()
    {
        lock (_gradients) _gradients.Commit();
    }

    /// <summary>Bytes the network's own tensors take: parameter values and velocities, and gradients once trained.</summary>
    internal long ParameterBytes => (_parameters.Size + (_gradients.IsCommitted ? _gradients.Size : 0)) * sizeof(float);
}

/// <summary>
/// The per-batch tensors of one network: the input batch, every layer's activations and, for training, gradients
/// and targets, all carved from one arena. One workspace serves one thread at a time.
/// </summary>
internal sealed class Workspace : IDisposable
{
    private readonly Network _net;
    private readonly IComputeBackend _backend;
    private readonly TensorArena _arena;
    private readonly LayerState[] _states;

    /// <param name="net">The network whose layers the workspace serves.</param>
    /// <param name="capacity">The most examples one pass takes.</param>
    /// <param name="training">Also hold gradients and targets.</param>
    /// <param name="ownGradients">Give the workspace private gradient tensors instead of writing the parameters' own.</param>
    /// <param name="kernels">The backend that runs this workspace's kernels on the network's tensors; null for the network's own.</param>
    internal Workspace(Network net, int capacity, bool training, bool ownGradients, IComputeBackend? kernels = null)
    {
        if (capacity < 1) throw new ArgumentOutOfRangeException(nameof(capacity), capacity, "Batch capacity must be at least 1.");
        if (training) net.EnsureGradients();
        _net = net;
        _backend = kernels ?? net.Backend;
        Capacity = capacity;
        Training = training;
        _arena = new TensorArena(net.Backend);
        (Input, Target, _states) = Declare(_arena, net, capacity, training);
        if (training)
            for (int i = 0; i < _states.Length; i++)
                _states[i].Gradients = net.Layers[i].Parameters
                    .Select(p => ownGradients ? _arena.Allocate(p.Gradient.Name + ".private", p.Gradient.Dims.ToArray()) : p.Gradient).ToArray();
        _arena.Commit();
        HostOutput = new float[capacity * net.OutputSize];
        HostTarget = new float[capacity * net.OutputSize];
    }

    /// <summary>The per-batch tensors of a workspace, declared on <paramref name="arena"/> in this order: the input, the targets (training) and every layer's state.</summary>
    private static (Tensor Input, Tensor? Target, LayerState[] States) Declare(TensorArena arena, Network net, int capacity, bool training) =>
        (arena.Allocate("input", capacity, net.InputSize),
         training ? arena.Allocate("target", capacity, net.OutputSize) : null,
         net.Layers.Select(l => l.CreateState(arena, capacity, training)).ToArray());

    /// <summary>
    /// Floats a workspace of <paramref name="capacity"/> examples declares for its per-batch tensors (not private
    /// gradients), counted on an arena that is never committed: nothing is allocated on the backend.
    /// </summary>
    internal static long DeclaredFloats(Network net, int capacity, bool training)
    {
        var arena = new TensorArena(net.Backend);
        Declare(arena, net, capacity, training);
        return arena.Size;
    }

    public int Capacity { get; }
    public bool Training { get; }
    /// <summary>Bytes of backend memory this workspace holds.</summary>
    internal long Bytes => _arena.Size * sizeof(float);
    public Tensor Input { get; }
    public Tensor? Target { get; }
    public Tensor Output => _states[^1].Output;
    internal float[] HostOutput { get; }
    internal float[] HostTarget { get; }
    /// <summary>Called once when the workspace is disposed (the network stops tracking it).</summary>
    internal Action<Workspace>? OnDispose { get; set; }
    private bool _disposed;
    internal LayerState State(int layer) => _states[layer];

    /// <summary>The tensors backward writes parameter gradients into, in <see cref="Network.Parameters"/> order.</summary>
    public IEnumerable<Tensor> GradientTargets => _states.SelectMany(s => s.Gradients);

    public void LoadInputs(ReadOnlySpan<float> examples, int count)
    {
        if (count < 1 || count > Capacity) throw new ArgumentOutOfRangeException(nameof(count), count, $"Batch of {count} does not fit capacity {Capacity}.");
        Network.CheckLength(examples.Length, count * _net.InputSize, nameof(examples));
        _backend.Upload(examples, Input);
    }

    /// <summary>
    /// The layers' forward pass over the <paramref name="batch"/> examples in <see cref="Input"/>; <paramref name="pass"/>,
    /// the pass within the worker's share of the step (<see cref="StepContext.Pass"/>), picks the dropout masks.
    /// </summary>
    public void Forward(int batch, bool training, ulong seed, ulong step, int worker = 0, int pass = 0)
    {
        if (training && !Training) throw new InvalidOperationException("This workspace was created for inference; create a training workspace to train.");
        var ctx = new StepContext(training, batch, seed, step, worker) { Pass = pass };
        Tensor x = Input;
        for (int i = 0; i < _states.Length; i++)
        {
            _net.Layers[i].Forward(_backend, _states[i], x, ctx);
            x = _states[i].Output;
        }
    }

    /// <summary>Backpropagates from the targets already in <see cref="Target"/>, filling every parameter gradient.</summary>
    public void Backward(int batch, ulong seed, ulong step, int worker = 0) => Backward(batch, seed, step, worker, null);

    /// <summary>
    /// The same, but with <paramref name="weightUpdate"/> set, layers with a <see cref="Layer.FusedWeight"/> apply that
    /// SGD step to it instead of writing its gradient. Only for a workspace that writes the parameters' own gradients
    /// (not a worker slice's private copies), since it writes the shared weights. From the second
    /// <paramref name="pass"/> of a worker's share of the step on, gradients add to the earlier passes'.
    /// </summary>
    internal void Backward(int batch, ulong seed, ulong step, int worker, FusedSgd? weightUpdate, int pass = 0)
    {
        if (!Training) throw new InvalidOperationException("This workspace was created for inference.");
        if (weightUpdate is not null && pass > 0) throw new InvalidOperationException("A fused weight update needs the whole batch in one pass.");
        var b = _backend;
        var ctx = new StepContext(true, batch, seed, step, worker) { WeightUpdate = weightUpdate, Pass = pass };
        b.OutputDelta(_net.Cost, Output, Target!, _states[^1].GradOutput!, batch * _net.OutputSize);
        for (int i = _states.Length - 1; i >= 0; i--)
        {
            Tensor input = i == 0 ? Input : _states[i - 1].Output;
            Tensor? gradInput = i == 0 ? null : _states[i - 1].GradOutput;
            _net.Layers[i].Backward(b, _states[i], input, gradInput, ctx);
        }
    }

    /// <summary>Frees the workspace's tensors; a second call does nothing.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _arena.Dispose();
        OnDispose?.Invoke(this);
    }
}
