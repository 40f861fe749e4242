namespace NativeNet.OpenCL;

/// <summary>Which SGEMM kernel an <see cref="OpenClBackend"/> runs. Tests force each one, so both are checked on any device.</summary>
public enum OpenClGemmKernel
{
    /// <summary>Direct on CPU devices, Tiled on GPUs and accelerators.</summary>
    Auto,
    /// <summary>Local-memory tiles (64 x 64 per work-group of 16 x 16 on most devices), 4 x 4 register blocks per work-item: for GPUs.</summary>
    Tiled,
    /// <summary>No local memory or barriers; 4 x 8 register blocks read straight from global memory, caches doing the blocking: for CPU devices such as PoCL.</summary>
    Direct,
}
