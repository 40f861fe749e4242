using System.Diagnostics;
using System.Globalization;
using NativeNet.Data;
using NativeNet.Persistence;

namespace NativeNet.Training;

/// <summary>Chapter 3's schedule: when validation accuracy has not improved for Patience epochs, divide eta by Factor; stop once eta falls below the floor.</summary>
public sealed record PlateauSchedule(int Patience = 10, float Factor = 2f, float FloorFraction = 1f / 128);

/// <summary>The training workflow around <see cref="SgdTrainer"/>: epochs, shuffling, monitoring, stopping rules, checkpoints.</summary>
public sealed record TrainingOptions
{
    public int Epochs { get; init; } = 30;
    public required SgdOptions Sgd { get; init; }
    /// <summary>Reshuffle every epoch (chapters 1-3); chapter 6's code keeps one order.</summary>
    public bool Shuffle { get; init; } = true;
    public int ShuffleSeed { get; init; } = 1;
    /// <summary>Stop when validation accuracy has not improved for this many epochs.</summary>
    public int? EarlyStoppingPatience { get; init; }
    public PlateauSchedule? Schedule { get; init; }
    /// <summary>Also report cost and accuracy on the training data each epoch (costs an extra pass).</summary>
    public bool MonitorTraining { get; init; }
    /// <summary>
    /// Random affine and elastic distortions applied on the fly to every training image (Simard, Steinkraus and Platt
    /// 2003), drawn afresh each epoch from a generator seeded by (ShuffleSeed, epoch), so a resumed run sees the same
    /// images. Null trains on the images as they are.
    /// </summary>
    public DistortionOptions? Distortion { get; init; }
    /// <summary>Folder for best.safetensors and checkpoint.safetensors; null saves nothing.</summary>
    public string? OutputDirectory { get; init; }
}

public sealed record EpochReport(int Epoch, double? TrainingCost, double? TrainingAccuracy, double ValidationCost, double ValidationAccuracy,
    double? TestAccuracy, float LearningRate, double Seconds, double ImagesPerSecond);

public enum StopReason { Completed, EarlyStopped, LearningRateFloor, Cancelled, Diverged }

/// <param name="BestParameters">The parameters at the best validation epoch of this run (<see cref="Network.ExportParameters"/>
/// order), or null when no epoch of this run improved on the best so far (a resumed run keeps its earlier best in the
/// output folder's best model).</param>
public sealed record TrainingResult(IReadOnlyList<EpochReport> Epochs, int BestEpoch, double BestValidationAccuracy, double? TestAccuracyAtBest,
    double Seconds, StopReason StopReason, string? Message, IReadOnlyList<float[]>? BestParameters = null);

/// <summary>Thrown when the cost or the weights become NaN or infinite.</summary>
public sealed class TrainingDivergedException(string message) : Exception(message);

/// <summary>
/// Runs epochs of mini-batch SGD with evaluation on validation data after each; the test accuracy reported is the one
/// at the best validation epoch (chapter 6's reporting). The best parameters are kept (and saved when an output folder
/// is given); a checkpoint after each epoch lets <see cref="Resume"/> continue bit-identically.
/// </summary>
public sealed class TrainingSession
{
    private readonly Network _net;
    private readonly NetworkSpec _spec;
    private readonly TrainingOptions _o;
    private readonly LabeledImages _train;
    private readonly LabeledImages? _validation, _test;
    private int _startEpoch;
    private float? _resumeRate;
    private ulong _resumeSteps;
    private readonly List<EpochReport> _history = [];
    private int _bestEpoch = -1, _sinceBest;
    private double _bestValidation = -1;
    private double? _testAtBest;

    public TrainingSession(Network net, NetworkSpec spec, TrainingOptions options, LabeledImages train, LabeledImages? validation, LabeledImages? test)
    {
        options.Sgd.Validate();
        if (train.Features != net.InputSize) throw new ArgumentException($"Training images have {train.Features} features; the network expects {net.InputSize}.");
        if (options.Epochs < 1) throw new ArgumentOutOfRangeException(nameof(options), options.Epochs, "Epochs must be at least 1.");
        _net = net; _spec = spec; _o = options; _train = train; _validation = validation; _test = test;
    }

    /// <summary>Called after every mini-batch with (epoch, batch, batches per epoch).</summary>
    public Action<int, int, int>? OnBatch { get; set; }
    public Action<EpochReport>? OnEpoch { get; set; }

    public const string CheckpointFile = "checkpoint.safetensors";
    public const string BestModelFile = "best.safetensors";

    /// <summary>Restores parameters, velocities and progress from a checkpoint written by an earlier run with the same options.</summary>
    public void Resume(string directory)
    {
        string path = Path.Combine(directory, CheckpointFile);
        var contents = ModelFile.Read(path);
        if (contents.Spec.Text != _spec.Text)
            throw new ModelFormatException(path, 8, $"checkpoint architecture '{contents.Spec}' differs from '{_spec}'.");
        ModelFile.Apply(path, _net, contents, velocity: true);
        var m = contents.Metadata;
        double D(string k) => double.Parse(m[k], CultureInfo.InvariantCulture);
        _startEpoch = (int)D("epoch");
        _resumeRate = (float)D("learning_rate");
        _resumeSteps = ulong.Parse(m["steps"], CultureInfo.InvariantCulture);
        _bestEpoch = (int)D("best_epoch");
        _bestValidation = D("best_validation");
        _sinceBest = (int)D("since_best");
        _testAtBest = m.TryGetValue("test_at_best", out var t) && t != "" ? double.Parse(t, CultureInfo.InvariantCulture) : null;
    }

