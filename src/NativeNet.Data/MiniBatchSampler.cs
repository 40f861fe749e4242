namespace NativeNet.Data;

/// <summary>
/// Splits Count examples into mini-batches of indices, epoch after epoch, optionally
/// reshuffling each epoch, without allocating after construction.
/// </summary>
/// <remarks>
/// <para>Shuffling follows the book's network.py / network2.py, which shuffle the training
/// list in place before every epoch: <see cref="NextEpoch"/> applies Fisher-Yates (for k from
/// the last index down to 1, swap k with Next(k + 1) of one <c>new Random(seed)</c>) to the
/// current order, so the same seed always yields the same sequence of epochs. With
/// <c>shuffle: false</c> the order stays 0..Count-1, as in network3.py (chapter 6).</para>
/// <para>A last, smaller batch is included unless <c>dropIncomplete</c> is set: network.py keeps
/// it, network3.py uses only Count / batchSize full batches.</para>
/// </remarks>
public sealed class MiniBatchSampler
{
    private readonly int[] _order;
    private readonly Random _random;

    /// <param name="count">Number of examples; indices run over 0..count-1.</param>
    /// <param name="batchSize">Examples per mini-batch (the book's m, usually 10).</param>
    /// <param name="seed">Seeds the shuffle.</param>
    /// <param name="shuffle">Reshuffle at every <see cref="NextEpoch"/>; false keeps the natural order.</param>
    /// <param name="dropIncomplete">Leave out a final batch smaller than <paramref name="batchSize"/>.</param>
    public MiniBatchSampler(int count, int batchSize, int seed, bool shuffle = true, bool dropIncomplete = false)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batchSize);
        Count = count;
        BatchSize = batchSize;
        Shuffles = shuffle;
        BatchCount = dropIncomplete ? count / batchSize : (count + batchSize - 1) / batchSize;
        _random = new Random(seed);
        _order = new int[count];
        for (int i = 0; i < count; i++)
        {
            _order[i] = i;
        }
    }

    /// <summary>Number of examples.</summary>
    public int Count { get; }

    /// <summary>Examples per full batch.</summary>
    public int BatchSize { get; }

    /// <summary>Whether <see cref="NextEpoch"/> reshuffles.</summary>
    public bool Shuffles { get; }

    /// <summary>Batches per epoch.</summary>
    public int BatchCount { get; }

    /// <summary>Epochs started so far by <see cref="NextEpoch"/> (0 before the first).</summary>
    public int Epoch { get; private set; }

    /// <summary>The current epoch's order of all Count indices.</summary>
    public ReadOnlySpan<int> Order => _order;

    /// <summary>Starts the next epoch: reshuffles the order in place when shuffling. Call before each epoch, the first included.</summary>
    public void NextEpoch()
    {
        if (Shuffles)
        {
            Expansion.Shuffle(_order, _random);
        }

        Epoch++;
    }

    /// <summary>The indices of batch <paramref name="batch"/> (0..BatchCount-1) in the current epoch; a view, valid until the next <see cref="NextEpoch"/>.</summary>
    /// <param name="batch">The batch, 0..BatchCount-1; the last may be smaller than <see cref="BatchSize"/>.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batch"/> is negative or not below <see cref="BatchCount"/>.</exception>
    public ReadOnlySpan<int> Batch(int batch)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(batch);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(batch, BatchCount);
        int start = batch * BatchSize;
        return _order.AsSpan(start, Math.Min(BatchSize, Count - start));
    }

    /// <summary>
    /// Copies the images and labels at <paramref name="indices"/> into a mini-batch:
    /// <paramref name="pixels"/> receives indices.Length x Features floats (one image after
    /// another, row-major), <paramref name="labels"/> the labels. Does not allocate.
    /// </summary>
    /// <param name="source">The images and labels to copy from.</param>
    /// <param name="indices">Positions in <paramref name="source"/>, one per mini-batch row.</param>
    /// <param name="pixels">At least indices.Length * Features long; only that prefix is written.</param>
    /// <param name="labels">At least indices.Length long.</param>
    public static void FillBatch(LabeledImages source, ReadOnlySpan<int> indices, Span<float> pixels, Span<byte> labels)
    {
        CheckBatchSpans(source, indices, pixels, labels);
        int features = source.Features;
        ReadOnlySpan<float> all = source.Pixels;
        for (int i = 0; i < indices.Length; i++)
        {
            all.Slice(indices[i] * features, features).CopyTo(pixels.Slice(i * features, features));
            labels[i] = source.Labels[indices[i]];
        }
    }

    /// <summary>Validates a batch request up front so that no partial batch is written.</summary>
    internal static void CheckBatchSpans(LabeledImages source, ReadOnlySpan<int> indices, Span<float> pixels, Span<byte> labels)
    {
        ArgumentNullException.ThrowIfNull(source);
        if ((long)indices.Length * source.Features > pixels.Length || indices.Length > labels.Length)
        {
            throw new ArgumentException(
                $"A batch of {indices.Length} needs {(long)indices.Length * source.Features} pixel floats and {indices.Length} labels; got {pixels.Length} and {labels.Length}.");
        }

        foreach (int index in indices)
        {
            if ((uint)index >= (uint)source.Count)
            {
                // Formatting only on the failure path keeps the success path allocation-free.
                throw new ArgumentOutOfRangeException(nameof(indices), index, $"index outside 0..{source.Count - 1}");
            }
        }
    }
}
