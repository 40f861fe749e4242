using NativeNet.Data;

namespace NativeNet;

/// <summary>
/// A set of equally sized greyscale images with one class label each.
/// </summary>
/// <remarks>
/// <para><see cref="Pixels"/> holds <see cref="Count"/> images back to back, each
/// <see cref="Rows"/> x <see cref="Cols"/> in row-major order, so image i occupies
/// [i * Features, (i + 1) * Features). Values loaded from IDX bytes are byte / 255f, in [0, 1]
/// (0 = background, 1 = full ink).</para>
/// <para>The arrays are exposed for fast, allocation-free access and are not copied on
/// construction; <see cref="Slice"/> and <see cref="Take"/> return independent copies.</para>
/// </remarks>
public sealed class LabeledImages
{
    // byte -> byte / 255f, so conversion is one load per pixel and exactly the division.
    private static readonly float[] ByteToUnit = CreateByteToUnit();

    /// <summary>Wraps existing arrays (not copied).</summary>
    /// <param name="pixels">Count * rows * cols values, row-major per image.</param>
    /// <param name="labels">Count labels; its length defines <see cref="Count"/>.</param>
    /// <param name="rows">Image height in pixels.</param>
    /// <param name="cols">Image width in pixels.</param>
    public LabeledImages(float[] pixels, byte[] labels, int rows, int cols)
    {
        ArgumentNullException.ThrowIfNull(pixels);
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(rows);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(cols);
        if ((long)labels.Length * rows * cols != pixels.Length)
        {
            throw new ArgumentException($"{labels.Length} labels of {rows}x{cols} images need {(long)labels.Length * rows * cols} pixels, got {pixels.Length}.", nameof(pixels));
        }

        Pixels = pixels;
        Labels = labels;
        Rows = rows;
        Cols = cols;
    }

    /// <summary>All pixels: <see cref="Count"/> x <see cref="Rows"/> x <see cref="Cols"/>, row-major.</summary>
    public float[] Pixels { get; }

    /// <summary>One label per image, aligned with <see cref="Pixels"/>.</summary>
    public byte[] Labels { get; }

    /// <summary>Number of images.</summary>
    public int Count => Labels.Length;

    /// <summary>Image height in pixels.</summary>
    public int Rows { get; }

    /// <summary>Image width in pixels.</summary>
    public int Cols { get; }

    /// <summary>Pixels per image, the input width of a network: <see cref="Rows"/> * <see cref="Cols"/>.</summary>
    public int Features => Rows * Cols;

    /// <summary>The pixels of image <paramref name="index"/> (a view, not a copy).</summary>
    /// <param name="index">The image, 0..Count-1.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is negative or not below <see cref="Count"/>.</exception>
    public Span<float> Image(int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, Count);
        return Pixels.AsSpan(index * Features, Features);
    }

    /// <summary>A copy of images [<paramref name="start"/>, <paramref name="start"/> + <paramref name="count"/>).</summary>
    /// <param name="start">The first image copied.</param>
    /// <param name="count">Images copied.</param>
    /// <exception cref="ArgumentOutOfRangeException">The range is negative or runs past <see cref="Count"/>.</exception>
    public LabeledImages Slice(int start, int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(start);
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(count, Count - start);
        return new LabeledImages(
            Pixels.AsSpan(start * Features, count * Features).ToArray(),
            Labels.AsSpan(start, count).ToArray(),
            Rows,
            Cols);
    }

    /// <summary>A copy of the first <paramref name="count"/> images (e.g. the book's 1,000-image overfitting run).</summary>
    /// <param name="count">Images copied, at most <see cref="Count"/>.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="count"/> is negative or above <see cref="Count"/>.</exception>
    public LabeledImages Take(int count) => Slice(0, count);

    /// <summary>
    /// Builds images <paramref name="start"/>..+<paramref name="count"/> of an IDX image file
    /// (bytes, scaled by 1/255) with their labels, converting straight from the bytes so the
    /// full file is never held as floats.
    /// </summary>
    internal static LabeledImages FromBytes(ReadOnlySpan<byte> imageBytes, ReadOnlySpan<byte> labels, int start, int count, int rows, int cols)
    {
        int features = rows * cols;
        ReadOnlySpan<byte> source = imageBytes.Slice(start * features, count * features);
        var pixels = new float[source.Length];
        float[] table = ByteToUnit;
        for (int i = 0; i < source.Length; i++)
        {
            pixels[i] = table[source[i]];
        }

        return new LabeledImages(pixels, labels.Slice(start, count).ToArray(), rows, cols);
    }

    private static float[] CreateByteToUnit()
    {
        var table = new float[256];
        for (int b = 0; b < table.Length; b++)
        {
            table[b] = b / 255f;
        }

        return table;
    }
}
