using NativeNet.Layers;

namespace NativeNet.Training;

/// <summary>One of the book's experiments: architecture, hyper-parameters and the accuracy the book reports.</summary>
/// <param name="Name">The name `nativenet train --preset` takes, e.g. "ch1".</param>
/// <param name="Chapter">The book's chapter.</param>
/// <param name="Description">One line on the experiment.</param>
/// <param name="Architecture">The network as <see cref="NetworkSpec"/> text.</param>
/// <param name="Init">The weight initialization.</param>
/// <param name="Epochs">Epochs to train.</param>
/// <param name="BatchSize">m, examples per mini-batch.</param>
/// <param name="LearningRate">eta.</param>
/// <param name="L2">lambda of L2 regularization, in this library's lambda / n form.</param>
/// <param name="Expand">Train on the book's expanded set (each image and its four one-pixel shifts).</param>
/// <param name="Shuffle">Reshuffle every epoch (chapters 1-5); chapter 6 keeps one order.</param>
/// <param name="BookAccuracy">The accuracy the book reports, in percent.</param>
/// <param name="BookMetric">Which data set that accuracy is on ("test" or "validation").</param>
/// <param name="Momentum">mu; 0 for plain SGD.</param>
/// <param name="TrainingImages">Training images used, from the start of the training split.</param>
/// <param name="Ensemble">Networks that vote (chapter 6's ensemble); 1 for a single network. A preset above 1 is run by
/// `nativenet ensemble`, which trains that many networks of this setup, seeds seed..seed+Ensemble-1.</param>
/// <param name="LayerSpeed">Record each hidden layer's speed of learning per epoch (chapter 5, <see cref="LayerSpeedProbe"/>).</param>
public sealed record Preset(string Name, int Chapter, string Description, string Architecture, WeightInit Init, int Epochs, int BatchSize,
    float LearningRate, float L2, bool Expand, bool Shuffle, double BookAccuracy, string BookMetric, float Momentum = 0f, int TrainingImages = 50_000,
    int Ensemble = 1, bool LayerSpeed = false)
{
    /// <summary>The parsed <see cref="Architecture"/>.</summary>
    public NetworkSpec Spec => NetworkSpec.Parse(Architecture);

    /// <summary>The preset's SGD options for a training set.</summary>
    /// <param name="trainingSetSize">n in lambda / n: the training images actually used (after expansion).</param>
    /// <param name="seed">Seeds the dropout masks.</param>
    public SgdOptions Sgd(int trainingSetSize, ulong seed) => new()
    {
        BatchSize = BatchSize, LearningRate = LearningRate, L2 = L2, Momentum = Momentum, TrainingSetSize = trainingSetSize, Seed = seed,
    };
}

/// <summary>
/// Every experiment of book-experiments.md. Chapter 6's lambda is converted to this library's lambda / n form:
/// network3 adds 0.5 lambda sum w^2 / (n / m), so lambda_here = lambda_book * m.
/// </summary>
public static class Presets
{
    private const string Mnist = "input 784";
    private const string Image = "input 1x28x28";
    private const string Conv1 = "conv 20 5 {0} | maxpool 2";
    private const string Conv2 = "conv 40 5 {0} | maxpool 2";

    private const string DropoutFc1000 = "dense 1000 relu dropout=0.5 | dense 1000 relu dropout=0.5 | output 10 softmax dropout=0.5";

    private static string Cnn(string act, string fc) => $"{Image} | {string.Format(Conv1, act)} | {string.Format(Conv2, act)} | {fc}";

