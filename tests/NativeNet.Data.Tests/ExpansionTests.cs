namespace NativeNet.Data.Tests;

public sealed class ExpansionTests
{
    private const float Tolerance = 1e-5f;

    // 1 2 3 / 4 5 6 / 7 8 9
    private static readonly float[] Three = [1, 2, 3, 4, 5, 6, 7, 8, 9];

    [Theory]
    [InlineData(1, 0, new float[] { 0, 0, 0, 1, 2, 3, 4, 5, 6 })]  // down
    [InlineData(-1, 0, new float[] { 4, 5, 6, 7, 8, 9, 0, 0, 0 })] // up
    [InlineData(0, 1, new float[] { 0, 1, 2, 0, 4, 5, 0, 7, 8 })]  // right
    [InlineData(0, -1, new float[] { 2, 3, 0, 5, 6, 0, 8, 9, 0 })] // left
    [InlineData(0, 0, new float[] { 1, 2, 3, 4, 5, 6, 7, 8, 9 })]
    [InlineData(0, 3, new float[] { 0, 0, 0, 0, 0, 0, 0, 0, 0 })]
    public void Shift_MovesContentAndZeroFills(int dy, int dx, float[] expected)
    {
        var result = new float[9];
        Expansion.Shift(Three, result, 3, 3, dy, dx);
        Assert.Equal(expected, result);
    }

    [Fact]
    public void ShiftExpand_Unshuffled_FollowsTheBookOrder()
    {
        var source = new LabeledImages([.. Three, .. Three.Select(v => v * 10)], [3, 8], 3, 3);

        LabeledImages expanded = Expansion.ShiftExpand(source, shuffle: false);

        Assert.Equal(10, expanded.Count);
        Assert.Equal([3, 3, 3, 3, 3, 8, 8, 8, 8, 8], expanded.Labels);
        Assert.Equal(Three, expanded.Image(0).ToArray());
        Assert.Equal([0, 0, 0, 1, 2, 3, 4, 5, 6], expanded.Image(1).ToArray());     // down
        Assert.Equal([4, 5, 6, 7, 8, 9, 0, 0, 0], expanded.Image(2).ToArray());     // up
        Assert.Equal([0, 1, 2, 0, 4, 5, 0, 7, 8], expanded.Image(3).ToArray());     // right
        Assert.Equal([2, 3, 0, 5, 6, 0, 8, 9, 0], expanded.Image(4).ToArray());     // left
        Assert.Equal([0, 10, 20, 0, 40, 50, 0, 70, 80], expanded.Image(8).ToArray()); // second image, right
    }

    [Fact]
    public void ShiftExpand_28x28_MovesAMarkedPixelOnePlace()
    {
        var pixels = new float[784];
        pixels[(10 * 28) + 12] = 1;
        pixels[(0 * 28) + 27] = 0.5f; // on the border: shifted out by "up" and "right"
        var source = new LabeledImages(pixels, [4], 28, 28);

        LabeledImages expanded = Expansion.ShiftExpand(source, shuffle: false);

        (int Row, int Col)[] moved = [(10, 12), (11, 12), (9, 12), (10, 13), (10, 11)];
        for (int v = 0; v < 5; v++)
        {
            Span<float> image = expanded.Image(v);
            Assert.Equal(1f, image[(moved[v].Row * 28) + moved[v].Col]);
        }

        Assert.Equal(0.5f, expanded.Image(1)[(1 * 28) + 27]);     // down
        Assert.Equal(1f, expanded.Image(2).ToArray().Sum());      // up: the border pixel is gone
        Assert.Equal(1f, expanded.Image(3).ToArray().Sum());      // right: gone
        Assert.Equal(0.5f, expanded.Image(4)[(0 * 28) + 26]);     // left
    }

