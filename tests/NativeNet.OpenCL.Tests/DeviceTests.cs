using NativeNet.Core.Backends;
using NativeNet.Core.Kernels;

namespace NativeNet.OpenCL.Tests;

/// <summary>Device discovery, specs, errors, transfers, thread safety and allocation-free steady state.</summary>
public sealed class DeviceTests
{
    private static OpenClBackend Cl => OpenClTestEnvironment.Backend;

    [OpenClFact]
    public void List_reports_devices_with_their_properties()
    {
        OpenClTestEnvironment.RequirePlatform();
        var devices = OpenClDevices.List();
        Assert.NotEmpty(devices);
        for (int i = 0; i < devices.Count; i++)
        {
            var d = devices[i];
            Assert.Equal(i, d.Index);
            Assert.False(string.IsNullOrWhiteSpace(d.Name));
            Assert.False(string.IsNullOrWhiteSpace(d.Platform));
            Assert.StartsWith("OpenCL ", d.Version);
            Assert.True(d.GlobalMemoryBytes > 0);
            Assert.True(d.ComputeUnits > 0);
            Assert.Contains(d.Name, d.ToString());
            Assert.Equal($"opencl:{i}", d.Spec);
        }
    }

    [OpenClFact]
    public void Backend_is_named_after_its_device()
    {
        Assert.Equal("opencl: " + Cl.Device.Name, Cl.Name);
        Assert.Contains("GEMM_RT", Cl.BuildOptions);
        Assert.True(Cl.GemmTile >= 8);
    }

    [OpenClFact]
    public void Explicit_device_index_selects_that_device()
    {
        OpenClTestEnvironment.RequirePlatform();
        using var first = OpenClBackend.Create("opencl:0");
        Assert.Equal(OpenClDevices.List()[0].Name, first.Device.Name);
        Assert.Equal(0, first.Device.Index);
    }

    [OpenClFact]
    public void Bogus_device_index_throws_OpenClException_naming_the_index_and_the_devices()
    {
        OpenClTestEnvironment.RequirePlatform();
        int count = OpenClDevices.List().Count;
        var e = Assert.Throws<OpenClException>(() => OpenClBackend.Create($"opencl:{count + 40}"));
        Assert.Equal("clGetDeviceIDs", e.Call);
        Assert.Equal(-1, e.ErrorCode);
        Assert.Contains($"'opencl:{count + 40}'", e.Message);
        Assert.Contains("CL_DEVICE_NOT_FOUND (-1)", e.Message);
        Assert.Contains($"{count} found", e.Message);
        Assert.Contains(OpenClDevices.List()[0].Name, e.Message);
    }

    [Theory]
    [InlineData("cuda")]
    [InlineData("opencl:")]
    [InlineData("opencl:-1")]
    [InlineData("opencl:x")]
    [InlineData("")]
    public void Malformed_spec_is_an_argument_error(string spec)
        => Assert.Throws<ArgumentException>(() => OpenClBackend.Create(spec));

    [Fact]
    public void Exception_message_names_call_device_and_error()
    {
        var e = new OpenClException("clEnqueueNDRangeKernel", -5, "pthread-cpu");
        Assert.Equal("clEnqueueNDRangeKernel failed on 'pthread-cpu': CL_OUT_OF_RESOURCES (-5)", e.Message);
        Assert.Equal("CL_OUT_OF_RESOURCES", e.ErrorName);
        Assert.Equal("clGetPlatformIDs failed: CL_PLATFORM_NOT_FOUND_KHR (-1001): x", new OpenClException("clGetPlatformIDs", -1001, null, "x").Message);
        Assert.Equal("CL_UNKNOWN_ERROR", OpenClException.ErrorNameOf(-12345));
        Assert.Equal("CL_MEM_OBJECT_ALLOCATION_FAILURE", OpenClException.ErrorNameOf(-4));
    }

    [Fact]
    public void Missing_platform_skips_locally_but_fails_under_CI()
    {
        Assert.NotNull(OpenClTestEnvironment.SkipReasonFor(false, "no platform", null, null));
        Assert.Contains("pocl-opencl-icd", OpenClTestEnvironment.SkipReasonFor(false, "no platform", null, null));
        Assert.NotNull(OpenClTestEnvironment.SkipReasonFor(false, "r", "", "0"));
        Assert.NotNull(OpenClTestEnvironment.SkipReasonFor(false, "r", "false", null));
        Assert.Null(OpenClTestEnvironment.SkipReasonFor(false, "r", "true", null));
        Assert.Null(OpenClTestEnvironment.SkipReasonFor(false, "r", "1", null));
        Assert.Null(OpenClTestEnvironment.SkipReasonFor(false, "r", null, "1"));
        Assert.Null(OpenClTestEnvironment.SkipReasonFor(true, null, null, null));
        if (!OpenClTestEnvironment.PlatformFound)
        {
            var e = Assert.Throws<InvalidOperationException>(() => OpenClTestEnvironment.Backend);
            Assert.Contains("OpenCL required but no platform: install pocl-opencl-icd", e.Message);
        }
    }

