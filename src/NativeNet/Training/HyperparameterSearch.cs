using System.Diagnostics;
using NativeNet.Data;

namespace NativeNet.Training;

/// <summary>One point of a hyper-parameter search: learning rate eta, L2 strength lambda and mini-batch size m.</summary>
/// <param name="Index">The trial's position in its list, from 0.</param>
/// <param name="LearningRate">eta.</param>
/// <param name="L2">lambda (0: no L2 regularization).</param>
/// <param name="BatchSize">m.</param>
public sealed record Trial(int Index, float LearningRate, float L2, int BatchSize);

/// <summary>
/// The outcome of one trial: the best validation accuracy over its epochs and the epoch it came at. A trial that
/// diverged keeps the best accuracy it reached before (0 if none) and says so in <see cref="Error"/>.
/// </summary>
/// <param name="Index">The trial's index.</param>
/// <param name="LearningRate">The trial's eta.</param>
/// <param name="L2">The trial's lambda.</param>
/// <param name="BatchSize">The trial's m.</param>
/// <param name="BestValidationAccuracy">The best validation accuracy over the trial's epochs, in [0, 1].</param>
/// <param name="BestEpoch">The epoch it came at (0 when none finished).</param>
/// <param name="Seconds">Wall time of the trial.</param>
/// <param name="StopReason">Why the trial stopped.</param>
/// <param name="Error">The divergence message, or null.</param>
public sealed record TrialResult(int Index, float LearningRate, float L2, int BatchSize, double BestValidationAccuracy, int BestEpoch,
    double Seconds, StopReason StopReason, string? Error = null);

/// <summary>
/// Chapter 3's hyper-parameter search, automated: train a fresh network for a few epochs at each combination of eta,
/// lambda and mini-batch size, and rank the combinations by validation accuracy. <see cref="Grid"/> takes every
/// combination of given values; <see cref="Random"/> samples eta and lambda log-uniformly from ranges and m from a
/// list, reproducibly for a seed. Each trial runs a <see cref="TrainingSession"/> with the base options (shuffling,
/// momentum, schedule...) and the trial's eta, lambda and m; nothing is written to disk. With <see cref="Parallel"/> above 1
/// trials run that many at a time (<see cref="Lanes"/>); each trial's result does not depend on it.
/// </summary>
public sealed class HyperparameterSearch
{
    private readonly Func<Trial, int, (Network Network, NetworkSpec Spec)> _factory;
    private readonly TrainingOptions _baseOptions;
    private readonly LabeledImages _training, _validation;
    private readonly int _epochs;

    /// <param name="factory">Builds the network for a trial (seed it for comparable trials); the search disposes it after the trial.</param>
    /// <param name="baseOptions">Everything but eta, lambda, m, the epoch count and the output folder.</param>
    /// <param name="training">The training images every trial trains on.</param>
    /// <param name="validation">The images that rank the trials; not empty.</param>
    /// <param name="epochsPerTrial">Epochs each trial trains for.</param>
    /// <exception cref="ArgumentException">The validation set is empty.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="epochsPerTrial"/> is below 1.</exception>
    public HyperparameterSearch(Func<Trial, (Network Network, NetworkSpec Spec)> factory, TrainingOptions baseOptions,
        LabeledImages training, LabeledImages validation, int epochsPerTrial)
        : this(factory is null ? null! : (t, _) => factory(t), baseOptions, training, validation, epochsPerTrial)
    {
    }

    /// <param name="factory">Builds the network for a trial on the given lane (0..<see cref="Parallel"/>-1): give each lane
    /// its own backend. The search disposes the network after the trial.</param>
    /// <param name="baseOptions">Everything but eta, lambda, m, the epoch count and the output folder.</param>
    /// <param name="training">The training images every trial trains on.</param>
    /// <param name="validation">The images that rank the trials; not empty.</param>
    /// <param name="epochsPerTrial">Epochs each trial trains for.</param>
    /// <exception cref="ArgumentException">The validation set is empty.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="epochsPerTrial"/> is below 1.</exception>
    public HyperparameterSearch(Func<Trial, int, (Network Network, NetworkSpec Spec)> factory, TrainingOptions baseOptions,
        LabeledImages training, LabeledImages validation, int epochsPerTrial)
    {
        ArgumentNullException.ThrowIfNull(factory);
        ArgumentNullException.ThrowIfNull(baseOptions);
        ArgumentNullException.ThrowIfNull(training);
        ArgumentNullException.ThrowIfNull(validation);
        ArgumentOutOfRangeException.ThrowIfLessThan(epochsPerTrial, 1);
        if (validation.Count == 0) throw new ArgumentException("The validation set is empty.", nameof(validation));
        _factory = factory;
        _baseOptions = baseOptions;
        _training = training;
        _validation = validation;
        _epochs = epochsPerTrial;
    }

