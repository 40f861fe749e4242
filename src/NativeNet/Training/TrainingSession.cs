using System.Diagnostics;
using System.Globalization;
using NativeNet.Data;
using NativeNet.Persistence;

using NativeNet.Training;

namespace NativeNet;

/// <summary>Chapter 3's schedule: when validation accuracy has not improved for Patience epochs, divide eta by Factor; stop once eta falls below the floor.</summary>
/// <param name="Patience">Epochs without improvement before eta is divided.</param>
/// <param name="Factor">What eta is divided by.</param>
/// <param name="FloorFraction">Training stops once eta is below this fraction of the initial eta.</param>
public sealed record PlateauSchedule(int Patience = 10, float Factor = 2f, float FloorFraction = 1f / 128);

/// <summary>The training workflow around <see cref="SgdTrainer"/>: epochs, shuffling, monitoring, stopping rules, checkpoints.</summary>
public sealed record TrainingOptions
{
    /// <summary>Epochs to train (at most: a stopping rule may end sooner), at least 1.</summary>
    public int Epochs { get; init; } = 30;
    /// <summary>The mini-batch hyper-parameters.</summary>
    public required SgdOptions Sgd { get; init; }
    /// <summary>Reshuffle every epoch (chapters 1-3); chapter 6's code keeps one order.</summary>
    public bool Shuffle { get; init; } = true;
    /// <summary>Seeds the shuffles (and the distortions).</summary>
    public int ShuffleSeed { get; init; } = 1;
    /// <summary>Stop when validation accuracy has not improved for this many epochs.</summary>
    public int? EarlyStoppingPatience { get; init; }
    /// <summary>Lower eta when validation accuracy stalls; null keeps eta fixed.</summary>
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

/// <summary>What one epoch achieved; accuracies are fractions in [0, 1].</summary>
/// <param name="Epoch">The epoch, from 1.</param>
/// <param name="TrainingCost">Mean cost on the training data (with regularization), when <see cref="TrainingOptions.MonitorTraining"/> is set.</param>
/// <param name="TrainingAccuracy">Accuracy on the training data, when <see cref="TrainingOptions.MonitorTraining"/> is set.</param>
/// <param name="ValidationCost">Mean cost on the validation data (with regularization); the test data, then the training data, stand in when it is absent.</param>
/// <param name="ValidationAccuracy">Accuracy on the same data as <paramref name="ValidationCost"/>.</param>
/// <param name="TestAccuracy">Test accuracy when this epoch is a new best on validation (and both sets were given), else null.</param>
/// <param name="LearningRate">eta during the epoch.</param>
/// <param name="Seconds">Wall time of the epoch's training steps, evaluation excluded.</param>
/// <param name="ImagesPerSecond">Training images per second over those steps.</param>
public sealed record EpochReport(int Epoch, double? TrainingCost, double? TrainingAccuracy, double ValidationCost, double ValidationAccuracy,
    double? TestAccuracy, float LearningRate, double Seconds, double ImagesPerSecond);

/// <summary>Why <see cref="TrainingSession.Run"/> stopped.</summary>
public enum StopReason
{
    /// <summary>Every epoch ran.</summary>
    Completed,
    /// <summary>Validation accuracy did not improve for <see cref="TrainingOptions.EarlyStoppingPatience"/> epochs.</summary>
    EarlyStopped,
    /// <summary>The <see cref="PlateauSchedule"/> lowered eta below its floor.</summary>
    LearningRateFloor,
    /// <summary>The cancellation token was signalled.</summary>
    Cancelled,
    /// <summary>The cost or the weights stopped being finite.</summary>
    Diverged,
}

/// <summary>The outcome of <see cref="TrainingSession.Run"/>; accuracies are fractions in [0, 1].</summary>
/// <param name="Epochs">Every epoch's report, those before a resume included.</param>
/// <param name="BestEpoch">The epoch with the best validation accuracy (-1 when none ran).</param>
/// <param name="BestValidationAccuracy">That accuracy.</param>
/// <param name="TestAccuracyAtBest">Test accuracy at that epoch, when test and validation data were given.</param>
/// <param name="Seconds">Wall time of the whole run.</param>
/// <param name="StopReason">Why the run stopped.</param>
/// <param name="Message">Detail on the stop (e.g. "no improvement in 10 epochs"), or null.</param>
/// <param name="BestParameters">The parameters at the best validation epoch of this run (<see cref="Network.ExportParameters"/>
/// order), or null when no epoch of this run improved on the best so far (a resumed run keeps its earlier best in the
/// output folder's best model).</param>
public sealed record TrainingResult(IReadOnlyList<EpochReport> Epochs, int BestEpoch, double BestValidationAccuracy, double? TestAccuracyAtBest,
    double Seconds, StopReason StopReason, string? Message, IReadOnlyList<float[]>? BestParameters = null);

/// <summary>Thrown when the cost or the weights become NaN or infinite.</summary>
/// <param name="message">Where it diverged (epoch, mini-batch, learning rate) and what to try.</param>
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

