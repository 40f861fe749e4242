using System.Buffers;

namespace NativeNet.Data;

/// <summary>
/// Training-set expansion: the book's one-pixel shifts, and the affine and elastic
/// distortions of Simard, Steinkraus &amp; Platt (2003).
/// </summary>
/// <remarks>
/// <para>Images are row-major spans of rows * cols floats. Geometric transforms work on pixel
/// centres: pixel (row r, column c) sits at (x = c, y = r), the image centre at
/// ((cols - 1) / 2, (rows - 1) / 2). Each destination pixel is sampled from the source by
/// bilinear interpolation at the inversely mapped position; samples outside the image read 0.</para>
/// <para>All randomness comes from a caller-supplied seed or <see cref="Random"/>, so results
/// are reproducible. Single-image methods write into caller-provided spans and do not allocate
/// for images of up to <see cref="StackScratchFloats"/> / 3 pixels (MNIST's 784 easily).</para>
/// </remarks>
public static class Expansion
{
    /// <summary>The seed <see cref="ShiftExpand"/> uses when none is given.</summary>
    public const int DefaultSeed = 12345;

    /// <summary>Scratch floats that elastic distortion takes from the stack before renting from the pool.</summary>
    internal const int StackScratchFloats = 4096;

    /// <summary>
    /// The variants <see cref="ShiftExpand"/> makes of each image, in the order of the book's
    /// expand_mnist.py: the original, then shifted down, up, right and left by one pixel
    /// (row, column offsets of the content).
    /// </summary>
    private static readonly (int Dy, int Dx)[] ShiftVariants = [(0, 0), (1, 0), (-1, 0), (0, 1), (0, -1)];

    /// <summary>
    /// The book's expand_mnist: each image plus its four one-pixel shifts (the vacated row or
    /// column filled with 0), giving 5 x Count images with labels aligned, shuffled once.
    /// </summary>
    /// <remarks>
    /// Unshuffled, item 5i + v is variant v of image i, v in order original, down, up, right,
    /// left. The shuffle is Fisher-Yates over those 5 x Count positions with
    /// <c>new Random(seed)</c>: for k from the last index down to 1, swap k with
    /// <c>Next(k + 1)</c>. Each shifted image is written straight into its shuffled slot, so
    /// only the result is allocated (for 50,000 MNIST images: 250,000 images, 784 MB).
    /// </remarks>
    /// <param name="source">The images to expand.</param>
    /// <param name="seed">Seed of the shuffle.</param>
    /// <param name="shuffle">False keeps the unshuffled order (useful for inspection and tests).</param>
    public static LabeledImages ShiftExpand(LabeledImages source, int seed = DefaultSeed, bool shuffle = true)
    {
        ArgumentNullException.ThrowIfNull(source);
        int variants = ShiftVariants.Length;
        long total = (long)source.Count * variants;
        if (total * source.Features > Array.MaxLength)
        {
            throw new ArgumentException($"{total:N0} expanded images of {source.Features} pixels do not fit in one array.", nameof(source));
        }

        var order = new int[total];
        for (int k = 0; k < order.Length; k++)
        {
            order[k] = k;
        }

        if (shuffle)
        {
            Shuffle(order, new Random(seed));
        }

        int features = source.Features;
        var pixels = new float[total * features];
        var labels = new byte[total];
        for (int slot = 0; slot < order.Length; slot++)
        {
            int image = order[slot] / variants;
            (int dy, int dx) = ShiftVariants[order[slot] % variants];
            Shift(source.Image(image), pixels.AsSpan(slot * features, features), source.Rows, source.Cols, dy, dx);
            labels[slot] = source.Labels[image];
        }

        return new LabeledImages(pixels, labels, source.Rows, source.Cols);
    }