    /// <summary>Called after each trial as it finishes (in trial order with one lane), never from two threads at once.</summary>
    public Action<TrialResult>? OnTrial { get; set; }

    /// <summary>Trials trained at once (default 1). Above 1, the factory must give each lane its own backend.</summary>
    public int Parallel
    {
        get => _parallel;
        init => _parallel = value >= 1 ? value : throw new ArgumentOutOfRangeException(nameof(Parallel), value, "Parallel must be at least 1.");
    }
    private readonly int _parallel = 1;

    /// <summary>Every combination of the given values (eta varies slowest, m fastest).</summary>
    /// <param name="learningRates">Values of eta, each positive.</param>
    /// <param name="l2s">Values of lambda, each 0 or more.</param>
    /// <param name="batchSizes">Values of m, each at least 1.</param>
    /// <exception cref="ArgumentException">A list is empty or holds a value out of range.</exception>
    public static IReadOnlyList<Trial> Grid(IReadOnlyList<float> learningRates, IReadOnlyList<float> l2s, IReadOnlyList<int> batchSizes)
    {
        CheckValues(learningRates, l2s, batchSizes);
        var trials = new List<Trial>(learningRates.Count * l2s.Count * batchSizes.Count);
        foreach (float eta in learningRates)
            foreach (float lambda in l2s)
                foreach (int m in batchSizes)
                    trials.Add(new Trial(trials.Count, eta, lambda, m));
        return trials;
    }

