using System.Numerics.Tensors;

namespace NativeNet.Core.Kernels;

/// <summary>im2col / col2im, pooling and the layout change between convolutional and fully connected layers.</summary>
public static class ConvKernels
{
    /// <summary>
    /// Unfolds input [C, N, H, W] into cols [C*KH*KW, N*OH*OW]: row (c, kh, kw), column (n, oh, ow) holds
    /// input[c, n, oh*stride - pad + kh, ow*stride - pad + kw], or 0 outside the image.
    /// </summary>
    public static void Im2Col(ReadOnlySpan<float> input, Span<float> cols, in ConvGeometry g)
    {
        g.Validate();
        CheckLength(input.Length, g.InputLength, "input");
        CheckLength(cols.Length, (long)g.ColRows * g.ColCols, "cols");
        int oh = g.OutHeight, ow = g.OutWidth, plane = g.Height * g.Width;
        int q = g.ColCols;
        for (int c = 0; c < g.Channels; c++)
            for (int kh = 0; kh < g.KernelHeight; kh++)
                for (int kw = 0; kw < g.KernelWidth; kw++)
                {
                    var row = cols.Slice(((c * g.KernelHeight + kh) * g.KernelWidth + kw) * q, q);
                    int col = 0;
                    for (int n = 0; n < g.Batch; n++)
                    {
                        var img = input.Slice((c * g.Batch + n) * plane, plane);
                        for (int y = 0; y < oh; y++)
                        {
                            int iy = y * g.Stride - g.Padding + kh;
                            var dst = row.Slice(col, ow);
                            col += ow;
                            if ((uint)iy >= (uint)g.Height) { dst.Clear(); continue; }
                            var src = img.Slice(iy * g.Width, g.Width);
                            if (g.Stride == 1 && g.Padding == 0)
                            {
                                src.Slice(kw, ow).CopyTo(dst);
                                continue;
                            }
                            for (int x = 0; x < ow; x++)
                            {
                                int ix = x * g.Stride - g.Padding + kw;
                                dst[x] = (uint)ix < (uint)g.Width ? src[ix] : 0f;
                            }
                        }
                    }
                }
    }

    /// <summary>The adjoint of <see cref="Im2Col"/>: gradInput [C, N, H, W] = sum of cols entries onto the pixels they came from (overwrites).</summary>
    public static void Col2Im(ReadOnlySpan<float> cols, Span<float> gradInput, in ConvGeometry g)
    {
        g.Validate();
        CheckLength(gradInput.Length, g.InputLength, "gradInput");
        CheckLength(cols.Length, (long)g.ColRows * g.ColCols, "cols");
        gradInput[..g.InputLength].Clear();
        int oh = g.OutHeight, ow = g.OutWidth, plane = g.Height * g.Width;
        int q = g.ColCols;
        for (int c = 0; c < g.Channels; c++)
            for (int kh = 0; kh < g.KernelHeight; kh++)
                for (int kw = 0; kw < g.KernelWidth; kw++)
                {
                    var row = cols.Slice(((c * g.KernelHeight + kh) * g.KernelWidth + kw) * q, q);
                    int col = 0;
                    for (int n = 0; n < g.Batch; n++)
                    {
                        var img = gradInput.Slice((c * g.Batch + n) * plane, plane);
                        for (int y = 0; y < oh; y++)
                        {
                            int iy = y * g.Stride - g.Padding + kh;
                            var src = row.Slice(col, ow);
                            col += ow;
                            if ((uint)iy >= (uint)g.Height) continue;
                            var dst = img.Slice(iy * g.Width, g.Width);
                            if (g.Stride == 1 && g.Padding == 0)
                            {
                                TensorPrimitives.Add(dst.Slice(kw, ow), src, dst.Slice(kw, ow));
                                continue;
                            }
                            for (int x = 0; x < ow; x++)
                            {
                                int ix = x * g.Stride - g.Padding + kw;
                                if ((uint)ix < (uint)g.Width) dst[ix] += src[x];
                            }
                        }
                    }
                }
    }