    /// <summary>A session for <paramref name="net"/>, whose models and checkpoints record <paramref name="spec"/> (it must describe the network).</summary>
    /// <param name="net">The network to train, updated in place.</param>
    /// <param name="spec">The architecture to record in saved models.</param>
    /// <param name="options">Epochs, hyper-parameters, stopping rules, output folder.</param>
    /// <param name="train">The training images.</param>
    /// <param name="validation">Evaluated after each epoch to pick the best; null uses the test data, or else the training data.</param>
    /// <param name="test">Reported at the best validation epoch; null for none.</param>
    /// <exception cref="ArgumentException">The images do not fit the network, or the batch is larger than the training set.</exception>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range.</exception>
    public TrainingSession(Network net, NetworkSpec spec, TrainingOptions options, LabeledImages train, LabeledImages? validation, LabeledImages? test)
    {
        ArgumentNullException.ThrowIfNull(net);
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(train);
        options.Sgd.Validate();
        if (train.Features != net.InputSize) throw new ArgumentException($"Training images have {train.Features} features; the network expects {net.InputSize}.");
        if (options.Epochs < 1) throw new ArgumentOutOfRangeException(nameof(options), options.Epochs, "Epochs must be at least 1.");
        // Checked before anything is sized by the batch: a batch larger than the data would train nothing (incomplete batches are dropped).
        if (options.Sgd.BatchSize > train.Count)
            throw new ArgumentException($"The mini-batch size {options.Sgd.BatchSize} is larger than the {train.Count} training images: an epoch would have no complete batch. Use a batch of at most {train.Count}.", nameof(options));
        _net = net; _spec = spec; _o = options; _train = train; _validation = validation; _test = test;
    }

    /// <summary>A session for <paramref name="net"/>, recording its own <see cref="Network.Architecture"/> in models and checkpoints.</summary>
    /// <param name="net">The network to train, updated in place.</param>
    /// <param name="options">Epochs, hyper-parameters, stopping rules, output folder.</param>
    /// <param name="train">The training images.</param>
    /// <param name="validation">Evaluated after each epoch to pick the best; null uses the test data, or else the training data.</param>
    /// <param name="test">Reported at the best validation epoch; null for none.</param>
    /// <exception cref="ArgumentException">The images do not fit the network, or the batch is larger than the training set.</exception>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range.</exception>
    public TrainingSession(Network net, TrainingOptions options, LabeledImages train, LabeledImages? validation, LabeledImages? test)
        : this(net, (net ?? throw new ArgumentNullException(nameof(net))).Architecture, options, train, validation, test)
    {
    }

    /// <summary>Called after every mini-batch with (epoch, batch, batches per epoch).</summary>
    public Action<int, int, int>? OnBatch { get; set; }
    /// <summary>Called after every epoch with its report.</summary>
    public Action<EpochReport>? OnEpoch { get; set; }

    /// <summary>The checkpoint written to the output folder after every epoch (a model file with velocities and progress).</summary>
    public const string CheckpointFile = "checkpoint.safetensors";
    /// <summary>The model written to the output folder at every new best validation accuracy.</summary>
    public const string BestModelFile = "best.safetensors";

