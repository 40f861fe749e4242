using NativeNet.Core.Backends;
using NativeNet.OpenCL;

namespace NativeNet.Cli;

/// <summary>The OpenCL side of --device: "opencl" takes the best GPU (else the first device), "opencl:N" the Nth of `nativenet devices`.</summary>
internal static class OpenCl
{
    public static IComputeBackend Create(string spec) => OpenClBackend.Create(spec);
}
