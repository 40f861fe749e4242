using NativeNet.Core.Backends;

namespace NativeNet.Cli;

/// <summary>The OpenCL backend, when this build includes it.</summary>
internal static class OpenCl
{
    public static IComputeBackend Create(string spec) =>
        throw new ArgumentException("OpenCL backend not available in this build of nativenet; use --device cpu.");
}
