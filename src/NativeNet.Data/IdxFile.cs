namespace NativeNet.Data;

/// <summary>
/// The contents of an IDX file of unsigned bytes (type 0x08).
/// </summary>
/// <param name="Dimensions">
/// Sizes from the header, outermost first; e.g. MNIST images are [count, rows, cols]
/// and labels are [count].
/// </param>
/// <param name="Data">
/// All elements in row-major order (last dimension fastest); its length is the product of
/// <paramref name="Dimensions"/>.
/// </param>
public sealed record IdxFile(int[] Dimensions, byte[] Data)
{
    /// <summary>The size of the outermost dimension: the number of items (images, labels).</summary>
    public int ItemCount => Dimensions[0];

    /// <summary>Elements per item: the product of all dimensions but the first (1 for a 1-D file).</summary>
    public int ItemSize
    {
        get
        {
            int size = 1;
            for (int i = 1; i < Dimensions.Length; i++)
            {
                size *= Dimensions[i];
            }

            return size;
        }
    }

    /// <summary>The dimensions written as "a x b x c", for messages.</summary>
    public string ShapeText => IdxReader.FormatShape(Dimensions);
}