    public TrainingResult Run(CancellationToken cancel = default)
    {
        var total = Stopwatch.StartNew();
        using var trainer = new SgdTrainer(_net, _o.Sgd);
        trainer.LearningRate = _resumeRate ?? _o.Sgd.LearningRate;
        trainer.Steps = _resumeSteps;
        int batch = _o.Sgd.BatchSize, features = _net.InputSize;
        var sampler = new MiniBatchSampler(_train.Count, batch, _o.ShuffleSeed, _o.Shuffle, dropIncomplete: true);
        for (int e = 0; e < _startEpoch; e++) sampler.NextEpoch();   // replay the shuffles so a resumed run sees the same orders
        var pixels = new float[batch * features];
        var labels = new byte[batch];
        float[][]? best = null;
        StopReason reason = StopReason.Completed;
        string? message = null;
        for (int epoch = _startEpoch + 1; epoch <= _o.Epochs; epoch++)
        {
            var clock = Stopwatch.StartNew();
            sampler.NextEpoch();
            var distortion = _o.Distortion is null ? null : new DistortionSource(_train, _o.Distortion, unchecked(_o.ShuffleSeed * 1_000_003 + epoch));
            for (int bi = 0; bi < sampler.BatchCount; bi++)
            {
                if (cancel.IsCancellationRequested) { reason = StopReason.Cancelled; break; }
                var idx = sampler.Batch(bi);
                if (distortion is null) MiniBatchSampler.FillBatch(_train, idx, pixels, labels);
                else distortion.FillBatch(idx, pixels, labels);
                trainer.Step(pixels.AsSpan(0, idx.Length * features), labels.AsSpan(0, idx.Length));
                if (bi % 50 == 0 || bi == sampler.BatchCount - 1) CheckFinite(trainer, epoch, bi);
                OnBatch?.Invoke(epoch, bi + 1, sampler.BatchCount);
            }
            if (reason == StopReason.Cancelled) break;
            double seconds = clock.Elapsed.TotalSeconds;
            Evaluation? tr = _o.MonitorTraining ? trainer.Evaluate(_train.Pixels, _train.Labels, includeRegularization: true) : null;
            var evalSet = _validation ?? _test ?? _train;
            var val = trainer.Evaluate(evalSet.Pixels, evalSet.Labels, includeRegularization: true);
            if (double.IsNaN(val.MeanCost) || double.IsInfinity(val.MeanCost))
                throw new TrainingDivergedException(DivergedMessage(trainer, epoch, sampler.BatchCount));
            bool improved = val.Accuracy > _bestValidation;
            if (improved)
            {
                _bestValidation = val.Accuracy; _bestEpoch = epoch; _sinceBest = 0;
                _testAtBest = _test is null || _validation is null ? null : trainer.Evaluate(_test.Pixels, _test.Labels).Accuracy;
                best = _net.ExportParameters();
                if (_o.OutputDirectory is not null) ModelFile.Save(Path.Combine(_o.OutputDirectory, BestModelFile), _net, _spec, Meta(trainer, epoch));
            }
            else _sinceBest++;
            var report = new EpochReport(epoch, tr?.MeanCost, tr?.Accuracy, val.MeanCost, val.Accuracy, improved ? _testAtBest : null,
                trainer.LearningRate, seconds, sampler.BatchCount * batch / seconds);
            _history.Add(report);
            OnEpoch?.Invoke(report);
            if (_o.Schedule is { } s && _sinceBest > 0 && _sinceBest % s.Patience == 0)
            {
                trainer.LearningRate /= s.Factor;
                if (trainer.LearningRate < _o.Sgd.LearningRate * s.FloorFraction) { reason = StopReason.LearningRateFloor; message = $"learning rate fell below {_o.Sgd.LearningRate * s.FloorFraction}"; }
            }
            if (_o.EarlyStoppingPatience is int p && _sinceBest >= p) { reason = StopReason.EarlyStopped; message = $"no improvement in {p} epochs"; }
            if (_o.OutputDirectory is not null)
                ModelFile.Save(Path.Combine(_o.OutputDirectory, CheckpointFile), _net, _spec, Meta(trainer, epoch), includeVelocity: true);
            if (reason != StopReason.Completed) break;
        }
        return new TrainingResult(_history, _bestEpoch, _bestValidation, _testAtBest, total.Elapsed.TotalSeconds, reason, message, best);
    }

    private Dictionary<string, string> Meta(SgdTrainer t, int epoch) => new()
    {
        ["epoch"] = epoch.ToString(CultureInfo.InvariantCulture),
        ["steps"] = t.Steps.ToString(CultureInfo.InvariantCulture),
        ["learning_rate"] = t.LearningRate.ToString("R", CultureInfo.InvariantCulture),
        ["best_epoch"] = _bestEpoch.ToString(CultureInfo.InvariantCulture),
        ["best_validation"] = _bestValidation.ToString("R", CultureInfo.InvariantCulture),
        ["since_best"] = _sinceBest.ToString(CultureInfo.InvariantCulture),
        ["test_at_best"] = _testAtBest?.ToString("R", CultureInfo.InvariantCulture) ?? "",
    };

    /// <summary>Divergence shows first in the outputs: a NaN or infinite activation sum stops training at once.</summary>
    private void CheckFinite(SgdTrainer t, int epoch, int batchIndex)
    {
        double s = _net.Backend.Sum(_net.Parameters[^2].Value, _net.Parameters[^2].Value.Length, squares: false);
        if (double.IsNaN(s) || double.IsInfinity(s)) throw new TrainingDivergedException(DivergedMessage(t, epoch, batchIndex + 1));
    }

    private static string DivergedMessage(SgdTrainer t, int epoch, int batch) =>
        $"training diverged at epoch {epoch}, mini-batch {batch}: the weights are no longer finite (learning rate {t.LearningRate}). Try a smaller --eta; the best model so far is kept.";
}
