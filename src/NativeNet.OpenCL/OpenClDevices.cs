using Silk.NET.OpenCL;

namespace NativeNet.OpenCL;

/// <summary>The kind of an OpenCL device (CL_DEVICE_TYPE).</summary>
public enum OpenClDeviceType
{
    /// <summary>A GPU.</summary>
    Gpu,
    /// <summary>The host CPU (e.g. PoCL).</summary>
    Cpu,
    /// <summary>A dedicated accelerator.</summary>
    Accelerator,
    /// <summary>Any other kind.</summary>
    Other,
}

/// <summary>One OpenCL device as <see cref="OpenClDevices.List"/> reports it; <see cref="Index"/> is what "opencl:N" names.</summary>
public sealed class OpenClDeviceInfo
{
    internal OpenClDeviceInfo(int index, string platform, string name, OpenClDeviceType type, long globalMemoryBytes,
        int computeUnits, string version, nint platformId, nint deviceId)
    {
        Index = index;
        Platform = platform;
        Name = name;
        Type = type;
        GlobalMemoryBytes = globalMemoryBytes;
        ComputeUnits = computeUnits;
        Version = version;
        PlatformId = platformId;
        DeviceId = deviceId;
    }

    /// <summary>The device's position in <see cref="OpenClDevices.List"/>: platform order, then device order.</summary>
    public int Index { get; }
    /// <summary>The name of the device's platform (CL_PLATFORM_NAME).</summary>
    public string Platform { get; }
    /// <summary>The device's name (CL_DEVICE_NAME).</summary>
    public string Name { get; }
    /// <summary>The kind of device.</summary>
    public OpenClDeviceType Type { get; }
    /// <summary>The device's global memory, in bytes (CL_DEVICE_GLOBAL_MEM_SIZE).</summary>
    public long GlobalMemoryBytes { get; }
    /// <summary>The device's compute units (CL_DEVICE_MAX_COMPUTE_UNITS).</summary>
    public int ComputeUnits { get; }
    /// <summary>The device's version string, e.g. "OpenCL 3.0 PoCL HSTR: ...".</summary>
    public string Version { get; }

    internal nint PlatformId { get; }
    internal nint DeviceId { get; }

    /// <summary>The spec that selects this device in <see cref="OpenClBackend.Create(string, OpenClGemmKernel)"/>.</summary>
    public string Spec => $"opencl:{Index}";

    /// <summary>One line for device lists: spec, name, type, compute units, memory, version and platform.</summary>
    public override string ToString()
        => $"opencl:{Index}  {Name}  [{Type.ToString().ToLowerInvariant()}, {ComputeUnits} compute units, {GlobalMemoryBytes / (1024 * 1024)} MiB, {Version}; platform {Platform}]";
}

