// Elementwise kernels, biases, softmax, dropout and the parameter update. Semantics follow
// NativeNet.Core.Kernels.Elementwise / Optimizer / Dropout; with contraction off, everything but the
// transcendental functions (exp, tanh) rounds exactly like the CPU backend.

float activate(const int f, const float z)
{
    switch (f)
    {
        case ACT_SIGMOID: return 1.0f / (1.0f + exp(-z));
        case ACT_TANH: return tanh(z);
        case ACT_RELU: return (z > 0.0f || isnan(z)) ? z : 0.0f;
        default: return z;
    }
}

// z[r, c] += bias[c] (axis 0, per column) or bias[r] (axis 1, per row); a = f(z). a may be z.
__kernel void bias_activation(__global float* z, const int offZ, __global const float* bias, const int offBias,
                              __global float* a, const int offA, const int rows, const int cols, const int axis, const int f)
{
    z += offZ; bias += offBias; a += offA;
    const int total = rows * cols;
    FOR_EACH(i, total)
    {
        const int r = i / cols;
        const float v = z[i] + bias[axis == 0 ? i - r * cols : r];
        z[i] = v;
        a[i] = activate(f, v);
    }
}

// gradZ = gradA * f'(z), f' from the outputs a; gradZ may be gradA.
__kernel void activation_backward(__global const float* a, const int offA, __global const float* gradA, const int offGa,
                                  __global float* gradZ, const int offGz, const int n, const int f)
{
    a += offA; gradA += offGa; gradZ += offGz;
    FOR_EACH(i, n)
    {
        const float ai = a[i], g = gradA[i];
        float r;
        switch (f)
        {
            case ACT_SIGMOID: r = g * ai * (1.0f - ai); break;
            case ACT_TANH: r = g * (1.0f - ai * ai); break;
            case ACT_RELU: r = ai > 0.0f ? g : 0.0f; break;
            default: r = g; break;
        }
        gradZ[i] = r;
    }
}

// Per-column bias gradient: gradBias[c] = beta gradBias[c] + sum_r gradZ[r, c], rows summed in order
// (the CPU's order). beta == 0 never reads gradBias.
__kernel void bias_grad_columns(__global const float* gradZ, const int offGz, __global float* gradBias, const int offGb,
                                const int rows, const int cols, const float beta)
{
    gradZ += offGz; gradBias += offGb;
    FOR_EACH(c, cols)
    {
        float s = beta == 0.0f ? 0.0f : (beta == 1.0f ? gradBias[c] : beta * gradBias[c]);
        for (int r = 0; r < rows; r++) s += gradZ[r * cols + c];
        gradBias[c] = s;
    }
}

// Per-row bias gradient: one work-group per row reduces it in local memory.
__kernel __attribute__((reqd_work_group_size(LOCAL_1D, 1, 1)))
void bias_grad_rows(__global const float* gradZ, const int offGz, __global float* gradBias, const int offGb,
                    const int rows, const int cols, const float beta)
{
    __local float scratch[LOCAL_1D];
    gradZ += offGz; gradBias += offGb;
    const int lid = (int)get_local_id(0);
    for (int r = (int)get_group_id(0); r < rows; r += (int)get_num_groups(0))
    {
        __global const float* row = gradZ + r * cols;
        float s = 0.0f;
        for (int c = lid; c < cols; c += LOCAL_1D) s += row[c];
        scratch[lid] = s;
        group_reduce_float(scratch);
        if (lid == 0) gradBias[r] = beta == 0.0f ? scratch[0] : beta * gradBias[r] + scratch[0];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
}

// a = softmax of each row of z; one work-group per row. a may be z.
__kernel __attribute__((reqd_work_group_size(LOCAL_1D, 1, 1)))
void softmax_rows(__global const float* z, const int offZ, __global float* a, const int offA, const int rows, const int cols)
{
    __local float scratch[LOCAL_1D];
    z += offZ; a += offA;
    const int lid = (int)get_local_id(0);
    for (int r = (int)get_group_id(0); r < rows; r += (int)get_num_groups(0))
    {
        __global const float* zr = z + r * cols;
        __global float* ar = a + r * cols;
        float mx = -INFINITY;
        for (int c = lid; c < cols; c += LOCAL_1D) mx = fmax(mx, zr[c]);
        scratch[lid] = mx;
        group_reduce_max(scratch);
        mx = scratch[0];
        barrier(CLK_LOCAL_MEM_FENCE);
        float s = 0.0f;
        for (int c = lid; c < cols; c += LOCAL_1D) s += exp(zr[c] - mx);
        scratch[lid] = s;
        group_reduce_float(scratch);
        const float inv = 1.0f / scratch[0];
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int c = lid; c < cols; c += LOCAL_1D) ar[c] = exp(zr[c] - mx) * inv;
    }
}

