using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using NativeNet.Core.Threading;
using NativeNet.Core.Backends;

namespace NativeNet.Core.Kernels;

internal static partial class ConvKernels
{
    /// <summary>
    /// Pools each window of input [Planes, H, W] into output [Planes, OH, OW]. For max pooling
    /// <paramref name="argmax"/> receives the in-plane index of each window's maximum (first on ties),
    /// stored as a float (exact below 2^24); other kinds leave it untouched.
    /// With a <paramref name="pool"/> and at least <see cref="Elementwise.ParallelElements"/> outputs, contiguous ranges of
    /// planes go to the workers (argmax indices are within a plane, so they do not change).
    /// </summary>
    public static unsafe void PoolForward(PoolKind kind, ReadOnlySpan<float> input, Span<float> output, Span<float> argmax, in PoolGeometry g,
        WorkerPool? pool, CpuContext cpu)
    {
        g.Validate();
        CheckLength(input.Length, g.InputLength, "input");
        CheckLength(output.Length, g.OutputLength, "output");
        if (kind == PoolKind.Max) CheckLength(argmax.Length, g.OutputLength, "argmax");
        fixed (float* px = input, py = output, pat = argmax)
        {
            var work = new PoolSplit(kind, px, py, pat, g, cpu.HasVector256);
            Elementwise.RunSplit(ref work, g.OutputLength, g.Planes, pool);
        }
    }

    /// <summary>A contiguous range of planes per worker.</summary>
    private readonly unsafe struct PoolSplit(PoolKind kind, float* input, float* output, float* argmax, PoolGeometry g, bool simd) : IParallelWork
    {
        public void Execute(int worker, int workers)
        {
            var (p0, p1) = WorkerPool.Partition(g.Planes, worker, workers);
            if (p0 >= p1) return;
            var part = g with { Planes = p1 - p0 };
            int inPlane = g.Height * g.Width, outPlane = g.OutHeight * g.OutWidth;
            PoolPlanes(kind, new ReadOnlySpan<float>(input + (long)p0 * inPlane, part.InputLength),
                new Span<float>(output + (long)p0 * outPlane, part.OutputLength),
                kind == PoolKind.Max ? new Span<float>(argmax + (long)p0 * outPlane, part.OutputLength) : default, part, simd);
        }
    }

    /// <summary><see cref="PoolForward"/> on one thread, the geometry and lengths already checked.</summary>
    private static void PoolPlanes(PoolKind kind, ReadOnlySpan<float> input, Span<float> output, Span<float> argmax, in PoolGeometry g, bool simd)
    {
        if (kind == PoolKind.Max && g.Window == 2 && g.Stride == 2)
        {
            MaxPool2x2(input, output, argmax, g, simd);
            return;
        }
        int oh = g.OutHeight, ow = g.OutWidth, plane = g.Height * g.Width, w = g.Window;
        float inv = 1f / (w * w);
        for (int p = 0; p < g.Planes; p++)
        {
            var src = input.Slice(p * plane, plane);
            int o = p * oh * ow;
            for (int y = 0; y < oh; y++)
                for (int x = 0; x < ow; x++, o++)
                {
                    int y0 = y * g.Stride, x0 = x * g.Stride;
                    float best = float.NegativeInfinity, sum = 0f;
                    int bestAt = y0 * g.Width + x0;
                    for (int dy = 0; dy < w; dy++)
                        for (int dx = 0; dx < w; dx++)
                        {
                            int at = (y0 + dy) * g.Width + x0 + dx;
                            float v = src[at];
                            if (v > best) { best = v; bestAt = at; }
                            sum += kind == PoolKind.L2 ? v * v : v;
                        }
                    switch (kind)
                    {
                        case PoolKind.Max: output[o] = best; argmax[o] = bestAt; break;
                        case PoolKind.Average: output[o] = sum * inv; break;
                        default: output[o] = MathF.Sqrt(sum); break;
                    }
                }
        }
    }

