namespace NativeNet.Data;

/// <summary>
/// Bounds that <see cref="IdxReader"/> checks against the header before allocating anything,
/// so a corrupt or hostile header cannot make the reader allocate gigabytes.
/// </summary>
public sealed record IdxLimits
{
    /// <summary>The defaults: at most 4 dimensions and 200,000,000 elements.</summary>
    public static IdxLimits Default { get; } = new();

    /// <summary>Largest accepted dimension count (the header byte at offset 3). MNIST uses 1 and 3.</summary>
    public int MaxDimensions { get; init; } = 4;

    /// <summary>
    /// Largest accepted product of the dimensions, i.e. element count = data bytes for type 0x08.
    /// The default, 200,000,000, is four times the 47,040,000 bytes of MNIST's training images.
    /// </summary>
    public long MaxTotalElements { get; init; } = 200_000_000;

    internal void Validate()
    {
        // The dimension count is a single header byte, and the data ends up in one byte[].
        if (MaxDimensions is < 1 or > byte.MaxValue)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxDimensions), MaxDimensions, "must be in 1..255");
        }

        if (MaxTotalElements < 0 || MaxTotalElements > Array.MaxLength)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxTotalElements), MaxTotalElements, $"must be in 0..{Array.MaxLength}");
        }
    }
}
