using NativeNet.Core.Backends;
using NativeNet.Core.Gemm;
using NativeNet.Core.Kernels;
using Silk.NET.OpenCL;

namespace NativeNet.OpenCL;

/// <summary>The host side of reduce.cl: cost and sums as per-work-group partials, added on the host in a fixed order.</summary>
public sealed unsafe partial class OpenClBackend
{
    /// <inheritdoc/>
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

    /// <inheritdoc/>
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
}
