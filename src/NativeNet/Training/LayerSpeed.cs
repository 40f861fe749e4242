using NativeNet.Data;

namespace NativeNet.Training;

/// <summary>The speed of learning of every hidden layer at one point of training.</summary>
/// <param name="Epoch">Epochs trained when measured (0: at initialization).</param>
/// <param name="Norms">||delta^l|| for hidden layers l = 1, 2, ... in order (the output layer is left out, as in the book).</param>
public sealed record LayerSpeedRecord(int Epoch, IReadOnlyList<double> Norms);

/// <summary>
/// Chapter 5's measure of how fast each hidden layer learns: ||delta^l||, the norm of the gradient of the cost with
/// respect to the layer's biases (dC/db^l = delta^l averaged over the examples), computed, as the book does, on the
/// first 1,000 training images. The probe runs forward and backward on those images with its own
/// <see cref="SgdTrainer"/> (a workspace sized for them) and reads <see cref="SgdTrainer.DeltaNorms"/>; it never
/// changes the weights, and the gradients it leaves behind are overwritten by the next training step, so a run that
/// measures is the same run as one that does not.
/// </summary>
public sealed class LayerSpeedProbe : IDisposable
{
    /// <summary>The book's probe: the first 1,000 training images.</summary>
    public const int DefaultImages = 1000;

    private readonly SgdTrainer _trainer;
    private readonly float[] _pixels, _targets;
    private readonly int _count;
    private readonly List<LayerSpeedRecord> _history = [];
    private double[]? _pending;

    /// <summary>Measures on the first <paramref name="images"/> images of <paramref name="training"/> (fewer when it has fewer).</summary>
    /// <param name="network">The network being trained; the probe reads it, never changes its weights.</param>
    /// <param name="training">The training images.</param>
    /// <param name="images">How many of the first images to measure on.</param>
    /// <exception cref="ArgumentException">The images do not fit the network, the network has no hidden layer with biases, or no image.</exception>
    public LayerSpeedProbe(Network network, LabeledImages training, int images = DefaultImages)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(training);
        if (images < 1) throw new ArgumentOutOfRangeException(nameof(images), images, "The probe needs at least one image.");
        if (training.Count == 0) throw new ArgumentException("The layer-speed probe needs at least one training image.", nameof(training));
        if (training.Features != network.InputSize) throw new ArgumentException($"Training images have {training.Features} features; the network expects {network.InputSize}.", nameof(training));
        int biasLayers = network.Layers.Count(l => l.Parameters.Any(p => !p.IsWeight));
        HiddenLayers = biasLayers - 1;
        if (HiddenLayers < 1) throw new ArgumentException("The speed of learning is measured per hidden layer; this network has none with biases.", nameof(network));
        _count = Math.Min(images, training.Count);
        _pixels = training.Pixels.AsSpan(0, _count * training.Features).ToArray();
        int classes = network.OutputSize;
        _targets = new float[_count * classes];
        SgdTrainer.OneHot(training.Labels.AsSpan(0, _count), _targets, classes, nameof(training));
        // One whole batch, never split: the bias gradients then land in the parameters' own tensors, summed over the batch.
        _trainer = new SgdTrainer(network, new SgdOptions { BatchSize = _count, MiniBatchSplit = 1, TrainingSetSize = training.Count });
    }

    /// <summary>Hidden layers measured: the layers with biases, but for the output layer.</summary>
    public int HiddenLayers { get; }

    /// <summary>Images the norms are averaged over.</summary>
    public int Images => _count;

    /// <summary>Every record so far, in epoch order.</summary>
    public IReadOnlyList<LayerSpeedRecord> History => _history;

    /// <summary>||delta^l|| for every hidden layer now.</summary>
    public double[] Measure()
    {
        _trainer.ForwardBackward(_pixels, _targets, _count);
        return _trainer.DeltaNorms(_count)[..HiddenLayers];
    }

    /// <summary>
    /// Measures before training starts; the measurement is recorded with the first <see cref="Record"/> call as the epoch
    /// before it (0 for a fresh run, the checkpoint's epoch for a resumed one).
    /// </summary>
    public void Start() => _pending = Measure();

    /// <summary>Measures after <paramref name="epoch"/> epochs and adds the record (after the pending start, if any).</summary>
    /// <param name="epoch">Epochs trained so far.</param>
    public void Record(int epoch)
    {
        if (_pending is not null) { _history.Add(new LayerSpeedRecord(epoch - 1, _pending)); _pending = null; }
        _history.Add(new LayerSpeedRecord(epoch, Measure()));
    }

    /// <summary>Frees the probe's workspaces (the network stays the caller's).</summary>
    public void Dispose() => _trainer.Dispose();
}