// OutputCost codes match NativeNet.OutputCost: 0 = sigmoid + quadratic, others delta = a - y.
__kernel void output_delta(const int cost, __global const float* a, const int offA, __global const float* y, const int offY,
                           __global float* delta, const int offD, const int n)
{
    a += offA; y += offY; delta += offD;
    FOR_EACH(i, n)
    {
        const float ai = a[i], yi = y[i];
        delta[i] = cost == 0 ? (ai - yi) * ai * (1.0f - ai) : ai - yi;
    }
}

__kernel void multiply(__global const float* x, const int offX, __global const float* y, const int offY,
                       __global float* dst, const int offD, const int n)
{
    x += offX; y += offY; dst += offD;
    FOR_EACH(i, n) dst[i] = x[i] * y[i];
}

__kernel void scale(__global float* x, const int offX, const float s, const int n)
{
    x += offX;
    FOR_EACH(i, n) x[i] = x[i] * s;
}

__kernel void fill(__global float* x, const int offX, const float v, const int n)
{
    x += offX;
    FOR_EACH(i, n) x[i] = v;
}

// Disjoint ranges only (the host stages overlapping copies through a scratch buffer).
__kernel void copy(__global const float* src, const int offSrc, __global float* dst, const int offDst, const int n)
{
    src += offSrc; dst += offDst;
    FOR_EACH(i, n) dst[i] = src[i];
}

// The top 24 bits of a SplitMix64-finalized hash of (seed, stream, index): Dropout.Uniform24 on the CPU.
uint uniform24(const ulong seed, const ulong stream, const ulong index)
{
    ulong z = seed + 0x9E3779B97F4A7C15UL * (stream + 1UL) + 0xD1B54A32D192ED03UL * (index + 1UL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
    z ^= z >> 31;
    return (uint)(z >> 40);
}

__kernel void dropout_mask(__global float* mask, const int offM, const int n, const uint threshold, const ulong seed, const ulong stream)
{
    mask += offM;
    FOR_EACH(i, n) mask[i] = uniform24(seed, stream, (ulong)i) < threshold ? 1.0f : 0.0f;
}

// One optimizer step (NativeNet.Core.Kernels.Optimizer.Update): g = grad*scale + l2*w + l1*sign(w);
// SGD w -= lr g; momentum v = mu v - lr g, w += v; Nesterov w += -mu v + (1 + mu) v'.
__kernel void update(__global float* w, const int offW, __global const float* grad, const int offG,
                     __global float* velocity, const int offV, const int n,
                     const float lr, const float gradScale, const float l2, const float l1, const float mu,
                     const int useVelocity, const int nesterov)
{
    w += offW; grad += offG; velocity += offV;
    FOR_EACH(i, n)
    {
        const float wi = w[i];
        const float sgn = wi > 0.0f ? 1.0f : (wi < 0.0f ? -1.0f : 0.0f);
        const float g = grad[i] * gradScale + l2 * wi + (l1 == 0.0f ? 0.0f : l1 * sgn);
        if (!useVelocity) { w[i] = wi - lr * g; continue; }
        const float v = velocity[i], vNew = mu * v - lr * g;
        velocity[i] = vNew;
        w[i] = nesterov ? wi - mu * v + (1.0f + mu) * vNew : wi + vNew;
    }
}
