using NativeNet.Core.Backends;

namespace NativeNet.OpenCL.Tests;

/// <summary>
/// The same data on the CPU and the OpenCL backend, each placed at an odd offset inside a larger buffer with
/// guard values on both sides, so every test also checks offset handling and that kernels stay in bounds.
/// </summary>
internal sealed class Twin : IDisposable
{
    public const float Guard = 12345.5f;
    private readonly DeviceBuffer _cpuBuffer, _clBuffer;
    private readonly Tensor _cpuAll, _clAll;
    private readonly int _pad;
    private readonly OpenClBackend _cl;

    public Twin(string name, ReadOnlySpan<float> data, int pad = 3, OpenClBackend? backend = null)
    {
        var cpu = OpenClTestEnvironment.Cpu;
        var cl = backend ?? OpenClTestEnvironment.Backend;
        _cl = cl;
        _pad = pad;
        Length = data.Length;
        int total = pad + data.Length + pad;
        _cpuBuffer = cpu.Allocate(total);
        _clBuffer = cl.Allocate(total);
        _cpuAll = new Tensor(name + ".all", _cpuBuffer, 0, total);
        _clAll = new Tensor(name + ".all", _clBuffer, 0, total);
        var init = new float[total];
        Array.Fill(init, Guard);
        data.CopyTo(init.AsSpan(pad));
        cpu.Upload(init, _cpuAll);
        cl.Upload(init, _clAll);
        Cpu = new Tensor(name, _cpuBuffer, pad, data.Length);
        Cl = new Tensor(name, _clBuffer, pad, data.Length);
    }

    public static Twin Random(string name, int length, int seed, float scale = 1f, float offset = 0f, OpenClBackend? backend = null)
        => new(name, Data.Random(length, seed, scale, offset), backend: backend);

    public int Length { get; }
    public Tensor Cpu { get; }
    public Tensor Cl { get; }

    public float[] CpuValues()
    {
        var v = new float[Length];
        OpenClTestEnvironment.Cpu.Download(Cpu, v);
        return v;
    }

    public float[] ClValues()
    {
        var all = new float[_clAll.Length];
        _cl.Download(_clAll, all);
        for (int i = 0; i < _pad; i++)
        {
            if (BitConverter.SingleToInt32Bits(all[i]) != BitConverter.SingleToInt32Bits(Guard))
                Assert.Fail($"{Cl.Name}: guard before the tensor was overwritten at {i - _pad}: {all[i]}.");
            if (BitConverter.SingleToInt32Bits(all[_pad + Length + i]) != BitConverter.SingleToInt32Bits(Guard))
                Assert.Fail($"{Cl.Name}: guard after the tensor was overwritten at +{i}: {all[_pad + Length + i]}.");
        }
        return all.AsSpan(_pad, Length).ToArray();
    }

    /// <summary>CPU and OpenCL contents agree within a relative+absolute tolerance (0 = bit for bit).</summary>
    public void AssertAgree(float tol, string what)
    {
        if (tol == 0f) Data.AssertBitEqual(CpuValues(), ClValues(), what);
        else Data.AssertClose(CpuValues(), ClValues(), tol, what);
    }

    public void Dispose()
    {
        _cpuBuffer.Dispose();
        _clBuffer.Dispose();
    }
}

internal static class Data
{
    public static float[] Random(int length, int seed, float scale = 1f, float offset = 0f)
    {
        var rng = new Random(seed);
        var x = new float[length];
        for (int i = 0; i < x.Length; i++) x[i] = (float)(rng.NextDouble() * 2 - 1) * scale + offset;
        return x;
    }

    public static void AssertClose(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, float tol, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            float e = expected[i], a = actual[i];
            if (float.IsNaN(e) && float.IsNaN(a)) continue;
            if (!(MathF.Abs(e - a) <= tol * (1 + MathF.Abs(e))))
                Assert.Fail($"{what}: element {i} of {expected.Length}: CPU {e} but OpenCL {a} (tolerance {tol}).");
        }
    }

    public static void AssertBitEqual(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            if (BitConverter.SingleToInt32Bits(expected[i]) != BitConverter.SingleToInt32Bits(actual[i]))
                Assert.Fail($"{what}: element {i} of {expected.Length}: CPU {expected[i]:R} but OpenCL {actual[i]:R} (bit-exact expected).");
    }
}
