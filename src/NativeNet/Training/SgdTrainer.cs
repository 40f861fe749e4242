using NativeNet.Core.Kernels;
using NativeNet.Layers;

namespace NativeNet.Training;

/// <summary>
/// Hyper-parameters of mini-batch gradient descent, with the book's semantics: L2 and L1 are lambda over the
/// training-set size n (w &lt;- (1 - eta lambda / n) w - (eta / m) sum grad); biases are not regularized.
/// For chapter 6's network3, whose L2 term is lambda / (number of batches), use lambda3 * m here.
/// </summary>
public sealed record SgdOptions
{
    public int BatchSize { get; init; } = 10;
    public float LearningRate { get; init; } = 0.1f;
    public float L2 { get; init; }
    public float L1 { get; init; }
    public float Momentum { get; init; }
    public bool Nesterov { get; init; }
    /// <summary>n in lambda / n: the number of training examples.</summary>
    public int TrainingSetSize { get; init; } = 50_000;
    /// <summary>Seeds the dropout masks (a pure function of seed, step and layer).</summary>
    public ulong Seed { get; init; } = 1;

    public void Validate()
    {
        if (BatchSize < 1) throw new ArgumentOutOfRangeException(nameof(BatchSize), BatchSize, "Mini-batch size must be at least 1.");
        if (!(LearningRate > 0) || float.IsInfinity(LearningRate)) throw new ArgumentOutOfRangeException(nameof(LearningRate), LearningRate, "The learning rate must be a positive finite number.");
        if (L2 < 0 || L1 < 0) throw new ArgumentOutOfRangeException(nameof(L2), "Regularization strengths must be non-negative.");
        if (Momentum < 0 || Momentum >= 1) throw new ArgumentOutOfRangeException(nameof(Momentum), Momentum, "Momentum must be in [0, 1).");
        if (TrainingSetSize < 1) throw new ArgumentOutOfRangeException(nameof(TrainingSetSize), TrainingSetSize, "Training-set size must be positive.");
    }
}

/// <summary>Accuracy and mean cost of a network on a data set.</summary>
public readonly record struct Evaluation(int Correct, int Count, double MeanCost)
{
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
    private readonly int[] _argmax;

    public SgdTrainer(Network network, SgdOptions options)
    {
        options.Validate();
        if ((options.Momentum > 0) && !network.HasVelocity)
            throw new ArgumentException("Momentum needs velocity buffers: build the network with withMomentum: true.", nameof(options));
        _net = network;
        Options = options;
        LearningRate = options.LearningRate;
        _ws = network.CreateWorkspace(options.BatchSize, training: true);
        _eval = network.CreateWorkspace(Math.Max(options.BatchSize, 100), training: false);
        _argmax = new int[_eval.Capacity];
    }

    public SgdOptions Options { get; }
    public Network Network => _net;

    /// <summary>The current learning rate (schedules lower it during training).</summary>
    public float LearningRate { get; set; }

    /// <summary>Optimizer steps taken so far (also the dropout stream).</summary>
    public ulong Steps { get; set; }

    /// <summary>One step on a batch with integer class labels (targets are one-hot).</summary>
    public void Step(ReadOnlySpan<float> examples, ReadOnlySpan<byte> labels)
    {
        int count = labels.Length;
        var y = _ws.HostTarget.AsSpan(0, count * _net.OutputSize);
        OneHot(labels, y, _net.OutputSize);
        Step(examples, y, count);
    }

    /// <summary>One step on a batch with real-valued targets [count x outputs].</summary>
    public void Step(ReadOnlySpan<float> examples, ReadOnlySpan<float> targets, int count)
    {
        ForwardBackward(examples, targets, count);
        ApplyUpdate(count);
        Steps++;
    }

    /// <summary>Forward and backward without updating: fills every parameter's gradient (summed over the batch).</summary>
    public void ForwardBackward(ReadOnlySpan<float> examples, ReadOnlySpan<float> targets, int count)
    {
        Network.CheckLength(targets.Length, count * _net.OutputSize, nameof(targets));
        _ws.LoadInputs(examples, count);
        _net.Backend.Upload(targets, _ws.Target!);
        _ws.Forward(count, training: true, Options.Seed, Steps);
        _ws.Backward(count, Options.Seed, Steps);
    }

    private void ApplyUpdate(int count)
    {
        float n = Options.TrainingSetSize;
        var weights = new UpdateRule(LearningRate, 1f / count, Options.L2 / n, Options.L1 / n, Options.Momentum, Options.Nesterov);
        var biases = weights with { L2 = 0f, L1 = 0f };
        foreach (var p in _net.ParameterArray)
            _net.Backend.Update(p.Value, p.Gradient, p.Velocity, p.Value.Length, p.IsWeight ? weights : biases);
    }

    /// <summary>
    /// Accuracy and mean cost on a data set, in batches of the evaluation workspace. With <paramref name="includeRegularization"/>
    /// the cost adds the book's 0.5 (lambda / n) sum w^2 (and (lambda_1 / n) sum |w|).
    /// </summary>
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
    public double[] DeltaNorms(int batchCount)
    {
        var norms = new List<double>();
        foreach (var layer in _net.Layers)
            foreach (var p in layer.Parameters.Where(p => !p.IsWeight))
                norms.Add(Math.Sqrt(_net.Backend.Sum(p.Gradient, p.Gradient.Length, squares: true)) / batchCount);
        return norms.ToArray();
    }

    private static void OneHot(ReadOnlySpan<byte> labels, Span<float> y, int classes)
    {
        y.Clear();
        for (int i = 0; i < labels.Length; i++)
        {
            if (labels[i] >= classes) throw new ArgumentException($"Label {labels[i]} at index {i} is outside the {classes} output classes.", nameof(labels));
            y[i * classes + labels[i]] = 1f;
        }
    }

    public void Dispose()
    {
        _ws.Dispose();
        _eval.Dispose();
    }
}
