using NativeNet.Data;

namespace NativeNet.Baselines;

/// <summary>
/// Chapter 1's first baseline: an image's darkness is the sum of its pixel values; training computes the mean darkness
/// of each digit, and an image is guessed to be the digit whose mean darkness is closest to its own (the first such
/// digit on a tie). The book reports 22.25% on MNIST's test set after training on its 50,000 training images.
/// </summary>
public sealed class AverageDarkness
{
    private readonly double[] _means;

    private AverageDarkness(double[] means) => _means = means;

    /// <summary>Mean darkness of each class 0..<see cref="Classes"/>-1 in the training data (NaN for a class with no image).</summary>
    public IReadOnlyList<double> MeanDarkness => _means;

    /// <summary>The number of classes: one more than the largest training label.</summary>
    public int Classes => _means.Length;

    /// <summary>Learns each class's mean darkness from <paramref name="training"/>.</summary>
    /// <param name="training">The labelled training images.</param>
    /// <exception cref="ArgumentException">The data set is empty.</exception>
    public static AverageDarkness Fit(LabeledImages training)
    {
        ArgumentNullException.ThrowIfNull(training);
        if (training.Count == 0) throw new ArgumentException("The darkness baseline needs at least one training image.", nameof(training));
        int classes = 0;
        foreach (byte label in training.Labels) classes = Math.Max(classes, label + 1);
        var sums = new double[classes];
        var counts = new int[classes];
        for (int i = 0; i < training.Count; i++)
        {
            sums[training.Labels[i]] += Darkness(training.Image(i));
            counts[training.Labels[i]]++;
        }
        for (int c = 0; c < classes; c++) sums[c] = counts[c] == 0 ? double.NaN : sums[c] / counts[c];
        return new AverageDarkness(sums);
    }

    /// <summary>The sum of an image's pixel values (accumulated in double, so the order of the pixels hardly matters).</summary>
    /// <param name="image">The pixels.</param>
    public static double Darkness(ReadOnlySpan<float> image)
    {
        double sum = 0;
        foreach (float p in image) sum += p;
        return sum;
    }

    /// <summary>The class whose mean darkness is nearest to the image's; the lowest such class on a tie.</summary>
    /// <param name="image">The pixels.</param>
    public int Classify(ReadOnlySpan<float> image)
    {
        double darkness = Darkness(image);
        int best = -1;
        double bestDistance = double.PositiveInfinity;
        for (int c = 0; c < _means.Length; c++)
        {
            double distance = Math.Abs(darkness - _means[c]);   // NaN for an absent class: never smaller
            if (distance < bestDistance) { best = c; bestDistance = distance; }
        }
        return best;
    }

    /// <summary>The number of images of <paramref name="data"/> classified correctly.</summary>
    /// <param name="data">The labelled images.</param>
    public int CountCorrect(LabeledImages data)
    {
        ArgumentNullException.ThrowIfNull(data);
        int correct = 0;
        for (int i = 0; i < data.Count; i++) if (Classify(data.Image(i)) == data.Labels[i]) correct++;
        return correct;
    }
}
