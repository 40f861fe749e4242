namespace NativeNet.Core.Backends;

/// <summary>
/// Shape of a 2-D convolution over a batch stored channel-major: input [Channels, Batch, Height, Width],
/// output [Filters, Batch, OutHeight, OutWidth]. Channel-major batches let one GEMM cover the whole
/// mini-batch: out[F, N*OH*OW] = W[F, C*KH*KW] x cols[C*KH*KW, N*OH*OW].
/// </summary>
/// <param name="Channels">C, the input feature maps.</param>
/// <param name="Batch">N, the images in the batch.</param>
/// <param name="Height">H, rows of each input map.</param>
/// <param name="Width">W, columns of each input map.</param>
/// <param name="KernelHeight">KH, rows of each filter.</param>
/// <param name="KernelWidth">KW, columns of each filter.</param>
/// <param name="Stride">The step between neighbouring windows, in pixels, along both axes.</param>
/// <param name="Padding">Zero pixels added on every side of each input map.</param>
public readonly record struct ConvGeometry(int Channels, int Batch, int Height, int Width, int KernelHeight, int KernelWidth, int Stride = 1, int Padding = 0)
{
    /// <summary>Rows of each output map: (Height + 2 Padding - KernelHeight) / Stride + 1.</summary>
    public int OutHeight => (Height + 2 * Padding - KernelHeight) / Stride + 1;
    /// <summary>Columns of each output map: (Width + 2 Padding - KernelWidth) / Stride + 1.</summary>
    public int OutWidth => (Width + 2 * Padding - KernelWidth) / Stride + 1;
    /// <summary>Rows of the im2col matrix: C * KH * KW.</summary>
    public int ColRows => Channels * KernelHeight * KernelWidth;
    /// <summary>Columns of the im2col matrix: N * OH * OW.</summary>
    public int ColCols => Batch * OutHeight * OutWidth;
    /// <summary>Floats in the input [C, N, H, W].</summary>
    public int InputLength => Channels * Batch * Height * Width;

    /// <summary>Checks that the shape can be convolved.</summary>
    /// <exception cref="ArgumentException">A size or the stride is below 1, the padding is negative, or the kernel is larger than the padded input.</exception>
    public void Validate()
    {
        if (Channels < 1 || Batch < 1 || Height < 1 || Width < 1 || KernelHeight < 1 || KernelWidth < 1 || Stride < 1 || Padding < 0)
            throw new ArgumentException($"Invalid convolution geometry {this}: sizes and stride must be positive, padding non-negative.");
        if (Height + 2 * Padding < KernelHeight || Width + 2 * Padding < KernelWidth)
            throw new ArgumentException($"Convolution kernel {KernelHeight}x{KernelWidth} is larger than the padded input {Height + 2 * Padding}x{Width + 2 * Padding}.");
    }
}

/// <summary>
/// Shape of 2-D pooling over Planes independent [Height x Width] planes (channels x batch), non-overlapping
/// or strided windows; a window that would run past the edge is not formed (floor division).
/// </summary>
/// <param name="Planes">The independent planes: channels x batch.</param>
/// <param name="Height">Rows of each plane.</param>
/// <param name="Width">Columns of each plane.</param>
/// <param name="Window">The side of each square window.</param>
/// <param name="Stride">The step between neighbouring windows (equal to Window for non-overlapping pooling).</param>
public readonly record struct PoolGeometry(int Planes, int Height, int Width, int Window, int Stride)
{
    /// <summary>Rows of each pooled plane: (Height - Window) / Stride + 1.</summary>
    public int OutHeight => (Height - Window) / Stride + 1;
    /// <summary>Columns of each pooled plane: (Width - Window) / Stride + 1.</summary>
    public int OutWidth => (Width - Window) / Stride + 1;
    /// <summary>Floats in the input [Planes, H, W].</summary>
    public int InputLength => Planes * Height * Width;
    /// <summary>Floats in the output [Planes, OH, OW] (and in the argmax of max pooling).</summary>
    public int OutputLength => Planes * OutHeight * OutWidth;

    /// <summary>Checks that the shape can be pooled.</summary>
    /// <exception cref="ArgumentException">A size is below 1 or the window is larger than the plane.</exception>
    public void Validate()
    {
        if (Planes < 1 || Height < 1 || Width < 1 || Window < 1 || Stride < 1 || Window > Height || Window > Width)
            throw new ArgumentException($"Invalid pooling geometry {this}: the window must fit the plane and all sizes be positive.");
    }
}