    /// <summary>
    /// Pools each window of input [Planes, H, W] into output [Planes, OH, OW]. For max pooling
    /// <paramref name="argmax"/> receives the in-plane index of each window's maximum (first on ties),
    /// stored as a float (exact below 2^24); other kinds leave it untouched.
    /// </summary>
    public static void PoolForward(PoolKind kind, ReadOnlySpan<float> input, Span<float> output, Span<float> argmax, in PoolGeometry g)
    {
        g.Validate();
        CheckLength(input.Length, g.InputLength, "input");
        CheckLength(output.Length, g.OutputLength, "output");
        if (kind == PoolKind.Max) CheckLength(argmax.Length, g.OutputLength, "argmax");
        int oh = g.OutHeight, ow = g.OutWidth, plane = g.Height * g.Width, w = g.Window;
        float inv = 1f / (w * w);
        for (int p = 0; p < g.Planes; p++)
        {
            var src = input.Slice(p * plane, plane);
            int o = p * oh * ow;
            for (int y = 0; y < oh; y++)
                for (int x = 0; x < ow; x++, o++)
                {
                    int y0 = y * g.Stride, x0 = x * g.Stride;
                    float best = float.NegativeInfinity, sum = 0f;
                    int bestAt = y0 * g.Width + x0;
                    for (int dy = 0; dy < w; dy++)
                        for (int dx = 0; dx < w; dx++)
                        {
                            int at = (y0 + dy) * g.Width + x0 + dx;
                            float v = src[at];
                            if (v > best) { best = v; bestAt = at; }
                            sum += kind == PoolKind.L2 ? v * v : v;
                        }
                    switch (kind)
                    {
                        case PoolKind.Max: output[o] = best; argmax[o] = bestAt; break;
                        case PoolKind.Average: output[o] = sum * inv; break;
                        default: output[o] = MathF.Sqrt(sum); break;
                    }
                }
        }
    }

    /// <summary>
    /// gradInput [Planes, H, W] from gradOutput [Planes, OH, OW] (overwrites). Max routes each gradient to its
    /// argmax; average spreads it evenly; L2 scales by x / out (0 where out is 0). Overlapping windows accumulate.
    /// </summary>
    public static void PoolBackward(PoolKind kind, ReadOnlySpan<float> input, ReadOnlySpan<float> output, ReadOnlySpan<float> argmax,
        ReadOnlySpan<float> gradOutput, Span<float> gradInput, in PoolGeometry g)
    {
        g.Validate();
        CheckLength(gradOutput.Length, g.OutputLength, "gradOutput");
        CheckLength(gradInput.Length, g.InputLength, "gradInput");
        if (kind == PoolKind.Max) CheckLength(argmax.Length, g.OutputLength, "argmax");
        else { CheckLength(input.Length, g.InputLength, "input"); CheckLength(output.Length, g.OutputLength, "output"); }
        gradInput[..g.InputLength].Clear();
        int oh = g.OutHeight, ow = g.OutWidth, plane = g.Height * g.Width, w = g.Window;
        float inv = 1f / (w * w);
        for (int p = 0; p < g.Planes; p++)
        {
            var dst = gradInput.Slice(p * plane, plane);
            int o = p * oh * ow;
            for (int y = 0; y < oh; y++)
                for (int x = 0; x < ow; x++, o++)
                {
                    float go = gradOutput[o];
                    if (kind == PoolKind.Max)
                    {
                        int at = (int)argmax[o];
                        if ((uint)at >= (uint)plane) throw new ArgumentException($"argmax[{o}] = {argmax[o]} is outside the {g.Height}x{g.Width} plane.", nameof(argmax));
                        dst[at] += go;
                        continue;
                    }
                    float outv = output[o];
                    for (int dy = 0; dy < w; dy++)
                        for (int dx = 0; dx < w; dx++)
                        {
                            int at = (y * g.Stride + dy) * g.Width + x * g.Stride + dx;
                            dst[at] += kind == PoolKind.Average ? go * inv : (outv > 0f ? go * input[p * plane + at] / outv : 0f);
                        }
                }
        }
    }

    /// <summary>
    /// Layout change from the convolutional [C, N, P] (P pixels per map) to the fully connected [N, C*P]:
    /// dst[n, c*P + p] = src[c, n, p]. With <paramref name="inverse"/> it goes back.
    /// </summary>
    public static void ChannelMajorToBatchMajor(ReadOnlySpan<float> src, Span<float> dst, int channels, int batch, int pixels, bool inverse = false)
    {
        long total = (long)channels * batch * pixels;
        CheckLength(src.Length, total, "src");
        CheckLength(dst.Length, total, "dst");
        for (int c = 0; c < channels; c++)
            for (int n = 0; n < batch; n++)
            {
                int cm = (c * batch + n) * pixels, bm = (n * channels + c) * pixels;
                if (inverse) src.Slice(bm, pixels).CopyTo(dst.Slice(cm, pixels));
                else src.Slice(cm, pixels).CopyTo(dst.Slice(bm, pixels));
            }
    }

    private static void CheckLength(int actual, long needed, string name)
    {
        if (actual < needed) throw new ArgumentException($"{name} has {actual} elements but the geometry needs {needed}.", name);
    }
}
