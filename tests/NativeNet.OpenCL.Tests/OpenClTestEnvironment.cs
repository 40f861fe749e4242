using NativeNet.Core.Backends;

namespace NativeNet.OpenCL.Tests;

/// <summary>
/// Decides once per test run whether OpenCL tests run, skip or fail, and holds the backends they share.
/// No platform: the tests skip with the reason, unless CI is set (non-empty, not "false"/"0") or
/// NATIVENET_REQUIRE_OPENCL=1, in which case they run and fail with a clear error.
/// NATIVENET_OPENCL_DEVICE picks the device spec (default "opencl").
/// </summary>
internal static class OpenClTestEnvironment
{
    public const string RequiredMessage = "OpenCL required but no platform: install pocl-opencl-icd (apt-get install -y pocl-opencl-icd ocl-icd-libopencl1)";

    private static readonly Lazy<(bool Found, string? Reason)> s_probe = new(() =>
        OpenClDevices.TryList(out _, out string? reason) ? (true, null) : (false, reason));

    private static readonly Lazy<OpenClBackend> s_backend = new(() =>
    {
        RequirePlatform();
        return OpenClBackend.Create(DeviceSpec);
    });

    private static readonly Lazy<OpenClBackend> s_tiled = new(() => { RequirePlatform(); return OpenClBackend.Create(DeviceSpec, OpenClGemmKernel.Tiled); });
    private static readonly Lazy<OpenClBackend> s_direct = new(() => { RequirePlatform(); return OpenClBackend.Create(DeviceSpec, OpenClGemmKernel.Direct); });

    private static readonly Lazy<OpenClBackend> s_floatReductions = new(() =>
    {
        RequirePlatform();
        return OpenClBackend.Create(OpenClDevices.Select(DeviceSpec), OpenClGemmKernel.Auto, allowFp64: false);
    });

    private static readonly Lazy<OpenClBackend> s_smallTiles = new(() =>
    {
        RequirePlatform();
        return OpenClBackend.Create(OpenClDevices.Select(DeviceSpec), OpenClGemmKernel.Tiled, allowFp64: true, maxGemmRt: 8);
    });

    private static readonly Lazy<OpenClBackend> s_splitTiled = new(() => SplitBackend(OpenClGemmKernel.Tiled));
    private static readonly Lazy<OpenClBackend> s_splitDirect = new(() => SplitBackend(OpenClGemmKernel.Direct));

    private static OpenClBackend SplitBackend(OpenClGemmKernel kernel)
    {
        RequirePlatform();
        return OpenClBackend.Create(OpenClDevices.Select(DeviceSpec), kernel, allowFp64: true, forcedSlices: 3);
    }

    private static readonly Lazy<CpuBackend> s_cpu = new(() => new CpuBackend());

    public static string DeviceSpec => Environment.GetEnvironmentVariable("NATIVENET_OPENCL_DEVICE") is { Length: > 0 } s ? s : "opencl";

    public static bool PlatformFound => s_probe.Value.Found;

    /// <summary>For tests that use OpenCL without the shared backend: fails with the clear "required" error when there is no platform.</summary>
    public static void RequirePlatform()
    {
        var (found, reason) = s_probe.Value;
        if (!found) throw new InvalidOperationException($"{RequiredMessage}. ({reason})");
    }

    /// <summary>The skip reason for [OpenClFact]/[OpenClTheory], or null when the tests must run.</summary>
    public static string? SkipReason => SkipReasonFor(s_probe.Value.Found, s_probe.Value.Reason,
        Environment.GetEnvironmentVariable("CI"), Environment.GetEnvironmentVariable("NATIVENET_REQUIRE_OPENCL"));

    internal static bool IsRequired(string? ci, string? require)
        => Requirements.IsCi(ci) || require?.Trim() == "1";

    internal static string? SkipReasonFor(bool platformFound, string? reason, string? ci, string? require)
        => platformFound || IsRequired(ci, require)
            ? null
            : $"No OpenCL platform ({reason}). Install pocl-opencl-icd to run these tests; set CI or NATIVENET_REQUIRE_OPENCL=1 to make this a failure.";

    /// <summary>The shared OpenCL backend (kernels are built once per run); throws the clear "required" error when there is no platform.</summary>
    public static OpenClBackend Backend => s_backend.Value;

    /// <summary>A backend (on the same device) forced to one GEMM kernel, so every kernel is checked on any device.</summary>
    public static OpenClBackend WithGemm(OpenClGemmKernel kernel) => kernel switch
    {
        OpenClGemmKernel.Tiled => s_tiled.Value,
        OpenClGemmKernel.Direct => s_direct.Value,
        _ => Backend,
    };

    /// <summary>A backend whose GEMM kernel splits the K of every product into 3 slices (slice edges off the panel depth).</summary>
    public static OpenClBackend SplitK(OpenClGemmKernel kernel) => kernel == OpenClGemmKernel.Direct ? s_splitDirect.Value : s_splitTiled.Value;

    /// <summary>The tiled GEMM with 8 x 8 work-groups (32 x 32 tiles), as on devices with small work-group limits.</summary>
    public static OpenClBackend SmallTiles => s_smallTiles.Value;

    /// <summary>A backend whose reductions accumulate in float, as on devices without cl_khr_fp64.</summary>
    public static OpenClBackend FloatReductions => s_floatReductions.Value;

    public static CpuBackend Cpu => s_cpu.Value;
}

/// <summary>A fact that needs an OpenCL platform: skipped when none is found, unless CI / NATIVENET_REQUIRE_OPENCL=1 demands it.</summary>
public sealed class OpenClFactAttribute : FactAttribute
{
    public OpenClFactAttribute()
    {
        if (OpenClTestEnvironment.SkipReason is string reason) Skip = reason;
    }
}

/// <summary>A theory that needs an OpenCL platform (see <see cref="OpenClFactAttribute"/>).</summary>
public sealed class OpenClTheoryAttribute : TheoryAttribute
{
    public OpenClTheoryAttribute()
    {
        if (OpenClTestEnvironment.SkipReason is string reason) Skip = reason;
    }
}

/// <summary>
/// A fact about a tensor larger than the device's largest buffer: skipped as <see cref="OpenClFactAttribute"/> is, and on
/// devices whose largest buffer holds int.MaxValue floats (8 GiB), where no tensor is too large.
/// </summary>
public sealed class OpenClAllocationLimitFactAttribute : FactAttribute
{
    public OpenClAllocationLimitFactAttribute()
    {
        if (OpenClTestEnvironment.SkipReason is string reason) Skip = reason;
        else if (OpenClTestEnvironment.PlatformFound && OpenClTestEnvironment.Backend.MaxAllocationBytes >= (long)int.MaxValue * sizeof(float))
            Skip = $"the device's largest buffer ({OpenClTestEnvironment.Backend.MaxAllocationBytes} bytes) holds int.MaxValue floats";
    }
}
