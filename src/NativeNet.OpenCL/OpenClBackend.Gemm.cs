using NativeNet.Core.Backends;
using NativeNet.Core.Gemm;
using NativeNet.Core.Kernels;
using Silk.NET.OpenCL;

namespace NativeNet.OpenCL;

/// <summary>The host side of gemm.cl: the tiled and direct SGEMM kernels and the split-K slices.</summary>
public sealed unsafe partial class OpenClBackend
{
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

    /// <inheritdoc/>
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
}