    /// <summary>
    /// Restores parameters, velocities, progress and the epoch history from a checkpoint written by an earlier run.
    /// Every field is checked (<see cref="ModelFormatException"/> naming it); an option that decides the training's
    /// path (batch, eta, L2, L1, momentum, seeds, shuffling, training set, distortions) must be the checkpoint's, or an
    /// <see cref="ArgumentException"/> names both values. Temporaries left by a killed save are removed.
    /// </summary>
    /// <param name="directory">The output folder of the earlier run, holding <see cref="CheckpointFile"/>.</param>
    /// <exception cref="ModelFormatException">The checkpoint is damaged or a field is invalid.</exception>
    /// <exception cref="ArgumentException">The architecture or an option differs from the checkpoint's.</exception>
    /// <exception cref="FileNotFoundException">There is no checkpoint.</exception>
    public void Resume(string directory)
    {
        string path = Path.Combine(directory, CheckpointFile);
        AtomicFile.RemoveStaleTemporaries(Path.GetFullPath(path));
        AtomicFile.RemoveStaleTemporaries(Path.GetFullPath(Path.Combine(directory, BestModelFile)));
        var contents = ModelFile.Read(path);
        if (contents.Spec.Text != _spec.Text)
            throw new ArgumentException($"Cannot resume from '{path}': its architecture '{contents.Spec}' differs from this run's '{_spec}'.");
        var state = CheckpointState.Read(contents);
        state.CheckOptions(path, _o, _train.Count);
        ModelFile.Apply(path, _net, contents, velocity: true);
        _startEpoch = state.Epoch;
        _resumeRate = state.LearningRate;
        _resumeSteps = state.Steps;
        _bestEpoch = state.BestEpoch;
        _bestValidation = state.BestValidation;
        _sinceBest = state.SinceBest;
        _testAtBest = state.TestAtBest;
        _history.Clear();
        _history.AddRange(state.History);
    }

    /// <summary>
    /// Trains epoch by epoch until the last, a stopping rule, or cancellation (checked between mini-batches); writes the
    /// best model and a checkpoint to the output folder, when one is set.
    /// </summary>
    /// <param name="cancel">Stops the run between mini-batches; the result then says <see cref="StopReason.Cancelled"/>.</param>
    /// <exception cref="TrainingDivergedException">The cost or the weights stopped being finite.</exception>
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
        string? message = _startEpoch >= _o.Epochs ? $"the checkpoint is at epoch {_startEpoch} of {_o.Epochs}: nothing left to train" : null;
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
                if (_o.OutputDirectory is not null) ModelFile.Save(Path.Combine(_o.OutputDirectory, BestModelFile), _net, _spec, Meta(trainer, epoch, history: false));
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
                ModelFile.Save(Path.Combine(_o.OutputDirectory, CheckpointFile), _net, _spec, Meta(trainer, epoch, history: true), includeVelocity: true);
            if (reason != StopReason.Completed) break;
        }
        return new TrainingResult(_history, _bestEpoch, _bestValidation, _testAtBest, total.Elapsed.TotalSeconds, reason, message, best);
    }

    /// <summary>The progress and options saved with a model; a checkpoint also keeps the epoch history (so a resumed run reports every epoch).</summary>
    private Dictionary<string, string> Meta(SgdTrainer t, int epoch, bool history) =>
        CheckpointState.Metadata(_o, _train.Count, epoch, t.Steps, t.LearningRate, _bestEpoch, _bestValidation, _sinceBest, _testAtBest, history ? _history : null);

    /// <summary>Divergence shows first in the outputs: a NaN or infinite activation sum stops training at once.</summary>
    private void CheckFinite(SgdTrainer t, int epoch, int batchIndex)
    {
        double s = _net.Backend.Sum(_net.Parameters[^2].Value, _net.Parameters[^2].Value.Length, squares: false);
        if (double.IsNaN(s) || double.IsInfinity(s)) throw new TrainingDivergedException(DivergedMessage(t, epoch, batchIndex + 1));
    }

    private static string DivergedMessage(SgdTrainer t, int epoch, int batch) =>
        $"training diverged at epoch {epoch}, mini-batch {batch}: the weights are no longer finite (learning rate {t.LearningRate}). Try a smaller --eta; the best model so far is kept.";
}
