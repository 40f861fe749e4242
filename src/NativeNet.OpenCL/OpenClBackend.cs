using NativeNet.Core.Backends;
using NativeNet.Core.Gemm;
using NativeNet.Core.Kernels;
using Silk.NET.OpenCL;

namespace NativeNet.OpenCL;

/// <summary>
/// <see cref="IComputeBackend"/> on one OpenCL 1.2+ device. Tensors live in device buffers (cl_mem) and are
/// passed to kernels as buffer + offset in floats; only <see cref="Upload"/>, <see cref="Download"/>,
/// <see cref="Cost"/> and <see cref="Sum"/> move data between host and device (blocking transfers).
/// Kernels come from the embedded .cl resources and are built once, when the backend is made.
/// One in-order queue; a lock makes each argument-setting + enqueue sequence atomic, so calls from
/// different threads are safe. Every OpenCL status goes through <see cref="Check(int, string)"/>.
/// <para>
/// One file per role: this one is the device (context, queue, build options, validation, disposal);
/// OpenClBackend.Program.cs the compiler and program (sources, build log, kernels, arguments, launches);
/// OpenClBackend.Memory.cs the allocator (buffers, transfers, scratch); and one host file per kernel source:
/// OpenClBackend.Gemm.cs (gemm.cl), .Conv.cs (conv.cl), .Elementwise.cs (elementwise.cl), .Reduce.cs (reduce.cl).
/// </para>
/// </summary>
public sealed unsafe partial class OpenClBackend : IComputeBackend
{
    private static readonly string[] s_sources = ["common.cl", "gemm.cl", "conv.cl", "elementwise.cl", "reduce.cl"];
    private const int GemmWorkPerThread = 4;
    private const int MaxPartials = 1024;      // work-groups of a reduction (its partial sums are read back)
    private const int MaxGroups1D = 1 << 22;   // elementwise launches: one element per work-item up to this, then grid-stride
    private const int MaxRowGroups = 1 << 16;  // softmax / per-row bias gradient: one work-group per row up to this
    private const int MinSliceDepth = 256;     // split K: the least depth one slice of a product sums
    private const long MaxSliceFloats = 1 << 22; // split K: the most floats of slice results (16 MB of scratch)

    private readonly CL _cl;
    private readonly Lock _lock = new();
    private nint _context, _queue, _program, _partials, _scratch;
    private long _scratchFloats;
    private readonly int _local1D, _gemmRt, _forcedSlices;
    private readonly double[] _partialsD = new double[MaxPartials];
    private readonly float[] _partialsF = new float[MaxPartials];
    private readonly List<nint> _kernelHandles = [];
    private bool _disposed;

    private readonly Kernel _sgemm, _im2col, _col2im, _poolForward, _poolBackward, _permute, _biasActivation,
        _activationBackward, _biasGradColumns, _biasGradRows, _softmax, _outputDelta, _multiply, _scale, _fill,
        _copy, _dropout, _update, _costPartial, _sumPartial, _sumSlices;

    /// <summary>
    /// A backend on the device a spec names: "opencl" (the GPU with most compute units, else the first device)
    /// or "opencl:N" (the Nth device of <see cref="OpenClDevices.List"/>). Throws <see cref="OpenClException"/> when
    /// there is no platform or no such device, <see cref="ArgumentException"/> for a malformed spec.
    /// </summary>
    /// <param name="spec">"opencl" or "opencl:N".</param>
    /// <param name="gemm">The SGEMM kernel; Auto picks by device type.</param>
    /// <exception cref="OpenClException">No platform, no such device, or the kernels fail to build.</exception>
    /// <exception cref="ArgumentException"><paramref name="spec"/> is neither "opencl" nor "opencl:N".</exception>
    public static OpenClBackend Create(string spec = "opencl", OpenClGemmKernel gemm = OpenClGemmKernel.Auto)
        => new(OpenClDevices.Select(spec), gemm);

    /// <summary>A backend on one device of <see cref="OpenClDevices.List"/>; builds the kernels for it.</summary>
    /// <param name="device">The device.</param>
    /// <param name="gemm">The SGEMM kernel; Auto picks by device type.</param>
    /// <exception cref="OpenClException">The context, queue or kernels cannot be made on the device.</exception>
    public static OpenClBackend Create(OpenClDeviceInfo device, OpenClGemmKernel gemm = OpenClGemmKernel.Auto) => new(device, gemm, allowFp64: true);