    [OpenClFact]
    public void Build_failure_reports_the_build_log()
    {
        // A program that cannot compile, built on the same device through the backend's check path.
        var device = Cl.Device;
        var e = Assert.Throws<OpenClException>(() => OpenClBackend.BuildForTest(device, "__kernel void broken(__global float* x) { x[0] = undefined_name; }"));
        Assert.Equal("clBuildProgram", e.Call);
        Assert.Contains("CL_BUILD_PROGRAM_FAILURE (-11)", e.Message);
        Assert.Contains("undefined_name", e.Message);
    }

    [OpenClAllocationLimitFact]
    public void Oversized_allocation_throws_OpenClException()
    {
        var e = Assert.Throws<OpenClException>(() => Cl.Allocate(int.MaxValue));
        Assert.Equal("clCreateBuffer", e.Call);
        Assert.Contains(Cl.Device.Name, e.Message);
    }

    [OpenClFact]
    public void Allocate_zero_fills_and_transfers_respect_ranges()
    {
        using var buffer = Cl.Allocate(100);
        Assert.Equal(100, buffer.Length);
        Assert.Same(Cl, buffer.Backend);
        var t = new Tensor("t", buffer, 5, 10, 9);
        var all = new Tensor("all", buffer, 0, 100);
        var host = new float[100];
        Cl.Download(all, host);
        Assert.All(host, v => Assert.Equal(0f, v));

        Cl.Upload(new float[] { 1, 2, 3 }, t, 87);
        var back = new float[4];
        Cl.Download(t, back, 86);
        Assert.Equal(new float[] { 0, 1, 2, 3 }, back);
        Cl.Download(all, host);
        Assert.Equal(1f, host[92]);
        Assert.Equal(0f, host[95]);

        Assert.ThrowsAny<ArgumentException>(() => Cl.Upload(new float[4], t, 87));
        Assert.ThrowsAny<ArgumentException>(() => Cl.Download(t, new float[2], -1));
        Cl.Upload(ReadOnlySpan<float>.Empty, t, 90);
    }

    [OpenClFact]
    public void Tensors_of_another_backend_are_rejected()
    {
        var cl = Cl;
        using var cpuBuffer = OpenClTestEnvironment.Cpu.Allocate(10);
        var foreign = new Tensor("cpu", cpuBuffer, 0, 10);
        var e = Assert.Throws<ArgumentException>(() => cl.Fill(foreign, 1f, 10));
        Assert.Contains("does not live on this backend", e.Message);
        using var mine = cl.Allocate(10);
        var t = new Tensor("t", mine, 0, 10);
        Assert.Throws<ArgumentException>(() => cl.Scale(t, 2f, 11));
        // A tensor of a second OpenCL backend is foreign too.
        var other = OpenClTestEnvironment.WithGemm(cl.GemmKernel == OpenClGemmKernel.Tiled ? OpenClGemmKernel.Direct : OpenClGemmKernel.Tiled);
        using var theirs = other.Allocate(10);
        Assert.Throws<ArgumentException>(() => cl.Scale(new Tensor("theirs", theirs, 0, 10), 2f, 10));
    }

    [OpenClFact]
    public void Concurrent_calls_on_distinct_tensors_are_safe()
    {
        const int n = 4096;
        var cl = Cl;
        var x = Data.Random(n, 5);
        var results = new float[4][];
        Parallel.For(0, 4, i =>
        {
            using var buf = cl.Allocate(n);
            var t = new Tensor("t" + i, buf, 0, n);
            cl.Upload(x, t);
            for (int r = 0; r < 50; r++) cl.Scale(t, i % 2 == 0 ? 1.01f : 0.99f, n);
            results[i] = new float[n];
            cl.Download(t, results[i]);
        });
        Data.AssertBitEqual(results[0], results[2], "threads 0 and 2");
        Data.AssertBitEqual(results[1], results[3], "threads 1 and 3");
    }

    [OpenClFact]
    public void Steady_state_calls_allocate_nothing_on_the_host()
    {
        using var arena = new TensorArena(Cl);
        var a = arena.Allocate("a", 30, 784);
        var b = arena.Allocate("b", 10, 784);
        var c = arena.Allocate("c", 10, 30);
        var bias = arena.Allocate("bias", 30);
        var mask = arena.Allocate("mask", 300);
        var v = arena.Allocate("v", 300);
        arena.Commit();
        var rule = new UpdateRule(0.1f, 0.1f, Momentum: 0.9f);
        var g = new PoolGeometry(3, 10, 10, 2, 2);
        void Step()
        {
            Cl.Gemm(false, true, 10, 30, 784, 1f, b, a, 0f, c);
            Cl.BiasActivation(c, bias, c, 10, 30, BiasAxis.PerColumn, Activation.Sigmoid);
            Cl.Softmax(c, c, 10, 30);
            Cl.DropoutMask(mask, 300, 0.5f, 1, 2);
            Cl.Update(mask, c, v, 300, rule);
            Cl.PoolForward(PoolKind.Max, a, mask, v, g);
            _ = Cl.Sum(c, 300, true);
            _ = Cl.Cost(OutputCost.SoftmaxLogLikelihood, c, c, 300);
            Cl.Synchronize();
        }
        Step();
        SteadyState.AssertAllocatesNothing(() => { for (int i = 0; i < 5; i++) Step(); });
    }
}