    /// <summary>
    /// <paramref name="count"/> trials with eta and lambda drawn log-uniformly from [min, max] and m uniformly from
    /// <paramref name="batchSizes"/>; the same seed gives the same trials. A range with min = max is that constant
    /// (lambda 0:0 turns L2 off); otherwise the bounds must be positive.
    /// </summary>
    /// <param name="count">Trials to draw, at least 1.</param>
    /// <param name="learningRate">The range of eta.</param>
    /// <param name="l2">The range of lambda.</param>
    /// <param name="batchSizes">The values m is drawn from.</param>
    /// <param name="seed">Seeds the draws.</param>
    /// <exception cref="ArgumentException">A range or value is out of range.</exception>
    public static IReadOnlyList<Trial> Random(int count, (float Min, float Max) learningRate, (float Min, float Max) l2, IReadOnlyList<int> batchSizes, int seed)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        CheckRange(learningRate, "eta", allowZero: false);
        CheckRange(l2, "lambda", allowZero: true);
        CheckValues([learningRate.Min], [l2.Min], batchSizes);
        var rng = new System.Random(seed);
        var trials = new List<Trial>(count);
        for (int i = 0; i < count; i++)
        {
            float eta = LogUniform(rng, learningRate);
            float lambda = LogUniform(rng, l2);
            int m = batchSizes[rng.Next(batchSizes.Count)];
            trials.Add(new Trial(i, eta, lambda, m));
        }
        return trials;
    }

    private static float LogUniform(System.Random rng, (float Min, float Max) r)
    {
        double u = rng.NextDouble();   // drawn even for a constant range, so the other draws do not shift
        if (r.Min == r.Max) return r.Min;
        double lo = Math.Log(r.Min), hi = Math.Log(r.Max);
        return (float)Math.Clamp(Math.Exp(lo + u * (hi - lo)), r.Min, r.Max);
    }

    private static void CheckRange((float Min, float Max) r, string name, bool allowZero)
    {
        if (!float.IsFinite(r.Min) || !float.IsFinite(r.Max) || r.Min > r.Max)
            throw new ArgumentException($"The {name} range {r.Min}:{r.Max} must be two finite numbers, low:high.");
        if (allowZero && r.Min == 0 && r.Max == 0) return;
        if (r.Min <= 0)
            throw new ArgumentException($"The {name} range {r.Min}:{r.Max} is sampled log-uniformly, so its bounds must be positive (use e.g. 0.01:{r.Max}{(allowZero ? ", or 0:0 for none" : "")}).");
    }

    private static void CheckValues(IReadOnlyList<float> etas, IReadOnlyList<float> lambdas, IReadOnlyList<int> batches)
    {
        ArgumentNullException.ThrowIfNull(etas);
        ArgumentNullException.ThrowIfNull(lambdas);
        ArgumentNullException.ThrowIfNull(batches);
        if (etas.Count == 0 || lambdas.Count == 0 || batches.Count == 0) throw new ArgumentException("Each of eta, lambda and mini-batch size needs at least one value.");
        foreach (float e in etas) if (!(e > 0) || !float.IsFinite(e)) throw new ArgumentException($"Learning rate {e} must be a positive finite number.");
        foreach (float l in lambdas) if (!(l >= 0) || !float.IsFinite(l)) throw new ArgumentException($"Lambda {l} must be a non-negative finite number.");
        foreach (int m in batches) if (m < 1) throw new ArgumentException($"Mini-batch size {m} must be at least 1.");
    }

    /// <summary>Runs every trial and returns the results best first (validation accuracy, then trial order).</summary>
    /// <param name="trials">The trials, e.g. from <see cref="Grid"/> or <see cref="Random"/>.</param>
    /// <param name="cancel">Stops the run: a running trial ends as <see cref="StopReason.Cancelled"/>, trials not yet started are left out of the result.</param>
    public IReadOnlyList<TrialResult> Run(IReadOnlyList<Trial> trials, CancellationToken cancel = default)
    {
        ArgumentNullException.ThrowIfNull(trials);
        var results = new TrialResult?[trials.Count];
        var report = new object();
        Lanes.Run(trials.Count, _parallel, cancel, (i, lane, token) =>
        {
            var r = RunTrial(trials[i], lane, token);
            results[i] = r;
            lock (report) OnTrial?.Invoke(r);
        });
        return Rank(results.OfType<TrialResult>());
    }

    /// <summary>Sorts results best first: higher validation accuracy, then the earlier trial.</summary>
    /// <param name="results">The results to sort.</param>
    public static IReadOnlyList<TrialResult> Rank(IEnumerable<TrialResult> results) =>
        results.OrderByDescending(r => r.BestValidationAccuracy).ThenBy(r => r.Index).ToList();

    private TrialResult RunTrial(Trial t, int lane, CancellationToken cancel)
    {
        var clock = Stopwatch.StartNew();
        var (net, spec) = _factory(t, lane);
        using (net)
        {
            var options = _baseOptions with
            {
                Epochs = _epochs,
                OutputDirectory = null,
                Sgd = _baseOptions.Sgd with { LearningRate = t.LearningRate, L2 = t.L2, BatchSize = t.BatchSize, TrainingSetSize = _training.Count },
            };
            var session = new TrainingSession(net, spec, options, _training, _validation, test: null);
            double best = 0;
            int bestEpoch = 0;
            session.OnEpoch = e => { if (e.ValidationAccuracy > best || bestEpoch == 0) { best = e.ValidationAccuracy; bestEpoch = e.Epoch; } };
            try
            {
                var result = session.Run(cancel);
                return new TrialResult(t.Index, t.LearningRate, t.L2, t.BatchSize, Math.Max(0, result.BestValidationAccuracy), Math.Max(0, result.BestEpoch),
                    clock.Elapsed.TotalSeconds, result.StopReason);
            }
            catch (TrainingDivergedException e)
            {
                return new TrialResult(t.Index, t.LearningRate, t.L2, t.BatchSize, best, bestEpoch, clock.Elapsed.TotalSeconds, StopReason.Diverged, e.Message);
            }
        }
    }
}