    [Fact]
    public void ShiftExpand_Shuffled_IsAPermutationWithLabelsAlignedAndDeterministic()
    {
        // Image i is constant i+1 in its first pixel, so every expanded image names its source.
        const int Count = 40;
        var pixels = new float[Count * 9];
        var labels = new byte[Count];
        for (int i = 0; i < Count; i++)
        {
            pixels[(i * 9) + 4] = i + 1; // the centre survives every one-pixel shift
            labels[i] = (byte)(i % 10);
        }

        var source = new LabeledImages(pixels, labels, 3, 3);
        LabeledImages unshuffled = Expansion.ShiftExpand(source, shuffle: false);
        LabeledImages a = Expansion.ShiftExpand(source, seed: 5);
        LabeledImages b = Expansion.ShiftExpand(source, seed: 5);
        LabeledImages c = Expansion.ShiftExpand(source, seed: 6);

        Assert.Equal(a.Pixels, b.Pixels);
        Assert.Equal(a.Labels, b.Labels);
        Assert.NotEqual(a.Labels, c.Labels);
        Assert.NotEqual(unshuffled.Pixels, a.Pixels);

        var seen = new HashSet<string>();
        for (int k = 0; k < a.Count; k++)
        {
            float[] image = a.Image(k).ToArray();
            int origin = (int)image.Max() - 1;
            Assert.Equal(labels[origin], a.Labels[k]);
            Assert.True(seen.Add(string.Join(',', image)), "an expanded image appears twice");
        }

        // Exactly the unshuffled images, each once.
        for (int k = 0; k < unshuffled.Count; k++)
        {
            Assert.Contains(string.Join(',', unshuffled.Image(k).ToArray()), seen);
        }
    }

    [Fact]
    public void Rotate_ByZero_IsIdentity()
    {
        float[] image = RandomImage(28, 28, seed: 1);
        var result = new float[784];
        Expansion.Rotate(image, result, 28, 28, 0);
        Assert.Equal(image, result);

        Expansion.Rotate(image, result, 28, 28, 360);
        Assert.Equal(image, result);
    }

    [Fact]
    public void Rotate_By90_TurnsCounterClockwise()
    {
        var result = new float[9];
        Expansion.Rotate(Three, result, 3, 3, 90);
        AssertClose([3, 6, 9, 2, 5, 8, 1, 4, 7], result);

        Expansion.Rotate(Three, result, 3, 3, -90);
        AssertClose([7, 4, 1, 8, 5, 2, 9, 6, 3], result);
    }

    [Fact]
    public void Rotate_By90_OnEvenSize_MapsPixelsOntoPixels()
    {
        // Centre 13.5: a counter-clockwise quarter turn sends (row r, col c) to (27 - c, r).
        float[] image = RandomImage(28, 28, seed: 2);
        var result = new float[784];
        Expansion.Rotate(image, result, 28, 28, 90);
        for (int r = 0; r < 28; r++)
        {
            for (int c = 0; c < 28; c++)
            {
                Assert.Equal(image[(r * 28) + c], result[((27 - c) * 28) + r], Tolerance);
            }
        }
    }

    [Fact]
    public void Rotate_ArbitraryAngle_KeepsACentredBlobsMass()
    {
        var image = new float[784];
        for (int r = 10; r < 18; r++)
        {
            for (int c = 12; c < 16; c++)
            {
                image[(r * 28) + c] = 1;
            }
        }

        var result = new float[784];
        Expansion.Rotate(image, result, 28, 28, 30);
        Assert.Equal(image.Sum(), result.Sum(), 1.0);
        Assert.All(result, v => Assert.InRange(v, 0f, 1f));
    }

    [Fact]
    public void Affine_ScalesAboutTheCentre_AndOutsideIsZero()
    {
        // Doubling a 3x3 image about its centre: destination offset d samples the source at
        // d / 2, so the corners read halfway between source pixels.
        var result = new float[9];
        Expansion.Affine(Three, result, 3, 3, Matrix2x2.Scale(2, 2));
        AssertClose([3, 3.5f, 4, 4.5f, 5, 5.5f, 6, 6.5f, 7], result);

        // Halving: destination offset d samples at 2d, so only the centre stays inside.
        Expansion.Affine(Three, result, 3, 3, Matrix2x2.Scale(0.5f, 0.5f));
        AssertClose([0, 0, 0, 0, 5, 0, 0, 0, 0], result);

        Assert.Throws<ArgumentException>(() => Expansion.Affine(Three, result, 3, 3, new Matrix2x2(1, 2, 2, 4)));
    }