    /// <summary>Every preset, in the book's order, then "default".</summary>
    public static readonly IReadOnlyList<Preset> All =
    [
        new("ch1", 1, "[784,30,10] sigmoid, quadratic cost, N(0,1) init", $"{Mnist} | dense 30 sigmoid | output 10 sigmoid-quadratic", WeightInit.StandardNormal, 30, 10, 3.0f, 0, false, true, 95.42, "test"),
        new("ch1-100", 1, "[784,100,10] sigmoid, quadratic cost", $"{Mnist} | dense 100 sigmoid | output 10 sigmoid-quadratic", WeightInit.StandardNormal, 30, 10, 3.0f, 0, false, true, 96.59, "test"),
        new("ch3-ce", 3, "[784,30,10] cross-entropy, large init", $"{Mnist} | dense 30 sigmoid | output 10 sigmoid-ce", WeightInit.StandardNormal, 30, 10, 0.5f, 0, false, true, 95.49, "test"),
        new("ch3-ce-100", 3, "[784,100,10] cross-entropy, large init", $"{Mnist} | dense 100 sigmoid | output 10 sigmoid-ce", WeightInit.StandardNormal, 30, 10, 0.5f, 0, false, true, 96.82, "test"),
        new("ch3-overfit", 3, "[784,30,10] on 1,000 images, 400 epochs (overfitting)", $"{Mnist} | dense 30 sigmoid | output 10 sigmoid-ce", WeightInit.StandardNormal, 400, 10, 0.5f, 0, false, true, 82.27, "test", TrainingImages: 1000),
        new("ch3-overfit-l2", 3, "the same with lambda = 0.1", $"{Mnist} | dense 30 sigmoid | output 10 sigmoid-ce", WeightInit.StandardNormal, 400, 10, 0.5f, 0.1f, false, true, 87.1, "test", TrainingImages: 1000),
        new("ch3-l2", 3, "[784,30,10] lambda = 5, large init", $"{Mnist} | dense 30 sigmoid | output 10 sigmoid-ce", WeightInit.StandardNormal, 30, 10, 0.5f, 5f, false, true, 96.49, "test"),
        new("ch3-100-l2", 3, "[784,100,10] lambda = 5, eta 0.5", $"{Mnist} | dense 100 sigmoid | output 10 sigmoid-ce", WeightInit.StandardNormal, 30, 10, 0.5f, 5f, false, true, 97.92, "validation"),
        new("ch3-100-l2-60", 3, "[784,100,10] lambda = 5, eta 0.1, 60 epochs", $"{Mnist} | dense 100 sigmoid | output 10 sigmoid-ce", WeightInit.StandardNormal, 60, 10, 0.1f, 5f, false, true, 98.04, "validation"),
        new("ch3-init", 3, "[784,30,10] lambda = 5, eta 0.1, N(0,1/n_in) init", $"{Mnist} | dense 30 sigmoid | output 10 sigmoid-ce", WeightInit.ScaledByFanIn, 30, 10, 0.1f, 5f, false, true, 96.50, "validation"),
        new("ch5-1", 5, "[784,30,10]", $"{Mnist} | dense 30 sigmoid | output 10 sigmoid-ce", WeightInit.ScaledByFanIn, 30, 10, 0.1f, 5f, false, true, 96.48, "validation", LayerSpeed: true),
        new("ch5-2", 5, "[784,30,30,10]", $"{Mnist} | dense 30 sigmoid | dense 30 sigmoid | output 10 sigmoid-ce", WeightInit.ScaledByFanIn, 30, 10, 0.1f, 5f, false, true, 96.90, "validation", LayerSpeed: true),
        new("ch5-3", 5, "[784,30,30,30,10]", $"{Mnist} | dense 30 sigmoid | dense 30 sigmoid | dense 30 sigmoid | output 10 sigmoid-ce", WeightInit.ScaledByFanIn, 30, 10, 0.1f, 5f, false, true, 96.57, "validation", LayerSpeed: true),
        new("ch5-4", 5, "[784,30,30,30,30,10]", $"{Mnist} | dense 30 sigmoid | dense 30 sigmoid | dense 30 sigmoid | dense 30 sigmoid | output 10 sigmoid-ce", WeightInit.ScaledByFanIn, 30, 10, 0.1f, 5f, false, true, 96.53, "validation", LayerSpeed: true),
        new("ch6-fc", 6, "FC100 sigmoid + softmax", $"{Mnist} | dense 100 sigmoid | output 10 softmax", WeightInit.Chapter6, 60, 10, 0.1f, 0, false, false, 97.80, "test"),
        new("ch6-conv1", 6, "conv20 + FC100, sigmoid", $"{Image} | {string.Format(Conv1, "sigmoid")} | dense 100 sigmoid | output 10 softmax", WeightInit.Chapter6, 60, 10, 0.1f, 0, false, false, 98.78, "test"),
        new("ch6-conv2", 6, "conv20 + conv40 + FC100, sigmoid", Cnn("sigmoid", "dense 100 sigmoid | output 10 softmax"), WeightInit.Chapter6, 60, 10, 0.1f, 0, false, false, 99.06, "test"),
        new("ch6-relu", 6, "conv20 + conv40 + FC100, ReLU, lambda 0.1", Cnn("relu", "dense 100 relu | output 10 softmax"), WeightInit.Chapter6, 60, 10, 0.03f, 1.0f, false, false, 99.23, "test"),
        new("ch6-relu-expanded", 6, "the same on the 250,000-image expanded set", Cnn("relu", "dense 100 relu | output 10 softmax"), WeightInit.Chapter6, 60, 10, 0.03f, 1.0f, true, false, 99.37, "test"),
        new("ch6-fc300", 6, "ReLU, FC300, expanded", Cnn("relu", "dense 300 relu | output 10 softmax"), WeightInit.Chapter6, 60, 10, 0.03f, 1.0f, true, false, 99.46, "test"),
        new("ch6-fc1000", 6, "ReLU, FC1000, expanded", Cnn("relu", "dense 1000 relu | output 10 softmax"), WeightInit.Chapter6, 60, 10, 0.03f, 1.0f, true, false, 99.43, "test"),
        new("ch6-2fc100", 6, "ReLU, two FC100, expanded", Cnn("relu", "dense 100 relu | dense 100 relu | output 10 softmax"), WeightInit.Chapter6, 60, 10, 0.03f, 1.0f, true, false, 99.43, "test"),
        new("ch6-2fc300", 6, "ReLU, two FC300, expanded", Cnn("relu", "dense 300 relu | dense 300 relu | output 10 softmax"), WeightInit.Chapter6, 60, 10, 0.03f, 1.0f, true, false, 99.48, "test"),
        new("ch6-2fc1000", 6, "ReLU, two FC1000, expanded", Cnn("relu", "dense 1000 relu | dense 1000 relu | output 10 softmax"), WeightInit.Chapter6, 60, 10, 0.03f, 1.0f, true, false, 99.47, "test"),
        new("ch6-dropout", 6, "ReLU, FC1000 + FC1000 with dropout 0.5, expanded, 40 epochs", Cnn("relu", DropoutFc1000), WeightInit.Chapter6, 40, 10, 0.03f, 0, true, false, 99.60, "test"),
        new("ch6-ensemble", 6, "five ch6-dropout networks voting (plurality)", Cnn("relu", DropoutFc1000), WeightInit.Chapter6, 40, 10, 0.03f, 0, true, false, 99.67, "test", Ensemble: 5),
        new("default", 6, "the README's default: ch6-relu's network, one epoch over the 250,000-image expanded set (under a minute on 2 cores)", Cnn("relu", "dense 100 relu | output 10 softmax"), WeightInit.Chapter6, 1, 10, 0.03f, 1.0f, true, false, 99.37, "test (book: ch6-relu-expanded, 60 epochs)"),
    ];

    /// <summary>The preset named <paramref name="name"/>.</summary>
    /// <param name="name">A preset's name, e.g. "ch6-relu" (case-sensitive).</param>
    /// <exception cref="ArgumentException">No preset has that name; the message lists the known ones.</exception>
    public static Preset Get(string name) => All.FirstOrDefault(p => p.Name == name)
        ?? throw new ArgumentException($"Unknown preset '{name}'. Known: {string.Join(", ", All.Select(p => p.Name))}.");
}