/// <summary>Enumerates the OpenCL devices of every installed platform.</summary>
public static unsafe class OpenClDevices
{
    /// <summary>
    /// Every device of every platform, numbered in platform order then device order.
    /// Throws <see cref="OpenClException"/> (CL_PLATFORM_NOT_FOUND_KHR) when no OpenCL platform is installed.
    /// </summary>
    /// <exception cref="OpenClException">No platform is installed, or a query fails.</exception>
    public static IReadOnlyList<OpenClDeviceInfo> List()
    {
        var cl = ClNative.Api;
        uint platformCount = 0;
        int status = cl.GetPlatformIDs(0, null, &platformCount);
        if (status == 0 && platformCount == 0) status = ClNative.PlatformNotFound;
        ClNative.Check(status, "clGetPlatformIDs", null);

        var platforms = new nint[platformCount];
        fixed (nint* pp = platforms) ClNative.Check(cl.GetPlatformIDs(platformCount, pp, null), "clGetPlatformIDs", null);

        var result = new List<OpenClDeviceInfo>();
        foreach (nint platform in platforms)
        {
            string platformName = ClNative.PlatformString(platform, PlatformInfo.Name);
            uint deviceCount = 0;
            status = cl.GetDeviceIDs(platform, DeviceType.All, 0, null, &deviceCount);
            if (status == -1 /* CL_DEVICE_NOT_FOUND */ || deviceCount == 0) continue;
            ClNative.Check(status, "clGetDeviceIDs", null);
            var devices = new nint[deviceCount];
            fixed (nint* pd = devices) ClNative.Check(cl.GetDeviceIDs(platform, DeviceType.All, deviceCount, pd, null), "clGetDeviceIDs", null);
            foreach (nint device in devices)
            {
                string name = ClNative.DeviceString(device, DeviceInfo.Name);
                ulong type = ClNative.DeviceValue<ulong>(device, DeviceInfo.Type, name);
                var kind = (type & (ulong)DeviceType.Gpu) != 0 ? OpenClDeviceType.Gpu
                    : (type & (ulong)DeviceType.Cpu) != 0 ? OpenClDeviceType.Cpu
                    : (type & (ulong)DeviceType.Accelerator) != 0 ? OpenClDeviceType.Accelerator
                    : OpenClDeviceType.Other;
                result.Add(new OpenClDeviceInfo(result.Count, platformName, name, kind,
                    (long)ClNative.DeviceValue<ulong>(device, DeviceInfo.GlobalMemSize, name),
                    (int)ClNative.DeviceValue<uint>(device, DeviceInfo.MaxComputeUnits, name),
                    ClNative.DeviceString(device, DeviceInfo.Version, name), platform, device));
            }
        }
        return result;
    }

    /// <summary>Like <see cref="List"/>, but reports a missing platform or loader as false with the reason instead of throwing.</summary>
    /// <param name="devices">The devices; empty when false is returned.</param>
    /// <param name="reason">Why there are no devices; null when true is returned.</param>
    public static bool TryList(out IReadOnlyList<OpenClDeviceInfo> devices, out string? reason)
    {
        try
        {
            devices = List();
            reason = devices.Count == 0 ? "an OpenCL platform is installed but it has no devices" : null;
            return devices.Count > 0;
        }
        catch (OpenClException e)
        {
            devices = [];
            reason = e.Message;
            return false;
        }
    }

    /// <summary>
    /// The device a spec names: "opencl" picks the GPU with the most compute units (else the first device),
    /// "opencl:N" the Nth device of <see cref="List"/>.
    /// </summary>
    /// <param name="spec">"opencl" or "opencl:N" (any case, surrounding spaces ignored).</param>
    /// <exception cref="ArgumentException"><paramref name="spec"/> is neither form.</exception>
    /// <exception cref="OpenClException">No platform, no device, or no device N.</exception>
    public static OpenClDeviceInfo Select(string spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        string s = spec.Trim();
        int? index = null;
        if (s.Equals("opencl", StringComparison.OrdinalIgnoreCase)) { }
        else if (s.StartsWith("opencl:", StringComparison.OrdinalIgnoreCase)
                 && int.TryParse(s.AsSpan(7), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int n))
            index = n;
        else
            throw new ArgumentException($"Unknown OpenCL device spec '{spec}': use \"opencl\" (best GPU, else the first device) or \"opencl:N\".", nameof(spec));

        var devices = List();
        if (devices.Count == 0)
            throw new OpenClException("clGetDeviceIDs", -1 /* CL_DEVICE_NOT_FOUND */, null, "the installed OpenCL platforms report no devices");
        if (index is int i)
        {
            if (i >= devices.Count)
                throw new OpenClException("clGetDeviceIDs", -1 /* CL_DEVICE_NOT_FOUND */, $"opencl:{i}",
                    $"there is no OpenCL device {i}; {devices.Count} found: {string.Join("; ", devices.Select(d => $"{d.Index} = '{d.Name}'"))}");
            return devices[i];
        }
        OpenClDeviceInfo? best = null;
        foreach (var d in devices)
            if (d.Type == OpenClDeviceType.Gpu && (best is null || d.ComputeUnits > best.ComputeUnits)) best = d;
        return best ?? devices[0];
    }
}
