namespace NativeNet.Core.Backends;

/// <summary>
/// Shape of a 2-D convolution over a batch stored channel-major: input [Channels, Batch, Height, Width],
/// output [Filters, Batch, OutHeight, OutWidth]. Channel-major batches let one GEMM cover the whole
/// mini-batch: out[F, N*OH*OW] = W[F, C*KH*KW] x cols[C*KH*KW, N*OH*OW].
/// </summary>
public readonly record struct ConvGeometry(int Channels, int Batch, int Height, int Width, int KernelHeight, int KernelWidth, int Stride = 1, int Padding = 0)
{
    public int OutHeight => (Height + 2 * Padding - KernelHeight) / Stride + 1;
    public int OutWidth => (Width + 2 * Padding - KernelWidth) / Stride + 1;
    /// <summary>Rows of the im2col matrix: C * KH * KW.</summary>
    public int ColRows => Channels * KernelHeight * KernelWidth;
    /// <summary>Columns of the im2col matrix: N * OH * OW.</summary>
    public int ColCols => Batch * OutHeight * OutWidth;
    public int InputLength => Channels * Batch * Height * Width;

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
public readonly record struct PoolGeometry(int Planes, int Height, int Width, int Window, int Stride)
{
    public int OutHeight => (Height - Window) / Stride + 1;
    public int OutWidth => (Width - Window) / Stride + 1;
    public int InputLength => Planes * Height * Width;
    public int OutputLength => Planes * OutHeight * OutWidth;

    public void Validate()
    {
        if (Planes < 1 || Height < 1 || Width < 1 || Window < 1 || Stride < 1 || Window > Height || Window > Width)
            throw new ArgumentException($"Invalid pooling geometry {this}: the window must fit the plane and all sizes be positive.");
    }
}
