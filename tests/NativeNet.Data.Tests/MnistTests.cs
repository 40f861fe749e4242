namespace NativeNet.Data.Tests;

public sealed class MnistTests : IDisposable
{
    private const int Rows = 4;
    private const int Cols = 3;
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Load_SplitsTrainingIntoTrainingAndValidation(bool gzip)
    {
        WriteDataSet(trainCount: 12, testCount: 5, gzip);

        MnistDataset data = Mnist.Load(_dir.Path, validationCount: 2);

        Assert.Equal(10, data.Training.Count);
        Assert.Equal(2, data.Validation.Count);
        Assert.Equal(5, data.Test.Count);
        Assert.All([data.Training, data.Validation, data.Test], set =>
        {
            Assert.Equal(Rows, set.Rows);
            Assert.Equal(Cols, set.Cols);
            Assert.Equal(Rows * Cols, set.Features);
            Assert.Equal(set.Count * set.Features, set.Pixels.Length);
        });

        // Item i of the training file has label i % 10 and first pixel byte i; validation is the tail.
        Assert.Equal([0, 1, 2, 3, 4, 5, 6, 7, 8, 9], data.Training.Labels);
        Assert.Equal([0, 1], data.Validation.Labels);
        Assert.Equal(10 / 255f, data.Validation.Image(0)[0]);
        Assert.Equal(11 / 255f, data.Validation.Image(1)[0]);
        Assert.Equal([9, 8, 7, 6, 5], data.Test.Labels);
    }

    [Fact]
    public void Load_ScalesBytesToUnitInterval()
    {
        WriteDataSet(trainCount: 3, testCount: 1, gzip: false);
        var pixels = new byte[] { 0, 51, 255, 128, 1, 254, 0, 0, 0, 0, 0, 0 };
        IdxWriter.Write(_dir.File(Mnist.TestImagesFile), [1, Rows, Cols], pixels);

        LabeledImages test = Mnist.Load(_dir.Path, 1).Test;

        Assert.Equal(0f, test.Pixels[0]);
        Assert.Equal(0.2f, test.Pixels[1]);
        Assert.Equal(1f, test.Pixels[2]);
        for (int i = 0; i < pixels.Length; i++)
        {
            Assert.Equal(pixels[i] / 255f, test.Pixels[i]);
        }
    }

    [Fact]
    public void Load_ZeroValidation_GivesEmptyValidationSet()
    {
        WriteDataSet(trainCount: 4, testCount: 2, gzip: false);
        MnistDataset data = Mnist.Load(_dir.Path, 0);
        Assert.Equal(4, data.Training.Count);
        Assert.Equal(0, data.Validation.Count);
    }

    [Fact]
    public void Load_ValidationAsLargeAsTheTrainingFile_IsRejected()
    {
        WriteDataSet(trainCount: 4, testCount: 2, gzip: false);
        Assert.Throws<ArgumentOutOfRangeException>(() => Mnist.Load(_dir.Path, 4));
    }

    [Fact]
    public void Load_LabelOutOfRange_NamesFileItemAndOffset()
    {
        WriteDataSet(trainCount: 6, testCount: 2, gzip: false);
        IdxWriter.Write(_dir.File(Mnist.TrainLabelsFile), [6], [0, 1, 2, 10, 4, 5]);

        var ex = Assert.Throws<IdxFormatException>(() => Mnist.Load(_dir.Path, 1));

        Assert.Equal(_dir.File(Mnist.TrainLabelsFile), ex.FilePath);
        Assert.Equal(8 + 3, ex.Offset);
        Assert.Contains("label 10 of item 3 is outside 0..9", ex.Message);
    }

