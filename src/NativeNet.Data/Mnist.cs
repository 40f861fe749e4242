using NativeNet.Data;

namespace NativeNet;

/// <summary>The three splits the book trains, selects and reports on.</summary>
/// <param name="Training">Used to fit the weights (the book: the first 50,000 training images).</param>
/// <param name="Validation">Used to choose hyper-parameters and epochs (the book: the last 10,000 training images).</param>
/// <param name="Test">Used only to report accuracy (the 10,000 t10k images).</param>
public sealed record MnistDataset(LabeledImages Training, LabeledImages Validation, LabeledImages Test);

/// <summary>
/// Loads MNIST (or any data set in the same four-file IDX layout) into the book's
/// training / validation / test split.
/// </summary>
public static class Mnist
{
    /// <summary>File name of the training images (each name is also accepted with ".gz").</summary>
    public const string TrainImagesFile = "train-images-idx3-ubyte";

    /// <summary>File name of the training labels.</summary>
    public const string TrainLabelsFile = "train-labels-idx1-ubyte";

    /// <summary>File name of the test images.</summary>
    public const string TestImagesFile = "t10k-images-idx3-ubyte";

    /// <summary>File name of the test labels.</summary>
    public const string TestLabelsFile = "t10k-labels-idx1-ubyte";

    /// <summary>Images in the standard training file: the book's training plus validation sets.</summary>
    public const int StandardTrainingFileCount = 60_000;

    /// <summary>The book's validation set: the last 10,000 images of the training file.</summary>
    public const int StandardValidationCount = 10_000;

    /// <summary>Images in the standard test file.</summary>
    public const int StandardTestCount = 10_000;

    /// <summary>Height and width of an MNIST image.</summary>
    public const int ImageSide = 28;

    /// <summary>Number of classes; labels must be in 0..<see cref="ClassCount"/>-1.</summary>
    public const int ClassCount = 10;

    /// <summary>
    /// Loads the standard MNIST files from <paramref name="directory"/> and returns the book's
    /// split: training = the first 50,000 training images, validation = the last 10,000,
    /// test = the 10,000 test images. Refuses files that are not the standard 60,000 + 10,000
    /// 28x28 images (use <see cref="Load(string, int, IdxLimits?)"/> for other data sets).
    /// </summary>
    /// <param name="directory">The folder holding the four files (raw or .gz), e.g. data/mnist.</param>
    /// <param name="limits">Size limits for the reader; its defaults when null.</param>
    /// <exception cref="FileNotFoundException">A file is missing (as raw and as .gz).</exception>
    /// <exception cref="IdxFormatException">A file is malformed, has non-standard counts or sizes, or files disagree.</exception>
    public static MnistDataset Load(string directory, IdxLimits? limits = null) =>
        Load(directory, StandardValidationCount, limits, standard: true);

    /// <summary>
    /// Loads the four files (standard names, raw or .gz) from <paramref name="directory"/>:
    /// training = the training file without its last <paramref name="validationCount"/> images,
    /// validation = those last images, test = the test file. Checks that images are 3-D
    /// (count x rows x cols) with matching shapes, that image and label counts agree, and that
    /// every label is in 0..9.
    /// </summary>
    /// <param name="directory">The folder holding the four files (raw or .gz).</param>
    /// <param name="validationCount">Images taken from the end of the training file for validation (0 or more, fewer than the file holds).</param>
    /// <param name="limits">Size limits for the reader; its defaults when null.</param>
    /// <exception cref="FileNotFoundException">A file is missing (as raw and as .gz).</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="validationCount"/> is negative or leaves no training image.</exception>
    /// <exception cref="IdxFormatException">A file is malformed or the files disagree.</exception>
    public static MnistDataset Load(string directory, int validationCount, IdxLimits? limits = null) =>
        Load(directory, validationCount, limits, standard: false);

    /// <summary>
    /// Returns the path of <paramref name="fileName"/> in <paramref name="directory"/>, or of
    /// <paramref name="fileName"/>.gz when only that exists.
    /// </summary>
    /// <param name="directory">The folder to look in.</param>
    /// <param name="fileName">The file's name without ".gz", e.g. <see cref="TrainImagesFile"/>.</param>
    /// <exception cref="FileNotFoundException">Neither exists; the message says how to fetch MNIST.</exception>
    public static string FindFile(string directory, string fileName)
    {
        string raw = Path.Combine(directory, fileName);
        if (File.Exists(raw))
        {
            return raw;
        }

        string gz = raw + ".gz";
        if (File.Exists(gz))
        {
            return gz;
        }

        throw new FileNotFoundException(
            $"Neither '{raw}' nor '{gz}' exists. Fetch MNIST with tools/fetch-mnist.sh or MnistFetcher.EnsureMnist.", raw);
    }

