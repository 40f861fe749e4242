namespace NativeNet.Data.Tests;

public sealed class MiniBatchSamplerTests
{
    [Fact]
    public void SameSeed_GivesTheSameEpochs_AndEachEpochIsAPermutation()
    {
        var a = new MiniBatchSampler(100, 10, seed: 3);
        var b = new MiniBatchSampler(100, 10, seed: 3);
        var previous = Enumerable.Range(0, 100).ToArray();
        for (int epoch = 1; epoch <= 3; epoch++)
        {
            a.NextEpoch();
            b.NextEpoch();
            Assert.Equal(epoch, a.Epoch);
            Assert.Equal(a.Order.ToArray(), b.Order.ToArray());
            Assert.Equal(Enumerable.Range(0, 100), a.Order.ToArray().Order());
            Assert.NotEqual(previous, a.Order.ToArray());
            previous = a.Order.ToArray();
        }

        var c = new MiniBatchSampler(100, 10, seed: 4);
        c.NextEpoch();
        var first = new MiniBatchSampler(100, 10, seed: 3);
        first.NextEpoch();
        Assert.NotEqual(first.Order.ToArray(), c.Order.ToArray());
    }

    [Fact]
    public void NoShuffle_KeepsNaturalOrder_AsInChapterSix()
    {
        var sampler = new MiniBatchSampler(25, 10, seed: 1, shuffle: false, dropIncomplete: true);
        sampler.NextEpoch();
        sampler.NextEpoch();
        Assert.Equal(2, sampler.BatchCount);
        Assert.Equal(Enumerable.Range(10, 10), sampler.Batch(1).ToArray());
        Assert.Throws<ArgumentOutOfRangeException>(() => sampler.Batch(2));
    }

    [Fact]
    public void Batches_CoverTheOrder_WithASmallerLastBatch()
    {
        var sampler = new MiniBatchSampler(25, 10, seed: 1);
        sampler.NextEpoch();
        Assert.Equal(3, sampler.BatchCount);
        Assert.Equal(5, sampler.Batch(2).Length);
        int[] all = [.. sampler.Batch(0), .. sampler.Batch(1), .. sampler.Batch(2)];
        Assert.Equal(sampler.Order.ToArray(), all);
    }

    [Fact]
    public void NextEpoch_And_FillBatch_DoNotAllocate()
    {
        var source = new LabeledImages(ExpansionTests.RandomImage(50 * 4, 4, seed: 1), new byte[50], 4, 4);
        var sampler = new MiniBatchSampler(50, 8, seed: 2);
        var pixels = new float[8 * 16];
        var labels = new byte[8];
        sampler.NextEpoch(); // warm up
        MiniBatchSampler.FillBatch(source, sampler.Batch(0), pixels, labels);

        long allocated = Allocations.Measure(() =>
        {
            for (int epoch = 0; epoch < 10; epoch++)
            {
                sampler.NextEpoch();
                for (int b = 0; b < sampler.BatchCount; b++)
                {
                    MiniBatchSampler.FillBatch(source, sampler.Batch(b), pixels, labels);
                }
            }
        });

        Assert.Equal(0, allocated);
    }

    [Fact]
    public void FillBatch_CopiesTheIndexedImagesAndLabels()
    {
        var source = new LabeledImages([0, 1, 10, 11, 20, 21, 30, 31], [5, 6, 7, 8], 1, 2);
        var pixels = new float[6];
        var labels = new byte[3];

        MiniBatchSampler.FillBatch(source, [3, 0, 2], pixels, labels);

        Assert.Equal([30f, 31f, 0f, 1f, 20f, 21f], pixels);
        Assert.Equal([8, 5, 7], labels);
        Assert.Throws<ArgumentOutOfRangeException>(() => MiniBatchSampler.FillBatch(source, [4], pixels, labels));
        Assert.Throws<ArgumentException>(() => MiniBatchSampler.FillBatch(source, [0, 1, 2, 3], pixels, labels));
    }
}

public sealed class DistortionSourceTests
{
    private static LabeledImages Images(int count) =>
        new(ExpansionTests.RandomImage(count * 28, 28, seed: 11), [.. Enumerable.Range(0, count).Select(i => (byte)(i % 10))], 28, 28);

    [Fact]
    public void NoDistortion_IsIdentity()
    {
        LabeledImages images = Images(3);
        var source = new DistortionSource(images, new DistortionOptions { ElasticAlpha = 0 }, seed: 1);
        var pixels = new float[2 * 784];
        var labels = new byte[2];

        source.FillBatch([2, 0], pixels, labels);

        Assert.Equal(images.Image(2).ToArray(), pixels[..784]);
        Assert.Equal(images.Image(0).ToArray(), pixels[784..]);
        Assert.Equal([2, 0], labels);
    }

    [Fact]
    public void SameSeed_SameDistortions_AndNoAllocationPerBatch()
    {
        LabeledImages images = Images(4);
        var options = DistortionOptions.SimardElastic with { MaxRotationDegrees = 10, MaxScaleChange = 0.1f, MaxShear = 0.2f };
        var a = new DistortionSource(images, options, seed: 5);
        var b = new DistortionSource(images, options, seed: 5);
        var pa = new float[4 * 784];
        var pb = new float[4 * 784];
        var labels = new byte[4];
        int[] batch = [3, 1, 0, 2];

        a.FillBatch(batch, pa, labels);
        b.FillBatch(batch, pb, labels);
        Assert.Equal(pa, pb);
        Assert.Equal([3, 1, 0, 2], labels);
        Assert.NotEqual(images.Image(3).ToArray(), pa[..784]);

        long allocated = Allocations.Measure(() => a.FillBatch(batch, pa, labels));
        Assert.Equal(0, allocated);
        Assert.NotEqual(pb, pa); // a fresh distortion each time
    }

    [Fact]
    public void Options_AreValidated()
    {
        LabeledImages images = Images(1);
        Assert.Throws<ArgumentOutOfRangeException>(() => new DistortionSource(images, new DistortionOptions { MaxScaleChange = 1 }, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new DistortionSource(images, new DistortionOptions { ElasticSigma = float.NaN }, 1));
    }
}