    /// <summary>
    /// Tests use <paramref name="allowFp64"/> = false to check the float reduction path on devices that have fp64,
    /// a smaller <paramref name="maxGemmRt"/> to check the tiled GEMM with the work-groups of smaller devices, and
    /// <paramref name="forcedSlices"/> &gt; 0 to split the K of every product into at most that many slices (see <see cref="GemmSlices"/>).
    /// </summary>
    internal static OpenClBackend Create(OpenClDeviceInfo device, OpenClGemmKernel gemm, bool allowFp64, int maxGemmRt = 16, int forcedSlices = 0)
        => new(device, gemm, allowFp64, maxGemmRt, forcedSlices);

    private OpenClBackend(OpenClDeviceInfo device, OpenClGemmKernel gemm, bool allowFp64 = true, int maxGemmRt = 16, int forcedSlices = 0)
    {
        ArgumentNullException.ThrowIfNull(device);
        if ((uint)gemm > (uint)OpenClGemmKernel.Direct) throw new ArgumentOutOfRangeException(nameof(gemm), gemm, null);
        ArgumentOutOfRangeException.ThrowIfNegative(forcedSlices);
        _forcedSlices = forcedSlices;
        _cl = ClNative.Api;
        Device = device;
        GemmKernel = gemm != OpenClGemmKernel.Auto ? gemm
            : device.Type == OpenClDeviceType.Cpu ? OpenClGemmKernel.Direct : OpenClGemmKernel.Tiled;
        // (The direct kernel runs 8 x 8 work-groups, within every real device's limit.)
        try
        {
            nint dev = device.DeviceId;
            int err;
            _context = _cl.CreateContext(null, 1, &dev, null, null, &err);
            Check(err, "clCreateContext");
            _queue = _cl.CreateCommandQueue(_context, dev, CommandQueueProperties.None, &err);
            Check(err, "clCreateCommandQueue");

            long maxWorkGroup = (long)ClNative.DeviceValue<nuint>(dev, DeviceInfo.MaxWorkGroupSize, DeviceName);
            long localMem = (long)ClNative.DeviceValue<ulong>(dev, DeviceInfo.LocalMemSize, DeviceName);
            MaxAllocationBytes = (long)ClNative.DeviceValue<ulong>(dev, DeviceInfo.MaxMemAllocSize, DeviceName);
            string extensions = ClNative.DeviceString(dev, DeviceInfo.Extensions, DeviceName);
            HasFp64 = allowFp64 && extensions.Contains("cl_khr_fp64", StringComparison.Ordinal);

            _local1D = 1;
            while (_local1D * 2 <= Math.Min(64, maxWorkGroup)) _local1D *= 2;

            // The tiled GEMM's work-group: RT x RT work-items (4 x 4 outputs each), as large as the device allows.
            _gemmRt = 16;
            while (_gemmRt > Math.Max(2, maxGemmRt)) _gemmRt /= 2;
            while (_gemmRt > 2 && (_gemmRt * _gemmRt > maxWorkGroup || GemmLocalBytes(_gemmRt) > localMem)) _gemmRt /= 2;
            for (; ; )
            {
                BuildOptions = $"-D LOCAL_1D={_local1D} -D GEMM_RT={_gemmRt} -D GEMM_WPT={GemmWorkPerThread} -D NN_FP64={(HasFp64 ? 1 : 0)}";
                _program = BuildProgram(dev, BuildOptions);
                if (GemmKernel != OpenClGemmKernel.Tiled || _gemmRt <= 2) break;
                // The compiled kernel may allow less than the device maximum (register pressure): shrink and rebuild.
                nint probe = CreateKernelHandle("sgemm");
                nuint wg;
                int status = _cl.GetKernelWorkGroupInfo(probe, dev, KernelWorkGroupInfo.WorkGroupSize, (nuint)sizeof(nuint), &wg, null);
                Check(_cl.ReleaseKernel(probe), "clReleaseKernel");
                Check(status, "clGetKernelWorkGroupInfo");
                if ((long)wg >= _gemmRt * _gemmRt) break;
                Check(_cl.ReleaseProgram(_program), "clReleaseProgram");
                _program = 0;
                _gemmRt /= 2;
            }

            _sgemm = CreateKernel(GemmKernel == OpenClGemmKernel.Direct ? "sgemm_direct" : "sgemm");
            _im2col = CreateKernel("im2col");
            _col2im = CreateKernel("col2im");
            _poolForward = CreateKernel("pool_forward");
            _poolBackward = CreateKernel("pool_backward");
            _permute = CreateKernel("channel_major_to_batch_major");
            _biasActivation = CreateKernel("bias_activation");
            _activationBackward = CreateKernel("activation_backward");
            _biasGradColumns = CreateKernel("bias_grad_columns");
            _biasGradRows = CreateKernel("bias_grad_rows");
            _softmax = CreateKernel("softmax_rows");
            _outputDelta = CreateKernel("output_delta");
            _multiply = CreateKernel("multiply");
            _scale = CreateKernel("scale");
            _fill = CreateKernel("fill");
            _copy = CreateKernel("copy");
            _dropout = CreateKernel("dropout_mask");
            _update = CreateKernel("update");
            _costPartial = CreateKernel("cost_partial");
            _sumPartial = CreateKernel("sum_partial");
            _sumSlices = CreateKernel("sum_slices");

            _partials = CreateMem(MaxPartials * sizeof(double));
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>The device this backend runs on.</summary>
    public OpenClDeviceInfo Device { get; }

    /// <summary>The device's name as the driver reports it (CL_DEVICE_NAME).</summary>
    public string DeviceName => Device.Name;

    /// <inheritdoc/>
    public string Name => $"opencl: {Device.Name}";

    /// <summary>Whether reductions accumulate in double on the device (cl_khr_fp64).</summary>
    public bool HasFp64 { get; }

    /// <summary>The largest single buffer the device allows (CL_DEVICE_MAX_MEM_ALLOC_SIZE), in bytes.</summary>
    public long MaxAllocationBytes { get; }

    /// <summary>The options the kernels were built with (tile sizes, local size, fp64).</summary>
    public string BuildOptions { get; private set; } = "";

    /// <summary>The GEMM kernel in use (never Auto).</summary>
    public OpenClGemmKernel GemmKernel { get; }

    /// <summary>The square block of C one work-group of the tiled GEMM kernel computes.</summary>
    public int GemmTile => _gemmRt * GemmWorkPerThread;

    /// <summary>Checks that a tensor lives on this backend and holds at least <paramref name="needed"/> elements.</summary>
    private void Own(Tensor t, long needed, string name)
    {
        ArgumentNullException.ThrowIfNull(t, name);
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (t.Buffer is not OpenClBuffer b || !ReferenceEquals(b.Owner, this))
            throw new ArgumentException($"Tensor {t} does not live on this backend ({Name}).", name);
        if (needed < 0 || needed > t.Length)
            throw new ArgumentException($"Tensor {t} has {t.Length} elements; {needed} were asked for.", name);
    }

    private static long Matrix(int rows, int cols, string name)
    {
        if (rows < 0 || cols < 0)
            throw new ArgumentException($"{name}: a {rows} x {cols} matrix has a negative dimension.", name);
        long n = (long)rows * cols;
        if (n > int.MaxValue) throw new ArgumentException($"{name}: a {rows} x {cols} matrix has more than int.MaxValue elements.", name);
        return n;
    }

    private static void CheckCount(int length, string name)
    {
        if (length < 0) throw new ArgumentOutOfRangeException(name, length, "A count must be non-negative.");
    }

    /// <summary>clFinish: waits until every queued command is done.</summary>
    public void Synchronize()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        Check(_cl.Finish(_queue), "clFinish");
    }

    // Range checks without Enum.IsDefined, so the hot path stays allocation-free.
    private static void CheckEnum(Activation f) { if ((uint)f > (uint)Activation.ReLU) Unknown(f); }
    private static void CheckEnum(BiasAxis a) { if ((uint)a > (uint)BiasAxis.PerRow) Unknown(a); }
    private static void CheckEnum(OutputCost c) { if ((uint)c > (uint)OutputCost.LinearQuadratic) Unknown(c); }
    private static void CheckEnum(PoolKind k) { if ((uint)k > (uint)PoolKind.L2) Unknown(k); }
    private static void Unknown(object value) => throw new ArgumentOutOfRangeException(value.GetType().Name, value, $"Unknown {value.GetType().Name}.");

    /// <summary>Waits for queued work, then releases the kernels, program, queue and context. Buffers are disposed by their owners.</summary>
    public void Dispose()
    {
        lock (_lock)
        {
            if (_disposed) return;
            _disposed = true;
            // Release statuses are ignored here: a failed release must not hide the error that led to disposal.
            if (_queue != 0) _cl.Finish(_queue);
            foreach (nint k in _kernelHandles) _cl.ReleaseKernel(k);
            _kernelHandles.Clear();
            if (_partials != 0) _cl.ReleaseMemObject(_partials);
            if (_scratch != 0) _cl.ReleaseMemObject(_scratch);
            if (_program != 0) _cl.ReleaseProgram(_program);
            if (_queue != 0) _cl.ReleaseCommandQueue(_queue);
            if (_context != 0) _cl.ReleaseContext(_context);
            _partials = _scratch = _program = _queue = _context = 0;
        }
    }
}
