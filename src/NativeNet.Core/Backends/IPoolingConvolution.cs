namespace NativeNet.Core.Backends;

/// <summary>
/// A backend whose direct convolution can max-pool 2x2 (stride 2) inside its units, for inference: the full-size maps
/// are never written, and each map's rows are pooled by the thread that computed them. Internal: the layers ask for it
/// where the backend offers it and otherwise convolve and pool in two calls, with the same values.
/// </summary>
internal interface IPoolingConvolution
{
    /// <summary>Whether <see cref="ConvolveMaxPool2"/> covers this geometry.</summary>
    bool SupportsConvolveMaxPool2(in ConvGeometry g);

    /// <summary>pooled [F, N, OH/2, OW/2] = 2x2 max pooling of weights [F, C*KH*KW] applied to input [C, N, H, W] (no bias, no activation).</summary>
    void ConvolveMaxPool2(Tensor input, Tensor weights, Tensor pooled, int filters, in ConvGeometry g);
}
