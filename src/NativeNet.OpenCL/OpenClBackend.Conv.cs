using NativeNet.Core.Backends;
using NativeNet.Core.Gemm;
using NativeNet.Core.Kernels;
using Silk.NET.OpenCL;

namespace NativeNet.OpenCL;

/// <summary>The host side of conv.cl: im2col / col2im, pooling and the layout change between convolutional and dense layers.</summary>
public sealed unsafe partial class OpenClBackend
{
    /// <inheritdoc/>
    public void Im2Col(Tensor input, Tensor cols, in ConvGeometry g)
    {
        g.Validate();
        long colsLength = (long)g.ColRows * g.ColCols;
        if (colsLength > int.MaxValue) throw new ArgumentException($"im2col of {g} has more than int.MaxValue elements.", nameof(g));
        Own(input, g.InputLength, nameof(input)); Own(cols, colsLength, nameof(cols));
        lock (_lock)
        {
            var args = new Args(this, _im2col);
            args.Add(input); args.Add(cols); AddGeometry(ref args, g);
            Launch(_im2col, colsLength);
        }
    }

    /// <inheritdoc/>
    public void Col2Im(Tensor cols, Tensor gradInput, in ConvGeometry g)
    {
        g.Validate();
        long colsLength = (long)g.ColRows * g.ColCols;
        if (colsLength > int.MaxValue) throw new ArgumentException($"col2im of {g} has more than int.MaxValue elements.", nameof(g));
        Own(cols, colsLength, nameof(cols)); Own(gradInput, g.InputLength, nameof(gradInput));
        lock (_lock)
        {
            var args = new Args(this, _col2im);
            args.Add(cols); args.Add(gradInput); AddGeometry(ref args, g);
            Launch(_col2im, g.InputLength);
        }
    }

    private static void AddGeometry(ref Args args, in ConvGeometry g)
    {
        args.Add(g.Channels); args.Add(g.Batch); args.Add(g.Height); args.Add(g.Width);
        args.Add(g.KernelHeight); args.Add(g.KernelWidth); args.Add(g.Stride); args.Add(g.Padding);
        args.Add(g.OutHeight); args.Add(g.OutWidth);
    }

    /// <inheritdoc/>
    public void PoolForward(PoolKind kind, Tensor input, Tensor output, Tensor argmax, in PoolGeometry g)
    {
        g.Validate();
        CheckEnum(kind);
        Own(input, g.InputLength, nameof(input)); Own(output, g.OutputLength, nameof(output));
        Own(argmax, kind == PoolKind.Max ? g.OutputLength : 0, nameof(argmax));
        lock (_lock)
        {
            var args = new Args(this, _poolForward);
            args.Add((int)kind); args.Add(input); args.Add(output); args.Add(argmax);
            AddGeometry(ref args, g);
            Launch(_poolForward, g.OutputLength);
        }
    }

    /// <inheritdoc/>
    public void PoolBackward(PoolKind kind, Tensor input, Tensor output, Tensor argmax, Tensor gradOutput, Tensor gradInput, in PoolGeometry g)
    {
        g.Validate();
        CheckEnum(kind);
        bool max = kind == PoolKind.Max;
        Own(input, max ? 0 : g.InputLength, nameof(input)); Own(output, max ? 0 : g.OutputLength, nameof(output));
        Own(argmax, max ? g.OutputLength : 0, nameof(argmax));
        Own(gradOutput, g.OutputLength, nameof(gradOutput)); Own(gradInput, g.InputLength, nameof(gradInput));
        lock (_lock)
        {
            var args = new Args(this, _poolBackward);
            args.Add((int)kind); args.Add(input); args.Add(output); args.Add(argmax); args.Add(gradOutput); args.Add(gradInput);
            AddGeometry(ref args, g);
            Launch(_poolBackward, g.InputLength);
        }
    }

    private static void AddGeometry(ref Args args, in PoolGeometry g)
    {
        args.Add(g.Planes); args.Add(g.Height); args.Add(g.Width); args.Add(g.Window); args.Add(g.Stride);
        args.Add(g.OutHeight); args.Add(g.OutWidth); args.Add(1f / (g.Window * g.Window)); // the CPU's reciprocal, rounded on the host
    }

    /// <inheritdoc/>
    public void ChannelMajorToBatchMajor(Tensor source, Tensor destination, int channels, int batch, int pixels, bool inverse)
    {
        if (channels < 0 || batch < 0 || pixels < 0)
            throw new ArgumentException($"ChannelMajorToBatchMajor: negative size (channels {channels}, batch {batch}, pixels {pixels}).");
        long total = (long)channels * batch * pixels;
        if (total > int.MaxValue) throw new ArgumentException("ChannelMajorToBatchMajor: more than int.MaxValue elements.");
        Own(source, total, nameof(source)); Own(destination, total, nameof(destination));
        if (total == 0) return;
        lock (_lock)
        {
            var args = new Args(this, _permute);
            args.Add(source); args.Add(destination); args.Add(channels); args.Add(batch); args.Add(pixels); args.Add(inverse ? 1 : 0);
            Launch(_permute, total);
        }
    }
}
