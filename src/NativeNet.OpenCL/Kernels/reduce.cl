// Partial reductions: each work-group writes one partial sum (acc_t: double where the device has fp64);
// the host adds the partials in a fixed order, so a result is deterministic for a given device.

acc_t cost_term(const int cost, const float a, const float y)
{
    if (cost == 1) // sigmoid + cross-entropy, ln(0) clamped like the CPU's 1e-12
    {
#if NN_FP64
        const double ai = clamp((double)a, 1e-12, 1.0 - 1e-12);
        return -((double)y * log(ai) + (double)(1.0f - y) * log(1.0 - ai)); // 1 - y rounds in float, as on the CPU
#else
        // 1 - a is exact in float for a in [0.5, 1], so clamping each logarithm's argument matches the CPU.
        const float lo = clamp(a, 1e-12f, 1.0f), hi = fmax(1.0f - a, 1e-12f);
        return -(y * log(lo) + (1.0f - y) * log(hi));
#endif
    }
    if (cost == 2) // softmax + log-likelihood
        return y != 0.0f ? -(acc_t)y * log(fmax((acc_t)a, (acc_t)1e-30)) : (acc_t)0;
    const acc_t d = (acc_t)(a - y); // quadratic costs: the difference rounds in float, as on the CPU
    return (acc_t)0.5 * d * d;
}

__kernel __attribute__((reqd_work_group_size(LOCAL_1D, 1, 1)))
void cost_partial(const int cost, __global const float* a, const int offA, __global const float* y, const int offY,
                  const int n, __global acc_t* partials)
{
    __local acc_t scratch[LOCAL_1D];
    a += offA; y += offY;
    acc_t s = 0;
    FOR_EACH(i, n) s += cost_term(cost, a[i], y[i]);
    const int lid = (int)get_local_id(0);
    scratch[lid] = s;
    for (int h = LOCAL_1D / 2; h > 0; h >>= 1)
    {
        barrier(CLK_LOCAL_MEM_FENCE);
        if (lid < h) scratch[lid] += scratch[lid + h];
    }
    if (lid == 0) partials[get_group_id(0)] = scratch[0];
}

// Sum of squares (squares != 0) or of absolute values.
__kernel __attribute__((reqd_work_group_size(LOCAL_1D, 1, 1)))
void sum_partial(__global const float* x, const int offX, const int n, const int squares, __global acc_t* partials)
{
    __local acc_t scratch[LOCAL_1D];
    x += offX;
    acc_t s = 0;
    FOR_EACH(i, n) { const acc_t v = x[i]; s += squares ? v * v : fabs(v); }
    const int lid = (int)get_local_id(0);
    scratch[lid] = s;
    for (int h = LOCAL_1D / 2; h > 0; h >>= 1)
    {
        barrier(CLK_LOCAL_MEM_FENCE);
        if (lid < h) scratch[lid] += scratch[lid + h];
    }
    if (lid == 0) partials[get_group_id(0)] = scratch[0];
}
