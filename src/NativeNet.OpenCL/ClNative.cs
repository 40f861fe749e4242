using System.Text;
using Silk.NET.OpenCL;

namespace NativeNet.OpenCL;

/// <summary>The Silk.NET binding, loaded once, and the single status check every OpenCL call goes through.</summary>
internal static unsafe class ClNative
{
    public const int PlatformNotFound = -1001;
    public const string InstallHint = "no OpenCL platform is installed (on Debian/Ubuntu: apt-get install pocl-opencl-icd ocl-icd-libopencl1)";

    private static readonly Lazy<(CL? Api, Exception? Error)> s_api = new(Load);

    private static (CL?, Exception?) Load()
    {
        try { return (CL.GetApi(), null); }
        catch (Exception e) { return (null, e); }
    }

    /// <summary>The binding; throws <see cref="OpenClException"/> when libOpenCL cannot be loaded.</summary>
    public static CL Api
    {
        get
        {
            var (api, error) = s_api.Value;
            return api ?? throw new OpenClException("clGetPlatformIDs", PlatformNotFound, null,
                $"the OpenCL loader (libOpenCL.so.1) could not be loaded ({error?.GetType().Name}: {error?.Message}); {InstallHint}", error);
        }
    }

    /// <summary>Throws <see cref="OpenClException"/> naming the call, the device and the error when status is not CL_SUCCESS.</summary>
    public static void Check(int status, string call, string? device, string? detail = null)
    {
        if (status != 0) Fail(status, call, device, detail);
    }

    private static void Fail(int status, string call, string? device, string? detail)
        => throw new OpenClException(call, status, device, detail ?? (status == PlatformNotFound ? InstallHint : null));

    public static string DeviceString(nint device, DeviceInfo param, string? deviceName = null)
    {
        var cl = Api;
        nuint size;
        Check(cl.GetDeviceInfo(device, param, 0, null, &size), "clGetDeviceInfo", deviceName);
        if (size == 0) return "";
        var bytes = new byte[(int)size];
        fixed (byte* p = bytes) Check(cl.GetDeviceInfo(device, param, size, p, null), "clGetDeviceInfo", deviceName);
        return Decode(bytes);
    }

    public static T DeviceValue<T>(nint device, DeviceInfo param, string? deviceName = null) where T : unmanaged
    {
        T value = default;
        Check(Api.GetDeviceInfo(device, param, (nuint)sizeof(T), &value, null), "clGetDeviceInfo", deviceName);
        return value;
    }

    public static string PlatformString(nint platform, PlatformInfo param)
    {
        var cl = Api;
        nuint size;
        Check(cl.GetPlatformInfo(platform, param, 0, null, &size), "clGetPlatformInfo", null);
        if (size == 0) return "";
        var bytes = new byte[(int)size];
        fixed (byte* p = bytes) Check(cl.GetPlatformInfo(platform, param, size, p, null), "clGetPlatformInfo", null);
        return Decode(bytes);
    }

    public static string Decode(ReadOnlySpan<byte> bytes)
    {
        int end = bytes.IndexOf((byte)0);
        return Encoding.UTF8.GetString(end < 0 ? bytes : bytes[..end]).Trim();
    }
}
