using NativeNet.Persistence;
using StbImageSharp;

namespace NativeNet.Cli;

/// <summary>Turns a PNG into MNIST's input convention: rows x cols grayscale, 0 = background, 1 = ink.</summary>
internal static class ImageInput
{
    /// <summary>Files larger than this are not read (a digit's PNG is a few KiB).</summary>
    public const long MaxFileBytes = 64L << 20;

    /// <summary>Images with more pixels than this (4096 x 4096) are refused from their header, before decoding.</summary>
    public const long MaxPixels = 4096L * 4096;

    public static float[] LoadPng(string path, int rows, int cols)
    {
        if (RegularFile.IsDirectory(path)) throw new FormatException($"'{path}' is a directory, not a PNG.");
        if (RegularFile.Length(path) is not long length) throw new FileNotFoundException($"Could not find the image '{path}'.", path);
        // A FIFO or a device reports 0 bytes (also behind a symbolic link): refused here rather than read.
        if (length == 0 || length > MaxFileBytes)
            throw new FormatException($"'{path}' is {length:N0} bytes (or not a regular file); expected a PNG of at most {MaxFileBytes >> 20} MiB.");
        byte[] bytes = File.ReadAllBytes(path);
        ImageResult image;
        try
        {
            var header = ImageInfo.FromStream(new MemoryStream(bytes)) ?? throw new FormatException("unknown image format");
            if (header.Width < 1 || header.Height < 1 || (long)header.Width * header.Height > MaxPixels)
                throw new FormatException($"it is {header.Width} x {header.Height} pixels; at most {MaxPixels:N0} (4096 x 4096) are decoded");
            image = ImageResult.FromMemory(bytes, ColorComponents.GreyAlpha);
        }
        catch (Exception e) when (e is not OutOfMemoryException) { throw new FormatException($"'{path}' is not a readable PNG: {e.Message}"); }
        return ToMnist(image.Data, image.Width, image.Height, rows, cols);
    }

    /// <summary>Grey+alpha pixels (transparent = background) to [0,1] ink values, inverted when the background is light, resized bilinearly.</summary>
    internal static float[] ToMnist(byte[] greyAlpha, int width, int height, int rows, int cols)
    {
        var grey = new float[width * height];
        for (int i = 0; i < grey.Length; i++)
        {
            float a = greyAlpha[2 * i + 1] / 255f;
            grey[i] = greyAlpha[2 * i] / 255f * a + (1 - a);   // transparent reads as white paper
        }
        // The border decides the background: MNIST is white ink on black, so a light border means dark ink on light paper.
        double border = 0; int n = 0;
        for (int x = 0; x < width; x++) { border += grey[x] + grey[(height - 1) * width + x]; n += 2; }
        for (int y = 0; y < height; y++) { border += grey[y * width] + grey[y * width + width - 1]; n += 2; }
        bool invert = border / n > 0.5;
        if (invert) for (int i = 0; i < grey.Length; i++) grey[i] = 1 - grey[i];
        if (width == cols && height == rows) return grey;

        var result = new float[rows * cols];
        for (int r = 0; r < rows; r++)
        {
            double sy = Math.Clamp((r + 0.5) * height / rows - 0.5, 0, height - 1);
            int y0 = (int)sy, y1 = Math.Min(y0 + 1, height - 1);
            double fy = sy - y0;
            for (int c = 0; c < cols; c++)
            {
                double sx = Math.Clamp((c + 0.5) * width / cols - 0.5, 0, width - 1);
                int x0 = (int)sx, x1 = Math.Min(x0 + 1, width - 1);
                double fx = sx - x0;
                double top = grey[y0 * width + x0] * (1 - fx) + grey[y0 * width + x1] * fx;
                double bottom = grey[y1 * width + x0] * (1 - fx) + grey[y1 * width + x1] * fx;
                result[r * cols + c] = (float)(top * (1 - fy) + bottom * fy);
            }
        }
        return result;
    }
}
