namespace NativeNet.OpenCL;

/// <summary>
/// The one exception type for OpenCL failures: no platform, no device, a failed build, device lost, out of device
/// memory, or any other failing call. The message names the device, the call and the error code,
/// e.g. <c>clEnqueueNDRangeKernel(sgemm) failed on 'pthread-cpu': CL_OUT_OF_RESOURCES (-5)</c>.
/// </summary>
public sealed class OpenClException : Exception
{
    /// <summary>A failure of <paramref name="call"/> with status <paramref name="errorCode"/>; the message names both and the device.</summary>
    /// <param name="call">The OpenCL function that failed, e.g. "clCreateBuffer".</param>
    /// <param name="errorCode">The OpenCL status code.</param>
    /// <param name="device">The device name, or null before a device was chosen.</param>
    /// <param name="detail">More context appended to the message (e.g. the sizes asked for, or the build log).</param>
    /// <param name="inner">The error that caused it, if any.</param>
    public OpenClException(string call, int errorCode, string? device, string? detail = null, Exception? inner = null)
        : base(Format(call, errorCode, device, detail), inner)
    {
        Call = call;
        ErrorCode = errorCode;
        Device = device;
    }

    /// <summary>The OpenCL function that failed, e.g. "clCreateBuffer".</summary>
    public string Call { get; }

    /// <summary>The OpenCL status code (negative), e.g. -5 for CL_OUT_OF_RESOURCES.</summary>
    public int ErrorCode { get; }

    /// <summary>The device name, or null where the failure came before a device was chosen.</summary>
    public string? Device { get; }

    /// <summary>The symbolic name of the error code (CL_OUT_OF_RESOURCES, CL_PLATFORM_NOT_FOUND_KHR, ...).</summary>
    public string ErrorName => ErrorNameOf(ErrorCode);

    private static string Format(string call, int code, string? device, string? detail)
    {
        string where = device is null ? "" : $" on '{device}'";
        string msg = $"{call} failed{where}: {ErrorNameOf(code)} ({code})";
        return string.IsNullOrEmpty(detail) ? msg : msg + ": " + detail;
    }

    /// <summary>The symbolic name of an OpenCL status code, e.g. "CL_OUT_OF_RESOURCES" for -5; "CL_UNKNOWN_ERROR" for codes it does not know.</summary>
    /// <param name="code">The status code.</param>
    public static string ErrorNameOf(int code) => code switch
    {
        0 => "CL_SUCCESS",
        -1 => "CL_DEVICE_NOT_FOUND",
        -2 => "CL_DEVICE_NOT_AVAILABLE",
        -3 => "CL_COMPILER_NOT_AVAILABLE",
        -4 => "CL_MEM_OBJECT_ALLOCATION_FAILURE",
        -5 => "CL_OUT_OF_RESOURCES",
        -6 => "CL_OUT_OF_HOST_MEMORY",
        -7 => "CL_PROFILING_INFO_NOT_AVAILABLE",
        -8 => "CL_MEM_COPY_OVERLAP",
        -9 => "CL_IMAGE_FORMAT_MISMATCH",
        -10 => "CL_IMAGE_FORMAT_NOT_SUPPORTED",
        -11 => "CL_BUILD_PROGRAM_FAILURE",
        -12 => "CL_MAP_FAILURE",
        -13 => "CL_MISALIGNED_SUB_BUFFER_OFFSET",
        -14 => "CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST",
        -15 => "CL_COMPILE_PROGRAM_FAILURE",
        -16 => "CL_LINKER_NOT_AVAILABLE",
        -17 => "CL_LINK_PROGRAM_FAILURE",
        -18 => "CL_DEVICE_PARTITION_FAILED",
        -19 => "CL_KERNEL_ARG_INFO_NOT_AVAILABLE",
        -30 => "CL_INVALID_VALUE",
        -31 => "CL_INVALID_DEVICE_TYPE",
        -32 => "CL_INVALID_PLATFORM",
        -33 => "CL_INVALID_DEVICE",
        -34 => "CL_INVALID_CONTEXT",
        -35 => "CL_INVALID_QUEUE_PROPERTIES",
        -36 => "CL_INVALID_COMMAND_QUEUE",
        -37 => "CL_INVALID_HOST_PTR",
        -38 => "CL_INVALID_MEM_OBJECT",
        -39 => "CL_INVALID_IMAGE_FORMAT_DESCRIPTOR",
        -40 => "CL_INVALID_IMAGE_SIZE",
        -41 => "CL_INVALID_SAMPLER",
        -42 => "CL_INVALID_BINARY",
        -43 => "CL_INVALID_BUILD_OPTIONS",
        -44 => "CL_INVALID_PROGRAM",
        -45 => "CL_INVALID_PROGRAM_EXECUTABLE",
        -46 => "CL_INVALID_KERNEL_NAME",
        -47 => "CL_INVALID_KERNEL_DEFINITION",
        -48 => "CL_INVALID_KERNEL",
        -49 => "CL_INVALID_ARG_INDEX",
        -50 => "CL_INVALID_ARG_VALUE",
        -51 => "CL_INVALID_ARG_SIZE",
        -52 => "CL_INVALID_KERNEL_ARGS",
        -53 => "CL_INVALID_WORK_DIMENSION",
        -54 => "CL_INVALID_WORK_GROUP_SIZE",
        -55 => "CL_INVALID_WORK_ITEM_SIZE",
        -56 => "CL_INVALID_GLOBAL_OFFSET",
        -57 => "CL_INVALID_EVENT_WAIT_LIST",
        -58 => "CL_INVALID_EVENT",
        -59 => "CL_INVALID_OPERATION",
        -60 => "CL_INVALID_GL_OBJECT",
        -61 => "CL_INVALID_BUFFER_SIZE",
        -62 => "CL_INVALID_MIP_LEVEL",
        -63 => "CL_INVALID_GLOBAL_WORK_SIZE",
        -64 => "CL_INVALID_PROPERTY",
        -65 => "CL_INVALID_IMAGE_DESCRIPTOR",
        -66 => "CL_INVALID_COMPILER_OPTIONS",
        -67 => "CL_INVALID_LINKER_OPTIONS",
        -68 => "CL_INVALID_DEVICE_PARTITION_COUNT",
        -69 => "CL_INVALID_PIPE_SIZE",
        -70 => "CL_INVALID_DEVICE_QUEUE",
        -71 => "CL_INVALID_SPEC_ID",
        -72 => "CL_MAX_SIZE_RESTRICTION_EXCEEDED",
        -1001 => "CL_PLATFORM_NOT_FOUND_KHR",
        _ => "CL_UNKNOWN_ERROR",
    };
}
