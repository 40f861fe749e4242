using NativeNet.Data;

namespace NativeNet.Tests;

/// <summary>A small learnable data set: 4x4 images, class 0 bright in the top half, class 1 in the bottom half, over noise.</summary>
internal static class TinyData
{
    public static LabeledImages Make(int count, int seed)
    {
        var rng = new Random(seed);
        var pixels = new float[count * 16];
        var labels = new byte[count];
        for (int i = 0; i < count; i++)
        {
            labels[i] = (byte)rng.Next(2);
            for (int p = 0; p < 16; p++) pixels[i * 16 + p] = (float)rng.NextDouble() + (p < 8 == (labels[i] == 0) ? 1 : 0);
        }
        return new LabeledImages(pixels, labels, 4, 4);
    }
}