    /// <summary>
    /// The book's 2x2 max-pooling, the common case. Branch-free SIMD with <paramref name="simd"/> (AVX2): each row pair is split into even and odd columns,
    /// and compare-and-select keeps the maximum and its index (ties go to the first of top-left, top-right, bottom-left,
    /// bottom-right, as in the general path). Mispredicted branches on unpredictable activations cost more than this arithmetic.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void MaxPool2x2(ReadOnlySpan<float> input, Span<float> output, Span<float> argmax, in PoolGeometry g, bool simd)
    {
        int oh = g.OutHeight, ow = g.OutWidth, w = g.Width, plane = g.Height * w;
        fixed (float* pin = input, pout = output, parg = argmax)
        {
            float* o = pout, a = parg;
            for (int p = 0; p < g.Planes; p++)
            {
                float* src = pin + (long)p * plane;
                for (int y = 0; y < oh; y++, o += ow, a += ow)
                {
                    int top = 2 * y * w;
                    int x = 0;
                    if (simd)
                    {
                        for (; x <= ow - 8; x += 8) MaxPool8(src, top, w, x, o, a);
                        for (; x <= ow - 4; x += 4) MaxPool4(src, top, w, x, o, a);
                    }
                    for (; x < ow; x++)
                    {
                        int a0 = top + 2 * x, a2 = a0 + w;
                        float best = src[a0]; int at = a0;
                        if (src[a0 + 1] > best) { best = src[a0 + 1]; at = a0 + 1; }
                        if (src[a2] > best) { best = src[a2]; at = a2; }
                        if (src[a2 + 1] > best) { best = src[a2 + 1]; at = a2 + 1; }
                        o[x] = best;
                        a[x] = at;
                    }
                }
            }
        }
    }

    /// <summary>Eight outputs x..x+7 of one output row: inputs at columns 2x..2x+15 of rows top and top + w.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void MaxPool8(float* src, int top, int w, int x, float* o, float* a)
    {
        float* r0 = src + top + 2 * x, r1 = r0 + w;
        var (e0, o0) = Deinterleave(Avx.LoadVector256(r0), Avx.LoadVector256(r0 + 8));
        var (e1, o1) = Deinterleave(Avx.LoadVector256(r1), Avx.LoadVector256(r1 + 8));
        var (max, at) = WindowMax(e0, o0, e1, o1, top + 2 * x, w);
        max.Store(o + x);
        at.Store(a + x);
    }

    /// <summary>
    /// Four outputs x..x+3 (the 8 x 8 maps of the second conv layer): 128-bit loads, the same selection in the low half
    /// (the upper lanes hold whatever the registers held and are never stored).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void MaxPool4(float* src, int top, int w, int x, float* o, float* a)
    {
        float* r0 = src + top + 2 * x, r1 = r0 + w;
        Vector128<float> l0 = Sse.LoadVector128(r0), h0 = Sse.LoadVector128(r0 + 4), l1 = Sse.LoadVector128(r1), h1 = Sse.LoadVector128(r1 + 4);
        var (max, at) = WindowMax(Sse.Shuffle(l0, h0, 0x88).ToVector256Unsafe(), Sse.Shuffle(l0, h0, 0xDD).ToVector256Unsafe(),
            Sse.Shuffle(l1, h1, 0x88).ToVector256Unsafe(), Sse.Shuffle(l1, h1, 0xDD).ToVector256Unsafe(), top + 2 * x, w);
        max.GetLower().Store(o + x);
        at.GetLower().Store(a + x);
    }

    /// <summary>
    /// The 2x2 maxima of one pair of rows (<paramref name="width"/> a multiple of 4): output[x] = the maximum of top and
    /// bottom at columns 2x and 2x + 1, chosen in the order <see cref="MaxPool2x2"/> chooses (the same value, ties and NaNs
    /// included), without the argmax: inference that pools inside the direct convolution's units
    /// (<see cref="DirectConvolution.ConvolveMaxPool2"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static unsafe void MaxPoolRowPair(float* top, float* bottom, int width, float* output)
    {
        int x = 0;
        for (; x <= width / 2 - 8; x += 8)
        {
            var (e0, o0) = Deinterleave(Avx.LoadVector256(top + 2 * x), Avx.LoadVector256(top + 2 * x + 8));
            var (e1, o1) = Deinterleave(Avx.LoadVector256(bottom + 2 * x), Avx.LoadVector256(bottom + 2 * x + 8));
            WindowMaxValue(e0, o0, e1, o1).Store(output + x);
        }
        for (; x < width / 2; x += 4)
        {
            // One 256-bit load a row, split in registers: the rows were just written by 256-bit stores, and a 128-bit load
            // of a store's upper half waits for the store to retire instead of taking its data.
            var t = Avx.LoadVector256(top + 2 * x);
            var b = Avx.LoadVector256(bottom + 2 * x);
            Vector128<float> l0 = t.GetLower(), h0 = t.GetUpper(), l1 = b.GetLower(), h1 = b.GetUpper();
            WindowMaxValue(Sse.Shuffle(l0, h0, 0x88).ToVector256Unsafe(), Sse.Shuffle(l0, h0, 0xDD).ToVector256Unsafe(),
                Sse.Shuffle(l1, h1, 0x88).ToVector256Unsafe(), Sse.Shuffle(l1, h1, 0xDD).ToVector256Unsafe()).GetLower().Store(output + x);
        }
    }