    /// <summary>
    /// Moves the content of <paramref name="source"/> by <paramref name="dy"/> rows (positive =
    /// down) and <paramref name="dx"/> columns (positive = right); pixels shifted in from
    /// outside are 0.
    /// </summary>
    /// <param name="source">The image, rows * cols floats, row-major.</param>
    /// <param name="destination">The result, rows * cols floats; must not overlap <paramref name="source"/>.</param>
    /// <param name="rows">Image height in pixels.</param>
    /// <param name="cols">Image width in pixels.</param>
    /// <param name="dy">Rows to move the content down (negative: up).</param>
    /// <param name="dx">Columns to move the content right (negative: left).</param>
    /// <exception cref="ArgumentException">A span's length is not rows * cols, or the spans overlap.</exception>
    public static void Shift(ReadOnlySpan<float> source, Span<float> destination, int rows, int cols, int dy, int dx)
    {
        CheckImage(source, destination, rows, cols);
        int width = cols - Math.Abs(dx);
        for (int r = 0; r < rows; r++)
        {
            Span<float> dstRow = destination.Slice(r * cols, cols);
            int sr = r - dy;
            if (sr < 0 || sr >= rows || width <= 0)
            {
                dstRow.Clear();
                continue;
            }

            // Content moves right by dx: destination column c reads source column c - dx.
            int dstStart = Math.Max(dx, 0);
            int srcStart = Math.Max(-dx, 0);
            dstRow[..dstStart].Clear();
            source.Slice((sr * cols) + srcStart, width).CopyTo(dstRow.Slice(dstStart, width));
            dstRow[(dstStart + width)..].Clear();
        }
    }

    /// <summary>
    /// Rotates the image about its centre by <paramref name="degrees"/>, counter-clockwise as
    /// seen on screen; see <see cref="Matrix2x2.Rotation"/>.
    /// </summary>
    /// <param name="source">The image, rows * cols floats, row-major.</param>
    /// <param name="destination">The result, rows * cols floats; must not overlap <paramref name="source"/>.</param>
    /// <param name="rows">Image height in pixels.</param>
    /// <param name="cols">Image width in pixels.</param>
    /// <param name="degrees">The angle; multiples of 90 move pixels exactly.</param>
    /// <exception cref="ArgumentException">A span's length is not rows * cols, or the spans overlap.</exception>
    public static void Rotate(ReadOnlySpan<float> source, Span<float> destination, int rows, int cols, double degrees) =>
        Affine(source, destination, rows, cols, Matrix2x2.Rotation(degrees));

    /// <summary>
    /// Applies the linear map <paramref name="transform"/> about the image centre:
    /// source offset p lands at destination offset <paramref name="transform"/> * p.
    /// </summary>
    /// <param name="source">The image, rows * cols floats, row-major.</param>
    /// <param name="destination">The result, rows * cols floats; must not overlap <paramref name="source"/>.</param>
    /// <param name="rows">Image height in pixels.</param>
    /// <param name="cols">Image width in pixels.</param>
    /// <param name="transform">The forward map from source to destination offsets.</param>
    /// <exception cref="ArgumentException">The matrix is singular, a span's length is not rows * cols, or the spans overlap.</exception>
    public static void Affine(ReadOnlySpan<float> source, Span<float> destination, int rows, int cols, Matrix2x2 transform)
    {
        CheckImage(source, destination, rows, cols);
        Resample(source, destination, rows, cols, transform.Inverse(), alpha: 0, default, default);
    }