    private static MnistDataset Load(string directory, int validationCount, IdxLimits? limits, bool standard)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        ArgumentOutOfRangeException.ThrowIfNegative(validationCount);

        (IdxFile trainImages, IdxFile trainLabels) = ReadPair(
            directory, TrainImagesFile, TrainLabelsFile, limits, standard ? new ImageShape(StandardTrainingFileCount, ImageSide, ImageSide) : null);
        if (validationCount >= trainImages.ItemCount)
        {
            throw new ArgumentOutOfRangeException(nameof(validationCount), validationCount,
                $"the training file holds {trainImages.ItemCount:N0} images; the validation set must leave at least one for training");
        }

        int trainingCount = trainImages.ItemCount - validationCount;
        int rows = trainImages.Dimensions[1];
        int cols = trainImages.Dimensions[2];
        LabeledImages training = LabeledImages.FromBytes(trainImages.Data, trainLabels.Data, 0, trainingCount, rows, cols);
        LabeledImages validation = LabeledImages.FromBytes(trainImages.Data, trainLabels.Data, trainingCount, validationCount, rows, cols);

        // The test images must have the training images' size; only the standard load fixes their count.
        (IdxFile testImages, IdxFile testLabels) = ReadPair(
            directory, TestImagesFile, TestLabelsFile, limits, new ImageShape(standard ? StandardTestCount : null, rows, cols));
        LabeledImages test = LabeledImages.FromBytes(testImages.Data, testLabels.Data, 0, testImages.ItemCount, rows, cols);
        return new MnistDataset(training, validation, test);
    }

    /// <summary>
    /// Reads an image file and its label file and checks that they belong together, reporting
    /// each problem at the header field or label byte that shows it.
    /// </summary>
    /// <param name="directory">The folder holding both files (raw or .gz).</param>
    /// <param name="imagesName">The image file's standard name, e.g. <see cref="TrainImagesFile"/>.</param>
    /// <param name="labelsName">The label file's standard name, e.g. <see cref="TrainLabelsFile"/>.</param>
    /// <param name="limits">Size limits for the reader; its defaults when null.</param>
    /// <param name="expected">Count (when not null) and size the images must have, or null for any.</param>
    private static (IdxFile Images, IdxFile Labels) ReadPair(string directory, string imagesName, string labelsName, IdxLimits? limits, ImageShape? expected)
    {
        const int CountOffset = 4, RowsOffset = 8, LabelDataOffset = 8;
        string imagesPath = FindFile(directory, imagesName);
        string labelsPath = FindFile(directory, labelsName);
        IdxFile images = IdxReader.Read(imagesPath, limits);
        IdxFile labels = IdxReader.Read(labelsPath, limits);

        if (images.Dimensions.Length != 3)
        {
            throw new IdxFormatException(imagesPath, 3, $"expected 3 dimensions (count x rows x cols) for images, found {images.Dimensions.Length} ({images.ShapeText})");
        }

        if (labels.Dimensions.Length != 1)
        {
            throw new IdxFormatException(labelsPath, 3, $"expected 1 dimension (count) for labels, found {labels.Dimensions.Length} ({labels.ShapeText})");
        }

        int rows = images.Dimensions[1];
        int cols = images.Dimensions[2];
        if (expected is { Count: int count } && images.ItemCount != count)
        {
            throw new IdxFormatException(imagesPath, CountOffset,
                $"expected {count:N0} images (standard MNIST), found {images.ItemCount:N0}. Re-fetch with tools/fetch-mnist.sh, or call Mnist.Load(directory, validationCount) for another data set");
        }

        if (rows == 0 || cols == 0 || (expected is { } shape && (rows != shape.Rows || cols != shape.Cols)))
        {
            string wanted = expected is { } s ? $"{s.Rows}x{s.Cols}" : "non-empty";
            throw new IdxFormatException(imagesPath, RowsOffset, $"expected {wanted} images, found {rows}x{cols}");
        }

        if (images.ItemCount != labels.ItemCount)
        {
            throw new IdxFormatException(labelsPath, CountOffset,
                $"holds {labels.ItemCount:N0} labels but '{imagesPath}' holds {images.ItemCount:N0} images; the counts must agree");
        }

        int bad = labels.Data.AsSpan().IndexOfAnyInRange((byte)ClassCount, byte.MaxValue);
        if (bad >= 0)
        {
            throw new IdxFormatException(labelsPath, LabelDataOffset + bad, $"label {labels.Data[bad]} of item {bad} is outside 0..{ClassCount - 1}");
        }

        return (images, labels);
    }

    private sealed record ImageShape(int? Count, int Rows, int Cols);
}