    /// <summary>The value half of <see cref="WindowMax"/>: the same comparisons in the same order.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> WindowMaxValue(Vector256<float> e0, Vector256<float> o0, Vector256<float> e1, Vector256<float> o1)
    {
        var top = Vector256.ConditionalSelect(Vector256.GreaterThan(o0, e0), o0, e0);
        var bottom = Vector256.ConditionalSelect(Vector256.GreaterThan(o1, e1), o1, e1);
        return Vector256.ConditionalSelect(Vector256.GreaterThan(bottom, top), bottom, top);
    }

    /// <summary>
    /// The maximum of each 2x2 window and its in-plane index (as a float, exact below 2^24), from the even and odd columns
    /// of its top (e0, o0) and bottom (e1, o1) rows; lane l's top-left input is at <paramref name="topLeft"/> + 2l.
    /// Ties go to the first of top-left, top-right, bottom-left, bottom-right.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector256<float> Max, Vector256<float> Index) WindowMax(Vector256<float> e0, Vector256<float> o0,
        Vector256<float> e1, Vector256<float> o1, int topLeft, int w)
    {
        var i0 = Vector256.Create((float)topLeft) + Vector256.Create(0f, 2, 4, 6, 8, 10, 12, 14);
        var one = Vector256<float>.One;
        var upper = Vector256.GreaterThan(o0, e0);
        var mTop = Vector256.ConditionalSelect(upper, o0, e0);
        var iTop = Vector256.ConditionalSelect(upper, i0 + one, i0);
        var lowerRight = Vector256.GreaterThan(o1, e1);
        var mBottom = Vector256.ConditionalSelect(lowerRight, o1, e1);
        var iBottom = Vector256.ConditionalSelect(lowerRight, i0 + one, i0) + Vector256.Create((float)w);
        var lower = Vector256.GreaterThan(mBottom, mTop);
        return (Vector256.ConditionalSelect(lower, mBottom, mTop), Vector256.ConditionalSelect(lower, iBottom, iTop));
    }

    /// <summary>
    /// Backward of 2x2 max-pooling when the windows tile the plane: every input pixel lies in exactly one window, so each
    /// is written once (the window's gradient where the argmax points, 0 elsewhere) and nothing needs clearing first.
    /// The argmax must come from <see cref="PoolForward"/> (one of its window's four positions).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void MaxUnpool2x2(ReadOnlySpan<float> argmax, ReadOnlySpan<float> gradOutput, Span<float> gradInput, in PoolGeometry g, bool simd)
    {
        int oh = g.OutHeight, ow = g.OutWidth, w = g.Width, plane = g.Height * w;
        fixed (float* parg = argmax, pgo = gradOutput, pgi = gradInput)
        {
            float* a = parg, go = pgo;
            for (int p = 0; p < g.Planes; p++)
            {
                float* dst = pgi + (long)p * plane;
                for (int y = 0; y < oh; y++, a += ow, go += ow)
                {
                    int top = 2 * y * w, x = 0;
                    float* r0 = dst + top, r1 = r0 + w;
                    if (simd)
                    {
                        for (; x <= ow - 8; x += 8)
                        {
                            var (e0, o0, e1, o1) = WindowGradients(Vector256.Load(a + x), Vector256.Load(go + x), top + 2 * x, w);
                            Interleave(e0, o0, r0 + 2 * x);
                            Interleave(e1, o1, r1 + 2 * x);
                        }
                        for (; x <= ow - 4; x += 4)
                        {
                            var (e0, o0, e1, o1) = WindowGradients(Vector128.Load(a + x).ToVector256Unsafe(), Vector128.Load(go + x).ToVector256Unsafe(), top + 2 * x, w);
                            Sse.UnpackLow(e0.GetLower(), o0.GetLower()).Store(r0 + 2 * x); Sse.UnpackHigh(e0.GetLower(), o0.GetLower()).Store(r0 + 2 * x + 4);
                            Sse.UnpackLow(e1.GetLower(), o1.GetLower()).Store(r1 + 2 * x); Sse.UnpackHigh(e1.GetLower(), o1.GetLower()).Store(r1 + 2 * x + 4);
                        }
                    }
                    for (; x < ow; x++)
                    {
                        int a0 = top + 2 * x, at = (int)a[x];
                        float gx = go[x];
                        r0[2 * x] = at == a0 ? gx : 0f;
                        r0[2 * x + 1] = at == a0 + 1 ? gx : 0f;
                        r1[2 * x] = at == a0 + w ? gx : 0f;
                        r1[2 * x + 1] = at == a0 + w + 1 ? gx : 0f;
                    }
                }
            }
        }
    }

    /// <summary>
    /// The gradient each window's four inputs receive: the output gradient where the argmax points, 0 elsewhere, as the even
    /// and odd columns of the top (e0, o0) and bottom (e1, o1) rows; lane l's top-left input is at <paramref name="topLeft"/> + 2l.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector256<float> E0, Vector256<float> O0, Vector256<float> E1, Vector256<float> O1) WindowGradients(
        Vector256<float> at, Vector256<float> grad, int topLeft, int w)
    {
        var i0 = Vector256.Create((float)topLeft) + Vector256.Create(0f, 2, 4, 6, 8, 10, 12, 14);
        var one = Vector256<float>.One; var down = Vector256.Create((float)w);
        return (Vector256.ConditionalSelect(Vector256.Equals(at, i0), grad, default),
            Vector256.ConditionalSelect(Vector256.Equals(at, i0 + one), grad, default),
            Vector256.ConditionalSelect(Vector256.Equals(at, i0 + down), grad, default),
            Vector256.ConditionalSelect(Vector256.Equals(at, i0 + down + one), grad, default));
    }

    /// <summary>Stores even ++ odd interleaved: dst[0..16) = e0 o0 e1 o1 ... e7 o7.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Interleave(Vector256<float> even, Vector256<float> odd, float* dst)
    {
        var lo = Avx.UnpackLow(even, odd);    // e0 o0 e1 o1 | e4 o4 e5 o5
        var hi = Avx.UnpackHigh(even, odd);   // e2 o2 e3 o3 | e6 o6 e7 o7
        Avx.Store(dst, Avx.Permute2x128(lo, hi, 0x20));
        Avx.Store(dst + 8, Avx.Permute2x128(lo, hi, 0x31));
    }

    /// <summary>(even, odd) elements of the 16 floats lo ++ hi, each in order.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector256<float> Even, Vector256<float> Odd) Deinterleave(Vector256<float> lo, Vector256<float> hi)
    {
        var even = Avx.Shuffle(lo, hi, 0x88);   // lo0 lo2 hi0 hi2 | lo4 lo6 hi4 hi6
        var odd = Avx.Shuffle(lo, hi, 0xDD);    // lo1 lo3 hi1 hi3 | lo5 lo7 hi5 hi7
        return (Avx2.Permute4x64(even.AsDouble(), 0xD8).AsSingle(), Avx2.Permute4x64(odd.AsDouble(), 0xD8).AsSingle());
    }

    /// <summary>
    /// gradInput [Planes, H, W] from gradOutput [Planes, OH, OW] (overwrites). Max routes each gradient to its
    /// argmax; average spreads it evenly; L2 scales by x / out (0 where out is 0). Overlapping windows accumulate.
    /// </summary>
    public static void PoolBackward(PoolKind kind, ReadOnlySpan<float> input, ReadOnlySpan<float> output, ReadOnlySpan<float> argmax,
        ReadOnlySpan<float> gradOutput, Span<float> gradInput, in PoolGeometry g, CpuContext cpu)
    {
        g.Validate();
        CheckLength(gradOutput.Length, g.OutputLength, "gradOutput");
        CheckLength(gradInput.Length, g.InputLength, "gradInput");
        if (kind == PoolKind.Max) CheckLength(argmax.Length, g.OutputLength, "argmax");
        else { CheckLength(input.Length, g.InputLength, "input"); CheckLength(output.Length, g.OutputLength, "output"); }
        if (kind == PoolKind.Max && g.Window == 2 && g.Stride == 2 && g.Height % 2 == 0 && g.Width % 2 == 0)
        {
            MaxUnpool2x2(argmax, gradOutput, gradInput, g, cpu.HasVector256);
            return;
        }
        gradInput[..g.InputLength].Clear();
        int oh = g.OutHeight, ow = g.OutWidth, plane = g.Height * g.Width, w = g.Window;
        float inv = 1f / (w * w);
        for (int p = 0; p < g.Planes; p++)
        {
            var dst = gradInput.Slice(p * plane, plane);
            int o = p * oh * ow;
            for (int y = 0; y < oh; y++)
                for (int x = 0; x < ow; x++, o++)
                {
                    float go = gradOutput[o];
                    if (kind == PoolKind.Max)
                    {
                        int at = (int)argmax[o];
                        if ((uint)at >= (uint)plane) throw new ArgumentException($"argmax[{o}] = {argmax[o]} is outside the {g.Height}x{g.Width} plane.", nameof(argmax));
                        dst[at] += go;
                        continue;
                    }
                    float outv = output[o];
                    for (int dy = 0; dy < w; dy++)
                        for (int dx = 0; dx < w; dx++)
                        {
                            int at = (y * g.Stride + dy) * g.Width + x * g.Stride + dx;
                            dst[at] += kind == PoolKind.Average ? go * inv : (outv > 0f ? go * input[p * plane + at] / outv : 0f);
                        }
                }
        }
    }
}