    [Fact]
    public void Affine_Identity_IsExact_AndSpansAreChecked()
    {
        var result = new float[9];
        Expansion.Affine(Three, result, 3, 3, Matrix2x2.Identity);
        Assert.Equal(Three, result);

        Assert.Throws<ArgumentException>(() => Expansion.Affine(Three, new float[8], 3, 3, Matrix2x2.Identity));
        float[] shared = [.. Three];
        Assert.Throws<ArgumentException>(() => Expansion.Affine(shared, shared, 3, 3, Matrix2x2.Identity));
    }

    [Fact]
    public void Matrix_RotationInverseAndProduct()
    {
        Matrix2x2 r = Matrix2x2.Rotation(37);
        Matrix2x2 product = r * r.Inverse();
        Assert.Equal(1f, product.M11, Tolerance);
        Assert.Equal(0f, product.M12, Tolerance);
        Assert.Equal(0f, product.M21, Tolerance);
        Assert.Equal(1f, product.M22, Tolerance);
        Assert.Equal(new Matrix2x2(0, 1, -1, 0), Matrix2x2.Rotation(90));
        Assert.Equal(new Matrix2x2(-1, 0, 0, -1), Matrix2x2.Rotation(-180));
        Assert.Equal(1f, Matrix2x2.Rotation(123).Determinant, Tolerance);
    }

    [Fact]
    public void Elastic_WithZeroAlpha_IsIdentity()
    {
        float[] image = RandomImage(28, 28, seed: 3);
        var result = new float[784];
        Expansion.ElasticDistort(image, result, 28, 28, alpha: 0, sigma: 4, new Random(1));
        Assert.Equal(image, result);
    }

    [Fact]
    public void Elastic_IsDeterministicForASeed_AndMovesPixels()
    {
        float[] image = RandomImage(28, 28, seed: 4);
        var a = new float[784];
        var b = new float[784];
        var c = new float[784];

        Expansion.ElasticDistort(image, a, 28, 28, alpha: 34, sigma: 4, new Random(9));
        Expansion.ElasticDistort(image, b, 28, 28, alpha: 34, sigma: 4, new Random(9));
        Expansion.ElasticDistort(image, c, 28, 28, alpha: 34, sigma: 4, new Random(10));

        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
        Assert.NotEqual(image, a);
        Assert.All(a, v => Assert.InRange(v, 0f, 1f)); // bilinear sampling never leaves the source range
    }

    [Fact]
    public void Elastic_SmoothedDisplacement_IsSmall_ForLargeSigma()
    {
        // A huge sigma averages the uniform noise towards 0, so the image barely moves.
        float[] image = RandomImage(28, 28, seed: 5);
        var result = new float[784];
        Expansion.ElasticDistort(image, result, 28, 28, alpha: 1, sigma: 30, new Random(1));
        double diff = image.Zip(result, (x, y) => Math.Abs(x - y)).Average();
        Assert.True(diff < 0.1, $"mean absolute change {diff}");
    }

    [Fact]
    public void Elastic_DoesNotAllocate_ForMnistSizedImages()
    {
        float[] image = RandomImage(28, 28, seed: 6);
        var result = new float[784];
        var random = new Random(1);
        Expansion.ElasticDistort(image, result, 28, 28, 34, 4, random); // warm up

        long allocated = Allocations.Measure(() => Expansion.ElasticDistort(image, result, 28, 28, 34, 4, random));

        Assert.Equal(0, allocated);
    }

    [Fact]
    public void Elastic_LargeImages_UsePooledScratch()
    {
        float[] image = RandomImage(64, 64, seed: 7);
        var a = new float[64 * 64];
        var b = new float[64 * 64];
        Expansion.ElasticDistort(image, a, 64, 64, 10, 3, new Random(2));
        Expansion.ElasticDistort(image, b, 64, 64, 10, 3, new Random(2));
        Assert.Equal(a, b);
        Assert.Throws<ArgumentOutOfRangeException>(() => Expansion.ElasticDistort(image, a, 64, 64, 10, -1, new Random(2)));
    }

    internal static float[] RandomImage(int rows, int cols, int seed)
    {
        var random = new Random(seed);
        var image = new float[rows * cols];
        for (int i = 0; i < image.Length; i++)
        {
            image[i] = random.NextSingle();
        }

        return image;
    }

    private static void AssertClose(float[] expected, float[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.Equal(expected[i], actual[i], Tolerance);
        }
    }
}
