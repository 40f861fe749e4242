using NativeNet.Core.Backends;
using NativeNet.Core.Gemm;
using NativeNet.Core.Kernels;
using Silk.NET.OpenCL;

namespace NativeNet.OpenCL;

/// <summary>The compiler and program roles: the embedded .cl sources built into one program, its kernels, their arguments and launches.</summary>
public sealed unsafe partial class OpenClBackend
{
    /// <summary>The one check: throws <see cref="OpenClException"/> naming this device, the call and the error code.</summary>
    private void Check(int status, string call) => ClNative.Check(status, call, DeviceName);

    private static string[] LoadSources()
    {
        var asm = typeof(OpenClBackend).Assembly;
        var sources = new string[s_sources.Length];
        for (int i = 0; i < sources.Length; i++)
        {
            using var stream = asm.GetManifestResourceStream("NativeNet.OpenCL.Kernels." + s_sources[i])
                ?? throw new InvalidOperationException($"Kernel resource '{s_sources[i]}' is missing from {asm.GetName().Name}.");
            using var reader = new StreamReader(stream);
            sources[i] = reader.ReadToEnd() + "\n";
        }
        return sources;
    }

    private nint BuildProgram(nint dev, string options) => BuildProgram(_cl, _context, dev, DeviceName, LoadSources(), options);

    /// <summary>Builds a program; a failure throws <see cref="OpenClException"/> carrying the options and the build log.</summary>
    private static nint BuildProgram(CL cl, nint context, nint dev, string deviceName, string[] sources, string options)
    {
        int err;
        nint program = cl.CreateProgramWithSource(context, (uint)sources.Length, sources, null, &err);
        ClNative.Check(err, "clCreateProgramWithSource", deviceName);
        int status = cl.BuildProgram(program, 1, &dev, options, null, null);
        if (status != 0)
        {
            string log = BuildLog(cl, program, dev);
            cl.ReleaseProgram(program);
            ClNative.Check(status, "clBuildProgram", deviceName, $"options '{options}', build log:\n{log}");
        }
        return program;
    }

    /// <summary>Builds arbitrary source on a device in a throwaway context (tests use it to see a build failure's report).</summary>
    internal static void BuildForTest(OpenClDeviceInfo device, string source)
    {
        var cl = ClNative.Api;
        nint dev = device.DeviceId;
        int err;
        nint context = cl.CreateContext(null, 1, &dev, null, null, &err);
        ClNative.Check(err, "clCreateContext", device.Name);
        try
        {
            nint program = BuildProgram(cl, context, dev, device.Name, [source], "");
            cl.ReleaseProgram(program);
        }
        finally
        {
            cl.ReleaseContext(context);
        }
    }

    private static string BuildLog(CL cl, nint program, nint dev)
    {
        nuint size;
        if (cl.GetProgramBuildInfo(program, dev, ProgramBuildInfo.BuildLog, 0, null, &size) != 0 || size == 0) return "(no build log)";
        var bytes = new byte[(int)size];
        fixed (byte* p = bytes)
            if (cl.GetProgramBuildInfo(program, dev, ProgramBuildInfo.BuildLog, size, p, null) != 0) return "(no build log)";
        return ClNative.Decode(bytes);
    }

    private nint CreateKernelHandle(string name)
    {
        int err;
        nint k = _cl.CreateKernel(_program, name, &err);
        Check(err, $"clCreateKernel({name})");
        return k;
    }

    private Kernel CreateKernel(string name)
    {
        nint k = CreateKernelHandle(name);
        _kernelHandles.Add(k);
        return new Kernel(k, $"clEnqueueNDRangeKernel({name})");
    }

    private readonly record struct Kernel(nint Handle, string EnqueueCall);

    /// <summary>Sets a kernel's arguments in order; used only inside the lock.</summary>
    private ref struct Args(OpenClBackend backend, Kernel kernel)
    {
        private uint _index;

        public void Add(int v) => Set(&v, sizeof(int));
        public void Add(uint v) => Set(&v, sizeof(uint));
        public void Add(float v) => Set(&v, sizeof(float));
        public void Add(ulong v) => Set(&v, sizeof(ulong));
        public void AddMem(nint mem) => Set(&mem, sizeof(nint));

        /// <summary>A tensor is two arguments: its buffer and its offset in floats.</summary>
        public void Add(Tensor t)
        {
            AddMem(((OpenClBuffer)t.Buffer).Handle);
            Add(t.Offset);
        }

        private void Set(void* value, int size)
            => backend.Check(backend._cl.SetKernelArg(kernel.Handle, _index++, (nuint)size, value), "clSetKernelArg");
    }

    /// <summary>
    /// A launch over <paramref name="items"/> elements in LOCAL_1D work-groups: one element per work-item (which
    /// lets CPU implementations vectorize across work-items), the kernels' grid-stride loops covering any excess.
    /// </summary>
    private void Launch(Kernel k, long items)
    {
        long groups = Math.Min((items + _local1D - 1) / _local1D, MaxGroups1D);
        LaunchGroups(k, (int)groups);
    }

    private void LaunchGroups(Kernel k, int groups)
    {
        nuint global = (nuint)((long)groups * _local1D), local = (nuint)_local1D;
        Check(_cl.EnqueueNdrangeKernel(_queue, k.Handle, 1, null, &global, &local, 0, null, null), k.EnqueueCall);
    }
}