    [Fact]
    public void Load_CountMismatch_IsReportedAtTheLabelCount()
    {
        WriteDataSet(trainCount: 6, testCount: 2, gzip: false);
        IdxWriter.Write(_dir.File(Mnist.TestLabelsFile), [3], [0, 1, 2]);

        var ex = Assert.Throws<IdxFormatException>(() => Mnist.Load(_dir.Path, 1));

        Assert.Equal(_dir.File(Mnist.TestLabelsFile), ex.FilePath);
        Assert.Equal(4, ex.Offset);
        Assert.Contains("holds 3 labels", ex.Message);
        Assert.Contains("holds 2 images", ex.Message);
    }

    [Fact]
    public void Load_TestImagesOfAnotherSize_AreRejected()
    {
        WriteDataSet(trainCount: 6, testCount: 2, gzip: false);
        IdxWriter.Write(_dir.File(Mnist.TestImagesFile), [2, Cols, Rows], new byte[2 * Rows * Cols]);

        var ex = Assert.Throws<IdxFormatException>(() => Mnist.Load(_dir.Path, 1));

        Assert.Equal(8, ex.Offset);
        Assert.Contains($"expected {Rows}x{Cols} images, found {Cols}x{Rows}", ex.Message);
    }

    [Fact]
    public void Load_ImagesWithWrongRank_AreRejected()
    {
        WriteDataSet(trainCount: 6, testCount: 2, gzip: false);
        IdxWriter.Write(_dir.File(Mnist.TrainImagesFile), [6, Rows * Cols], new byte[6 * Rows * Cols]);

        var ex = Assert.Throws<IdxFormatException>(() => Mnist.Load(_dir.Path, 1));

        Assert.Equal(3, ex.Offset);
        Assert.Contains("expected 3 dimensions", ex.Message);
    }

    [Fact]
    public void Load_MissingFile_NamesBothAcceptedNames()
    {
        WriteDataSet(trainCount: 6, testCount: 2, gzip: false);
        File.Delete(_dir.File(Mnist.TestImagesFile));

        var ex = Assert.Throws<FileNotFoundException>(() => Mnist.Load(_dir.Path, 1));

        Assert.Contains(_dir.File(Mnist.TestImagesFile) + "'", ex.Message);
        Assert.Contains(_dir.File(Mnist.TestImagesFile) + ".gz'", ex.Message);
        Assert.Contains("fetch-mnist.sh", ex.Message);
    }

    [Fact]
    public void StandardLoad_RefusesNonStandardFiles()
    {
        WriteDataSet(trainCount: 12, testCount: 5, gzip: false);

        var ex = Assert.Throws<IdxFormatException>(() => Mnist.Load(_dir.Path));

        Assert.Equal(_dir.File(Mnist.TrainImagesFile), ex.FilePath);
        Assert.Equal(4, ex.Offset);
        Assert.Contains("expected 60,000 images (standard MNIST), found 12", ex.Message);
    }

    /// <summary>
    /// Loads the real MNIST from the repository's data/mnist. Without the files it is reported as skipped on a developer
    /// machine, and FAILS when the CI environment variable is set, because CI fetches the data before running the tests.
    /// </summary>
    [MnistFact]
    public void FullMnist_Loads()
    {
        string dir = Requirements.MnistDirectory;
        MnistDataset data = Mnist.Load(dir);

        Assert.Equal(50_000, data.Training.Count);
        Assert.Equal(10_000, data.Validation.Count);
        Assert.Equal(10_000, data.Test.Count);
        Assert.Equal(784, data.Training.Features);

        // Well-known first labels of the training and test files.
        Assert.Equal([5, 0, 4, 1, 9], data.Training.Labels[..5]);
        Assert.Equal([7, 2, 1, 0, 4], data.Test.Labels[..5]);

        AssertPlausibleHistogram(data.Training, 4_000, 6_000);
        AssertPlausibleHistogram(data.Validation, 800, 1_200);
        AssertPlausibleHistogram(data.Test, 800, 1_200);

        // MNIST is mostly background: the mean intensity is about 0.13, and full ink reaches 1.
        double sum = 0;
        float max = 0;
        foreach (float p in data.Training.Pixels)
        {
            Assert.InRange(p, 0f, 1f);
            sum += p;
            max = Math.Max(max, p);
        }

        Assert.InRange(sum / data.Training.Pixels.Length, 0.12, 0.14);
        Assert.Equal(1f, max);

        if (MnistFetcher.Files.All(f => File.Exists(Path.Combine(dir, f.Name))))
        {
            Assert.Equal(MnistFetchOutcome.AlreadyPresent, MnistFetcher.EnsureMnist(dir));
        }
    }

