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
/// </summary>
public sealed unsafe class OpenClBackend : IComputeBackend
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
    public static OpenClBackend Create(string spec = "opencl", OpenClGemmKernel gemm = OpenClGemmKernel.Auto)
        => new(OpenClDevices.Select(spec), gemm);

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

    public string DeviceName => Device.Name;

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

    /// <summary>
    /// How many K slices a product of C = m x n over depth k runs in, and the depth of each (see gemm.cl). The tiled
    /// kernel splits when C has fewer tiles (<see cref="GemmTile"/> square) than twice the device's compute units and k is long enough for
    /// slices of at least 256: enough slices to fill the device, at most 4M floats of slice results. The direct
    /// (CPU-device) kernel does not split: a CPU device has few compute units and its work-items are already many.
    /// </summary>
    internal int GemmSlices(int m, int n, int k, out int kChunk)
    {
        kChunk = k;
        long mn = (long)m * n;
        if (k <= 1 || mn == 0) return 1;
        long slices;
        if (_forcedSlices > 0)
        {
            slices = Math.Min(_forcedSlices, k);
            kChunk = (int)((k + slices - 1) / slices);   // not rounded to the panel depth: slice edges fall anywhere
        }
        else
        {
            if (GemmKernel != OpenClGemmKernel.Tiled) return 1;
            long tiles = (m + GemmTile - 1) / GemmTile * ((n + GemmTile - 1) / GemmTile);
            long target = 2L * Math.Max(1, Device.ComputeUnits);
            if (tiles >= target || k < 2 * MinSliceDepth) return 1;
            slices = Math.Min(Math.Min((target + tiles - 1) / tiles, k / MinSliceDepth), MaxSliceFloats / mn);
            if (slices <= 1) return 1;
            long depth = (k + slices - 1) / slices;
            kChunk = (int)((depth + _gemmRt - 1) / _gemmRt * _gemmRt);   // whole panels per slice
        }
        return (int)((k + kChunk - 1) / kChunk);
    }

    private static long GemmLocalBytes(int rt) => (long)rt * (2 * rt * GemmWorkPerThread + 5) * sizeof(float); // As[TK][TILE+1], Bs[TK][TILE+4]

    // ---------------------------------------------------------------- status checks and setup

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

    private nint CreateMem(long bytes)
    {
        int err;
        nint mem = _cl.CreateBuffer(_context, MemFlags.ReadWrite, (nuint)Math.Max(bytes, 4), null, &err);
        if (err != 0)
            ClNative.Check(err, "clCreateBuffer", DeviceName, $"{bytes} bytes requested; the device allows {MaxAllocationBytes} per buffer and has {Device.GlobalMemoryBytes} in all");
        return mem;
    }

    internal void ReleaseBuffer(nint mem)
    {
        if (_disposed) { _cl.ReleaseMemObject(mem); return; }
        Check(_cl.ReleaseMemObject(mem), "clReleaseMemObject");
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

    // ---------------------------------------------------------------- validation

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

    // ---------------------------------------------------------------- IComputeBackend

    public DeviceBuffer Allocate(int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        ObjectDisposedException.ThrowIf(_disposed, this);
        nint mem = CreateMem((long)length * sizeof(float));
        var buffer = new OpenClBuffer(this, mem, length);
        try
        {
            // Zero-filled like the CPU backend's buffers (the arena relies on it).
            if (length > 0)
                lock (_lock)
                {
                    var a = new Args(this, _fill);
                    a.AddMem(mem); a.Add(0); a.Add(0f); a.Add(length);
                    Launch(_fill, length);
                }
        }
        catch
        {
            buffer.Dispose();
            throw;
        }
        return buffer;
    }

    public void Upload(ReadOnlySpan<float> source, Tensor destination, int offset = 0)
    {
        Own(destination, 0, nameof(destination));
        if (offset < 0 || (long)offset + source.Length > destination.Length)
            throw new ArgumentOutOfRangeException(nameof(offset), $"Upload of {source.Length} floats at offset {offset} does not fit tensor {destination} ({destination.Length} elements).");
        if (source.Length == 0) return;
        nint mem = ((OpenClBuffer)destination.Buffer).Handle;
        lock (_lock)
            fixed (float* p = source)
                Check(_cl.EnqueueWriteBuffer(_queue, mem, true, (nuint)(((long)destination.Offset + offset) * sizeof(float)),
                    (nuint)((long)source.Length * sizeof(float)), p, 0, null, null), "clEnqueueWriteBuffer");
    }

    public void Download(Tensor source, Span<float> destination, int offset = 0)
    {
        Own(source, 0, nameof(source));
        if (offset < 0 || (long)offset + destination.Length > source.Length)
            throw new ArgumentOutOfRangeException(nameof(offset), $"Download of {destination.Length} floats at offset {offset} does not fit tensor {source} ({source.Length} elements).");
        if (destination.Length == 0) return;
        nint mem = ((OpenClBuffer)source.Buffer).Handle;
        lock (_lock)
            fixed (float* p = destination)
                Check(_cl.EnqueueReadBuffer(_queue, mem, true, (nuint)(((long)source.Offset + offset) * sizeof(float)),
                    (nuint)((long)destination.Length * sizeof(float)), p, 0, null, null), "clEnqueueReadBuffer");
    }

    public void Fill(Tensor t, float value, int length)
    {
        CheckCount(length, nameof(length));
        Own(t, length, nameof(t));
        if (length == 0) return;
        lock (_lock)
        {
            var a = new Args(this, _fill);
            a.Add(t); a.Add(value); a.Add(length);
            Launch(_fill, length);
        }
    }

    public void Copy(Tensor source, Tensor destination, int length)
    {
        CheckCount(length, nameof(length));
        Own(source, length, nameof(source));
        Own(destination, length, nameof(destination));
        if (length == 0) return;
        nint src = ((OpenClBuffer)source.Buffer).Handle, dst = ((OpenClBuffer)destination.Buffer).Handle;
        bool sameBuffer = src == dst;
        if (sameBuffer && source.Offset == destination.Offset) return;
        bool overlap = sameBuffer && source.Offset < destination.Offset + length && destination.Offset < source.Offset + length;
        lock (_lock)
        {
            if (!overlap)
            {
                CopyRaw(src, source.Offset, dst, destination.Offset, length);
                return;
            }
            // Overlapping ranges (memmove semantics, as on the CPU) go through a device scratch buffer.
            EnsureScratch(length);
            CopyRaw(src, source.Offset, _scratch, 0, length);
            CopyRaw(_scratch, 0, dst, destination.Offset, length);
        }
    }

    /// <summary>
    /// Grows the device scratch buffer (overlapping copies, split-K slice results) to at least <paramref name="floats"/>;
    /// called under the lock. It only grows, so a training loop's shapes reach their size in the first step. Kernels
    /// already queued that read it keep the old buffer alive: OpenCL releases a buffer after its last queued use.
    /// </summary>
    private void EnsureScratch(long floats)
    {
        if (_scratchFloats >= floats) return;
        if (_scratch != 0) { Check(_cl.ReleaseMemObject(_scratch), "clReleaseMemObject"); _scratch = 0; _scratchFloats = 0; }
        _scratch = CreateMem(floats * sizeof(float));
        _scratchFloats = floats;
    }

    private void CopyRaw(nint src, int srcOffset, nint dst, int dstOffset, int length)
    {
        var a = new Args(this, _copy);
        a.AddMem(src); a.Add(srcOffset); a.AddMem(dst); a.Add(dstOffset); a.Add(length);
        Launch(_copy, length);
    }

    public void Gemm(bool transA, bool transB, int m, int n, int k, float alpha, Tensor a, Tensor b, float beta, Tensor c)
    {
        ArgumentNullException.ThrowIfNull(a); ArgumentNullException.ThrowIfNull(b); ArgumentNullException.ThrowIfNull(c);
        Sgemm.Validate(transA, transB, m, n, k, a.Length, transA ? m : k, b.Length, transB ? k : n, c.Length, n);
        Own(a, 0, nameof(a)); Own(b, 0, nameof(b)); Own(c, 0, nameof(c));
        if (m == 0 || n == 0) return;
        int tile = GemmTile;
        int slices = GemmSlices(m, n, k, out int kChunk);
        nuint* global = stackalloc nuint[3];
        nuint* local = stackalloc nuint[3];
        global[0] = (nuint)(((long)n + tile - 1) / tile * _gemmRt);
        global[1] = (nuint)(((long)m + tile - 1) / tile * _gemmRt);
        local[0] = local[1] = (nuint)_gemmRt;
        if (GemmKernel == OpenClGemmKernel.Direct)
        {
            // sgemm_direct: one work-item per 4 x 8 block of C, 8 x 8 work-groups.
            global[0] = (nuint)(((long)n + 63) / 64 * 8);
            global[1] = (nuint)(((long)m + 31) / 32 * 8);
            local[0] = local[1] = 8;
        }
        global[2] = (nuint)slices;
        local[2] = 1;
        lock (_lock)
        {
            var args = new Args(this, _sgemm);
            args.Add(transA ? 1 : 0); args.Add(transB ? 1 : 0); args.Add(m); args.Add(n); args.Add(k); args.Add(alpha);
            args.Add(a); args.Add(b);
            if (slices == 1)
            {
                args.Add(beta); args.Add(c);
            }
            else
            {
                // Slice z writes alpha * (its partial product) at scratch + z*m*n; sum_slices adds them into C.
                EnsureScratch((long)slices * m * n);
                args.Add(0f); args.AddMem(_scratch); args.Add(0);
            }
            args.Add(kChunk);
            Check(_cl.EnqueueNdrangeKernel(_queue, _sgemm.Handle, 3, null, global, local, 0, null, null), _sgemm.EnqueueCall);
            if (slices > 1)
            {
                var sum = new Args(this, _sumSlices);
                sum.AddMem(_scratch); sum.Add(slices); sum.Add(m * n); sum.Add(beta); sum.Add(c);
                Launch(_sumSlices, (long)m * n);
            }
        }
    }

    public void BiasActivation(Tensor z, Tensor bias, Tensor a, int rows, int cols, BiasAxis axis, Activation f)
    {
        long total = Matrix(rows, cols, nameof(z));
        Own(z, total, nameof(z)); Own(a, total, nameof(a));
        Own(bias, axis == BiasAxis.PerColumn ? cols : rows, nameof(bias));
        CheckEnum(f); CheckEnum(axis);
        if (total == 0) return;
        lock (_lock)
        {
            var args = new Args(this, _biasActivation);
            args.Add(z); args.Add(bias); args.Add(a); args.Add(rows); args.Add(cols); args.Add((int)axis); args.Add((int)f);
            Launch(_biasActivation, total);
        }
    }

    public void Softmax(Tensor z, Tensor a, int rows, int cols)
    {
        long total = Matrix(rows, cols, nameof(z));
        Own(z, total, nameof(z)); Own(a, total, nameof(a));
        if (total == 0) return;
        lock (_lock)
        {
            var args = new Args(this, _softmax);
            args.Add(z); args.Add(a); args.Add(rows); args.Add(cols);
            LaunchGroups(_softmax, Math.Min(rows, MaxRowGroups));
        }
    }

    public void ActivationBackward(Tensor a, Tensor gradA, Tensor gradZ, int length, Activation f)
    {
        CheckCount(length, nameof(length));
        Own(a, length, nameof(a)); Own(gradA, length, nameof(gradA)); Own(gradZ, length, nameof(gradZ));
        CheckEnum(f);
        if (length == 0) return;
        lock (_lock)
        {
            var args = new Args(this, _activationBackward);
            args.Add(a); args.Add(gradA); args.Add(gradZ); args.Add(length); args.Add((int)f);
            Launch(_activationBackward, length);
        }
    }

    public void BiasGradient(Tensor gradZ, Tensor gradBias, int rows, int cols, BiasAxis axis, float beta)
    {
        long total = Matrix(rows, cols, nameof(gradZ));
        Own(gradZ, total, nameof(gradZ));
        int outputs = axis == BiasAxis.PerColumn ? cols : rows;
        Own(gradBias, outputs, nameof(gradBias));
        CheckEnum(axis);
        if (outputs == 0) return;
        lock (_lock)
        {
            var k = axis == BiasAxis.PerColumn ? _biasGradColumns : _biasGradRows;
            var args = new Args(this, k);
            args.Add(gradZ); args.Add(gradBias); args.Add(rows); args.Add(cols); args.Add(beta);
            if (axis == BiasAxis.PerColumn) Launch(k, cols);
            else LaunchGroups(k, Math.Min(rows, MaxRowGroups));
        }
    }

    public void OutputDelta(OutputCost cost, Tensor a, Tensor y, Tensor delta, int length)
    {
        CheckCount(length, nameof(length));
        Own(a, length, nameof(a)); Own(y, length, nameof(y)); Own(delta, length, nameof(delta));
        CheckEnum(cost);
        if (length == 0) return;
        lock (_lock)
        {
            var args = new Args(this, _outputDelta);
            args.Add((int)cost); args.Add(a); args.Add(y); args.Add(delta); args.Add(length);
            Launch(_outputDelta, length);
        }
    }

    public double Cost(OutputCost cost, Tensor a, Tensor y, int length)
    {
        CheckCount(length, nameof(length));
        Own(a, length, nameof(a)); Own(y, length, nameof(y));
        CheckEnum(cost);
        if (length == 0) return 0;
        lock (_lock)
        {
            var args = new Args(this, _costPartial);
            args.Add((int)cost); args.Add(a); args.Add(y); args.Add(length); args.AddMem(_partials);
            return Reduce(_costPartial, length);
        }
    }

    public double Sum(Tensor x, int length, bool squares)
    {
        CheckCount(length, nameof(length));
        Own(x, length, nameof(x));
        if (length == 0) return 0;
        lock (_lock)
        {
            var args = new Args(this, _sumPartial);
            args.Add(x); args.Add(length); args.Add(squares ? 1 : 0); args.AddMem(_partials);
            return Reduce(_sumPartial, length);
        }
    }

    /// <summary>Runs a partial-sum kernel (arguments already set), reads the partials back and adds them in order.</summary>
    private double Reduce(Kernel k, int length)
    {
        int groups = (int)Math.Min(((long)length + _local1D - 1) / _local1D, MaxPartials);
        LaunchGroups(k, groups);
        double sum = 0;
        if (HasFp64)
        {
            fixed (double* p = _partialsD)
                Check(_cl.EnqueueReadBuffer(_queue, _partials, true, 0, (nuint)(groups * sizeof(double)), p, 0, null, null), "clEnqueueReadBuffer");
            for (int i = 0; i < groups; i++) sum += _partialsD[i];
        }
        else
        {
            fixed (float* p = _partialsF)
                Check(_cl.EnqueueReadBuffer(_queue, _partials, true, 0, (nuint)(groups * sizeof(float)), p, 0, null, null), "clEnqueueReadBuffer");
            for (int i = 0; i < groups; i++) sum += _partialsF[i];
        }
        return sum;
    }

    public void Multiply(Tensor x, Tensor y, Tensor dst, int length)
    {
        CheckCount(length, nameof(length));
        Own(x, length, nameof(x)); Own(y, length, nameof(y)); Own(dst, length, nameof(dst));
        if (length == 0) return;
        lock (_lock)
        {
            var args = new Args(this, _multiply);
            args.Add(x); args.Add(y); args.Add(dst); args.Add(length);
            Launch(_multiply, length);
        }
    }

    public void Scale(Tensor x, float s, int length)
    {
        CheckCount(length, nameof(length));
        Own(x, length, nameof(x));
        if (length == 0) return;
        lock (_lock)
        {
            var args = new Args(this, _scale);
            args.Add(x); args.Add(s); args.Add(length);
            Launch(_scale, length);
        }
    }

    public void DropoutMask(Tensor mask, int length, float keep, ulong seed, ulong stream)
    {
        if (!(keep > 0f && keep <= 1f)) throw new ArgumentOutOfRangeException(nameof(keep), keep, "The keep probability must be in (0, 1].");
        CheckCount(length, nameof(length));
        Own(mask, length, nameof(mask));
        if (length == 0) return;
        uint threshold = (uint)Math.Min(keep * 16777216.0, 16777216.0); // exactly as Dropout.Mask
        lock (_lock)
        {
            var args = new Args(this, _dropout);
            args.Add(mask); args.Add(length); args.Add(threshold); args.Add(seed); args.Add(stream);
            Launch(_dropout, length);
        }
    }

    public void Im2Col(Tensor input, Tensor cols, in ConvGeometry g)
    {
        g.Validate();
        long colsLength = (long)g.ColRows * g.ColCols;
        if (colsLength > int.MaxValue) throw new ArgumentException($"im2col of {g} has more than int.MaxValue elements.", nameof(g));
        Own(input, g.InputLength, nameof(input)); Own(cols, colsLength, nameof(cols));
        lock (_lock)
        {
            var args = new Args(this, _im2col);
            args.Add(input); args.Add(cols); AddGeometry(ref args, g);
            Launch(_im2col, colsLength);
        }
    }

    public void Col2Im(Tensor cols, Tensor gradInput, in ConvGeometry g)
    {
        g.Validate();
        long colsLength = (long)g.ColRows * g.ColCols;
        if (colsLength > int.MaxValue) throw new ArgumentException($"col2im of {g} has more than int.MaxValue elements.", nameof(g));
        Own(cols, colsLength, nameof(cols)); Own(gradInput, g.InputLength, nameof(gradInput));
        lock (_lock)
        {
            var args = new Args(this, _col2im);
            args.Add(cols); args.Add(gradInput); AddGeometry(ref args, g);
            Launch(_col2im, g.InputLength);
        }
    }

    private static void AddGeometry(ref Args args, in ConvGeometry g)
    {
        args.Add(g.Channels); args.Add(g.Batch); args.Add(g.Height); args.Add(g.Width);
        args.Add(g.KernelHeight); args.Add(g.KernelWidth); args.Add(g.Stride); args.Add(g.Padding);
        args.Add(g.OutHeight); args.Add(g.OutWidth);
    }

    public void PoolForward(PoolKind kind, Tensor input, Tensor output, Tensor argmax, in PoolGeometry g)
    {
        g.Validate();
        CheckEnum(kind);
        Own(input, g.InputLength, nameof(input)); Own(output, g.OutputLength, nameof(output));
        Own(argmax, kind == PoolKind.Max ? g.OutputLength : 0, nameof(argmax));
        lock (_lock)
        {
            var args = new Args(this, _poolForward);
            args.Add((int)kind); args.Add(input); args.Add(output); args.Add(argmax);
            AddGeometry(ref args, g);
            Launch(_poolForward, g.OutputLength);
        }
    }

    public void PoolBackward(PoolKind kind, Tensor input, Tensor output, Tensor argmax, Tensor gradOutput, Tensor gradInput, in PoolGeometry g)
    {
        g.Validate();
        CheckEnum(kind);
        bool max = kind == PoolKind.Max;
        Own(input, max ? 0 : g.InputLength, nameof(input)); Own(output, max ? 0 : g.OutputLength, nameof(output));
        Own(argmax, max ? g.OutputLength : 0, nameof(argmax));
        Own(gradOutput, g.OutputLength, nameof(gradOutput)); Own(gradInput, g.InputLength, nameof(gradInput));
        lock (_lock)
        {
            var args = new Args(this, _poolBackward);
            args.Add((int)kind); args.Add(input); args.Add(output); args.Add(argmax); args.Add(gradOutput); args.Add(gradInput);
            AddGeometry(ref args, g);
            Launch(_poolBackward, g.InputLength);
        }
    }

    private static void AddGeometry(ref Args args, in PoolGeometry g)
    {
        args.Add(g.Planes); args.Add(g.Height); args.Add(g.Width); args.Add(g.Window); args.Add(g.Stride);
        args.Add(g.OutHeight); args.Add(g.OutWidth); args.Add(1f / (g.Window * g.Window)); // the CPU's reciprocal, rounded on the host
    }

    public void ChannelMajorToBatchMajor(Tensor source, Tensor destination, int channels, int batch, int pixels, bool inverse)
    {
        if (channels < 0 || batch < 0 || pixels < 0)
            throw new ArgumentException($"ChannelMajorToBatchMajor: negative size (channels {channels}, batch {batch}, pixels {pixels}).");
        long total = (long)channels * batch * pixels;
        if (total > int.MaxValue) throw new ArgumentException("ChannelMajorToBatchMajor: more than int.MaxValue elements.");
        Own(source, total, nameof(source)); Own(destination, total, nameof(destination));
        if (total == 0) return;
        lock (_lock)
        {
            var args = new Args(this, _permute);
            args.Add(source); args.Add(destination); args.Add(channels); args.Add(batch); args.Add(pixels); args.Add(inverse ? 1 : 0);
            Launch(_permute, total);
        }
    }

    public void Update(Tensor w, Tensor grad, Tensor? velocity, int length, in UpdateRule rule)
    {
        CheckCount(length, nameof(length));
        Own(w, length, nameof(w)); Own(grad, length, nameof(grad));
        if (rule.UsesVelocity)
        {
            if (velocity is null) throw new ArgumentException($"The update rule {rule} uses momentum but no velocity tensor was given.", nameof(velocity));
            Own(velocity, length, nameof(velocity));
        }
        if (length == 0) return;
        lock (_lock)
        {
            var args = new Args(this, _update);
            args.Add(w); args.Add(grad); args.Add(rule.UsesVelocity ? velocity! : w);
            args.Add(length); args.Add(rule.LearningRate); args.Add(rule.GradientScale); args.Add(rule.L2); args.Add(rule.L1);
            args.Add(rule.Momentum); args.Add(rule.UsesVelocity ? 1 : 0); args.Add(rule.Nesterov ? 1 : 0);
            Launch(_update, length);
        }
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