    /// <summary>
    /// Elastic distortion (Simard et al. 2003): displacement fields dx, dy with values drawn
    /// uniformly from [-1, 1], each smoothed by a gaussian of standard deviation
    /// <paramref name="sigma"/> pixels, scaled by <paramref name="alpha"/>; destination pixel
    /// (x, y) samples the source at (x + dx, y + dy). Simard used sigma = 4, alpha = 34.
    /// </summary>
    /// <remarks>
    /// Draws rows*cols values for dx, then rows*cols for dy, from <paramref name="random"/>
    /// (as <c>NextDouble() * 2 - 1</c>), so a seeded Random gives a reproducible distortion.
    /// The smoothing treats the field as 0 outside the image and uses a kernel of radius
    /// ceil(3 sigma); sigma = 0 leaves the field unsmoothed. alpha = 0 returns the image unchanged.
    /// </remarks>
    /// <param name="source">The image, rows * cols floats, row-major.</param>
    /// <param name="destination">The result, rows * cols floats; must not overlap <paramref name="source"/>.</param>
    /// <param name="rows">Image height in pixels.</param>
    /// <param name="cols">Image width in pixels.</param>
    /// <param name="alpha">Scale of the smoothed displacement, in pixels.</param>
    /// <param name="sigma">Standard deviation of the smoothing gaussian, in pixels.</param>
    /// <param name="random">The source of the displacement fields.</param>
    public static void ElasticDistort(ReadOnlySpan<float> source, Span<float> destination, int rows, int cols, float alpha, float sigma, Random random)
    {
        CheckImage(source, destination, rows, cols);
        ArgumentNullException.ThrowIfNull(random);
        CheckElastic(alpha, sigma);

        int needed = ScratchLength(rows, cols, sigma);
        float[]? rented = null;
        Span<float> scratch = needed <= StackScratchFloats
            ? stackalloc float[StackScratchFloats]
            : (rented = ArrayPool<float>.Shared.Rent(needed));
        try
        {
            Distort(source, destination, rows, cols, Matrix2x2.Identity, alpha, sigma, random, scratch);
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<float>.Shared.Return(rented);
            }
        }
    }

    /// <summary>Fisher-Yates: for k from the last index down to 1, swap k with random.Next(k + 1).</summary>
    internal static void Shuffle(Span<int> items, Random random)
    {
        for (int k = items.Length - 1; k > 0; k--)
        {
            int j = random.Next(k + 1);
            (items[k], items[j]) = (items[j], items[k]);
        }
    }

    /// <summary>Floats of scratch that <see cref="Distort"/> needs: two fields, one temporary and the kernel.</summary>
    internal static int ScratchLength(int rows, int cols, float sigma) => (3 * rows * cols) + (2 * KernelRadius(sigma)) + 1;

    internal static void CheckElastic(float alpha, float sigma)
    {
        if (!float.IsFinite(alpha))
        {
            throw new ArgumentOutOfRangeException(nameof(alpha), alpha, "must be finite");
        }

        // Radii above 1000 pixels only blur the field to nothing, and would overflow the scratch size.
        if (!(sigma >= 0 && sigma <= 300))
        {
            throw new ArgumentOutOfRangeException(nameof(sigma), sigma, "must be in 0..300");
        }
    }

    /// <summary>
    /// The shared core of elastic and random affine distortion: draws and smooths elastic
    /// fields from <paramref name="random"/>, then samples the source once at
    /// inverse * offset + alpha * field, so the two distortions cost one interpolation.
    /// </summary>
    internal static void Distort(
        ReadOnlySpan<float> source, Span<float> destination, int rows, int cols,
        Matrix2x2 inverse, float alpha, float sigma, Random random, Span<float> scratch)
    {
        int n = rows * cols;
        int radius = KernelRadius(sigma);
        Span<float> dx = scratch[..n];
        Span<float> dy = scratch.Slice(n, n);
        Span<float> temp = scratch.Slice(2 * n, n);
        Span<float> kernel = scratch.Slice(3 * n, (2 * radius) + 1);

        FillUniform(dx, random);
        FillUniform(dy, random);
        GaussianKernel(kernel, sigma);
        SmoothSeparable(dx, temp, rows, cols, kernel);
        SmoothSeparable(dy, temp, rows, cols, kernel);
        Resample(source, destination, rows, cols, inverse, alpha, dx, dy);
    }

    internal static void CheckImage(ReadOnlySpan<float> source, Span<float> destination, int rows, int cols)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(rows);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(cols);
        long n = (long)rows * cols;
        if (source.Length != n || destination.Length != n)
        {
            throw new ArgumentException($"A {rows}x{cols} image needs spans of {n} floats; source has {source.Length}, destination {destination.Length}.");
        }

        if (source.Overlaps(destination))
        {
            throw new ArgumentException("Source and destination must not overlap: every destination pixel reads several source pixels.");
        }
    }

    /// <summary>
    /// destination(x, y) = bilinear sample of source at inverse * ((x, y) - centre) + centre
    /// + alpha * (fieldX, fieldY)(x, y); fields are skipped when empty.
    /// </summary>
    private static void Resample(
        ReadOnlySpan<float> source, Span<float> destination, int rows, int cols,
        Matrix2x2 inverse, float alpha, ReadOnlySpan<float> fieldX, ReadOnlySpan<float> fieldY)
    {
        float cx = (cols - 1) * 0.5f;
        float cy = (rows - 1) * 0.5f;
        bool displaced = !fieldX.IsEmpty;
        for (int y = 0; y < rows; y++)
        {
            float oy = y - cy;
            for (int x = 0; x < cols; x++)
            {
                float ox = x - cx;
                float sx = (inverse.M11 * ox) + (inverse.M12 * oy) + cx;
                float sy = (inverse.M21 * ox) + (inverse.M22 * oy) + cy;
                int i = (y * cols) + x;
                if (displaced)
                {
                    sx += alpha * fieldX[i];
                    sy += alpha * fieldY[i];
                }

                destination[i] = Bilinear(source, rows, cols, sx, sy);
            }
        }
    }

    /// <summary>Bilinear interpolation at (x, y); neighbours outside the image count as 0.</summary>
    private static float Bilinear(ReadOnlySpan<float> image, int rows, int cols, float x, float y)
    {
        // Positions a full pixel or more outside have no neighbour inside.
        if (!(x > -1 && x < cols && y > -1 && y < rows))
        {
            return 0;
        }

        int x0 = (int)MathF.Floor(x);
        int y0 = (int)MathF.Floor(y);
        float fx = x - x0;
        float fy = y - y0;
        float top = ((1 - fx) * Pixel(image, rows, cols, y0, x0)) + (fx * Pixel(image, rows, cols, y0, x0 + 1));
        float bottom = ((1 - fx) * Pixel(image, rows, cols, y0 + 1, x0)) + (fx * Pixel(image, rows, cols, y0 + 1, x0 + 1));
        return ((1 - fy) * top) + (fy * bottom);
    }

    private static float Pixel(ReadOnlySpan<float> image, int rows, int cols, int r, int c) =>
        (uint)r < (uint)rows && (uint)c < (uint)cols ? image[(r * cols) + c] : 0;

    private static void FillUniform(Span<float> field, Random random)
    {
        for (int i = 0; i < field.Length; i++)
        {
            field[i] = (float)((random.NextDouble() * 2) - 1);
        }
    }

    private static int KernelRadius(float sigma) => (int)MathF.Ceiling(3 * sigma);

    /// <summary>Normalised gaussian weights exp(-k^2 / (2 sigma^2)) for k = -radius..radius; sigma 0 gives [1].</summary>
    private static void GaussianKernel(Span<float> kernel, float sigma)
    {
        int radius = kernel.Length / 2;
        if (radius == 0)
        {
            kernel[0] = 1;
            return;
        }

        float sum = 0;
        for (int k = -radius; k <= radius; k++)
        {
            float w = MathF.Exp(-(k * k) / (2 * sigma * sigma));
            kernel[k + radius] = w;
            sum += w;
        }

        for (int i = 0; i < kernel.Length; i++)
        {
            kernel[i] /= sum;
        }
    }

    /// <summary>Convolves <paramref name="field"/> in place with the kernel along rows, then columns; outside counts as 0.</summary>
    private static void SmoothSeparable(Span<float> field, Span<float> temp, int rows, int cols, ReadOnlySpan<float> kernel)
    {
        if (kernel.Length == 1)
        {
            return;
        }

        int radius = kernel.Length / 2;
        for (int y = 0; y < rows; y++)
        {
            for (int x = 0; x < cols; x++)
            {
                float acc = 0;
                for (int k = Math.Max(-radius, -x); k <= Math.Min(radius, cols - 1 - x); k++)
                {
                    acc += kernel[k + radius] * field[(y * cols) + x + k];
                }

                temp[(y * cols) + x] = acc;
            }
        }

        for (int y = 0; y < rows; y++)
        {
            for (int x = 0; x < cols; x++)
            {
                float acc = 0;
                for (int k = Math.Max(-radius, -y); k <= Math.Min(radius, rows - 1 - y); k++)
                {
                    acc += kernel[k + radius] * temp[((y + k) * cols) + x];
                }

                field[(y * cols) + x] = acc;
            }
        }
    }
}