    private static void AssertPlausibleHistogram(LabeledImages set, int min, int max)
    {
        var counts = new int[Mnist.ClassCount];
        foreach (byte label in set.Labels)
        {
            counts[label]++;
        }

        Assert.All(counts, c => Assert.InRange(c, min, max));
    }

    /// <summary>
    /// Writes a tiny data set of Rows x Cols images: training item i has label i % 10 and
    /// pixel bytes i, i+1, ...; test item i has label 9 - i.
    /// </summary>
    private void WriteDataSet(int trainCount, int testCount, bool gzip)
    {
        string suffix = gzip ? ".gz" : "";
        int features = Rows * Cols;
        var trainPixels = new byte[trainCount * features];
        var trainLabels = new byte[trainCount];
        for (int i = 0; i < trainCount; i++)
        {
            trainLabels[i] = (byte)(i % 10);
            for (int p = 0; p < features; p++)
            {
                trainPixels[(i * features) + p] = (byte)(i + p);
            }
        }

        var testLabels = new byte[testCount];
        for (int i = 0; i < testCount; i++)
        {
            testLabels[i] = (byte)(9 - i);
        }

        IdxWriter.Write(_dir.File(Mnist.TrainImagesFile + suffix), [trainCount, Rows, Cols], trainPixels, gzip);
        IdxWriter.Write(_dir.File(Mnist.TrainLabelsFile + suffix), [trainCount], trainLabels, gzip);
        IdxWriter.Write(_dir.File(Mnist.TestImagesFile + suffix), [testCount, Rows, Cols], Idx.Sequence(testCount * features), gzip);
        IdxWriter.Write(_dir.File(Mnist.TestLabelsFile + suffix), [testCount], testLabels, gzip);
    }
}

public sealed class LabeledImagesTests
{
    [Fact]
    public void Slice_And_Take_Copy()
    {
        var set = new LabeledImages([1, 2, 3, 4, 5, 6], [7, 8, 9], rows: 1, cols: 2);

        LabeledImages middle = set.Slice(1, 2);
        LabeledImages first = set.Take(1);

        Assert.Equal([3f, 4f, 5f, 6f], middle.Pixels);
        Assert.Equal([8, 9], middle.Labels);
        Assert.Equal([1f, 2f], first.Pixels);
        Assert.Equal([7], first.Labels);

        middle.Pixels[0] = 99;
        middle.Labels[0] = 0;
        Assert.Equal(3f, set.Pixels[2]);
        Assert.Equal(8, set.Labels[1]);
    }

    [Fact]
    public void Image_IsAViewOfOneImage()
    {
        var set = new LabeledImages([1, 2, 3, 4, 5, 6], [7, 8, 9], rows: 2, cols: 1);
        Assert.Equal([5f, 6f], set.Image(2).ToArray());
        Assert.Throws<ArgumentOutOfRangeException>(() => set.Image(3));
    }

    [Fact]
    public void Constructor_And_Slice_Validate()
    {
        Assert.Throws<ArgumentException>(() => new LabeledImages(new float[5], new byte[3], 1, 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => new LabeledImages([], [], 0, 2));
        var set = new LabeledImages(new float[6], new byte[3], 1, 2);
        Assert.Throws<ArgumentOutOfRangeException>(() => set.Slice(2, 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => set.Slice(-1, 1));
        Assert.Equal(0, set.Slice(3, 0).Count);
    }
}
