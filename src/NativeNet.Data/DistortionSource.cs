namespace NativeNet.Data;

/// <summary>
/// Parameters of the random distortions made by <see cref="DistortionSource"/>. Each image gets
/// its own random affine map (rotation, per-axis scale, horizontal shear, about the centre)
/// followed by an elastic displacement; a zero range disables that part.
/// </summary>
public sealed record DistortionOptions
{
    /// <summary>Simard et al.'s elastic setting: alpha = 34, sigma = 4, no affine part.</summary>
    public static DistortionOptions SimardElastic { get; } = new() { ElasticAlpha = 34, ElasticSigma = 4 };

    /// <summary>Rotation uniform in [-max, max] degrees.</summary>
    public float MaxRotationDegrees { get; init; }

    /// <summary>Scale of each axis uniform in [1 - max, 1 + max]; must be below 1.</summary>
    public float MaxScaleChange { get; init; }

    /// <summary>Horizontal shear factor uniform in [-max, max].</summary>
    public float MaxShear { get; init; }

    /// <summary>Elastic displacement scale in pixels; 0 disables the elastic part.</summary>
    public float ElasticAlpha { get; init; }

    /// <summary>Standard deviation, in pixels, of the gaussian that smooths the elastic field.</summary>
    public float ElasticSigma { get; init; } = 4;

    internal void Validate()
    {
        if (!(MaxScaleChange >= 0 && MaxScaleChange < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(MaxScaleChange), MaxScaleChange, "must be in [0, 1)");
        }

        if (!(MaxRotationDegrees >= 0 && float.IsFinite(MaxRotationDegrees)))
        {
            throw new ArgumentOutOfRangeException(nameof(MaxRotationDegrees), MaxRotationDegrees, "must be finite and non-negative");
        }

        if (!(MaxShear >= 0 && float.IsFinite(MaxShear)))
        {
            throw new ArgumentOutOfRangeException(nameof(MaxShear), MaxShear, "must be finite and non-negative");
        }

        Expansion.CheckElastic(ElasticAlpha, ElasticSigma);
    }
}

/// <summary>
/// Produces randomly distorted copies of a data set's images on the fly, one mini-batch at a
/// time, so an "infinite" distorted training set costs no memory beyond one batch.
/// </summary>
/// <remarks>
/// <para>One <c>new Random(seed)</c> drives everything, so a given sequence of calls is
/// reproducible; per image it draws rotation, x scale, y scale and shear (always, even when a
/// range is 0, so enabling one part does not shift the others), then the elastic fields as
/// <see cref="Expansion.ElasticDistort"/> does. Not thread-safe: use one instance per thread.</para>
/// <para>Scratch space is allocated once in the constructor; <see cref="FillBatch"/> and
/// <see cref="Distort"/> do not allocate.</para>
/// </remarks>
public sealed class DistortionSource
{
    private readonly DistortionOptions _options;
    private readonly Random _random;
    private readonly float[] _scratch;

    /// <param name="source">The images to distort; not copied.</param>
    /// <param name="options">Distortion ranges; validated here.</param>
    /// <param name="seed">Seeds the one Random behind every distortion.</param>
    public DistortionSource(LabeledImages source, DistortionOptions options, int seed)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        Source = source;
        _options = options;
        _random = new Random(seed);
        _scratch = new float[Expansion.ScratchLength(source.Rows, source.Cols, options.ElasticSigma)];
    }

    /// <summary>The undistorted images.</summary>
    public LabeledImages Source { get; }

    /// <summary>Writes a fresh random distortion of image <paramref name="index"/> into <paramref name="destination"/> (Features floats).</summary>
    /// <param name="index">The image in <see cref="Source"/>.</param>
    /// <param name="destination">Exactly Features floats, row-major.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is not an image of <see cref="Source"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is not Features floats long.</exception>
    public void Distort(int index, Span<float> destination)
    {
        ReadOnlySpan<float> image = Source.Image(index);
        Expansion.CheckImage(image, destination, Source.Rows, Source.Cols);
        Matrix2x2 forward =
            Matrix2x2.Rotation(Symmetric(_options.MaxRotationDegrees))
            * Matrix2x2.Scale(1 + Symmetric(_options.MaxScaleChange), 1 + Symmetric(_options.MaxScaleChange))
            * Matrix2x2.Shear(Symmetric(_options.MaxShear));
        Expansion.Distort(image, destination, Source.Rows, Source.Cols, forward.Inverse(), _options.ElasticAlpha, _options.ElasticSigma, _random, _scratch);
    }

    /// <summary>
    /// Fills a mini-batch with distorted copies of the images at <paramref name="indices"/>:
    /// <paramref name="pixels"/> gets indices.Length x Features floats (row-major, one image
    /// after another), <paramref name="labels"/> the matching labels.
    /// </summary>
    /// <param name="indices">Positions in <see cref="Source"/>, one per mini-batch row.</param>
    /// <param name="pixels">At least indices.Length * Features long; only that prefix is written.</param>
    /// <param name="labels">At least indices.Length long.</param>
    public void FillBatch(ReadOnlySpan<int> indices, Span<float> pixels, Span<byte> labels)
    {
        int features = Source.Features;
        MiniBatchSampler.CheckBatchSpans(Source, indices, pixels, labels);
        for (int i = 0; i < indices.Length; i++)
        {
            Distort(indices[i], pixels.Slice(i * features, features));
            labels[i] = Source.Labels[indices[i]];
        }
    }

    /// <summary>Uniform in [-max, max].</summary>
    private float Symmetric(float max) => (float)(((_random.NextDouble() * 2) - 1) * max);
}
