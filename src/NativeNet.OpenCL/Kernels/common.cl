// Shared definitions for every NativeNet kernel. The host passes -D LOCAL_1D=..., GEMM_RT=..., GEMM_WPT=...
// and NN_FP64=0/1 when it builds the program (once per context).
//
// Contraction of a*b+c into fma is off so elementwise kernels round exactly like the CPU backend
// (which never fuses); the GEMM asks for mad() explicitly where it wants fused multiply-adds.
#pragma OPENCL FP_CONTRACT OFF

#ifndef LOCAL_1D
#define LOCAL_1D 64
#endif

#if NN_FP64
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
typedef double acc_t;
#else
typedef float acc_t;
#endif

// Grid-stride loop over [0, n): the host launches a capped number of work-groups.
#define FOR_EACH(i, n) for (int i = (int)get_global_id(0); i < (n); i += (int)get_global_size(0))

// Activation codes match NativeNet.Activation.
#define ACT_IDENTITY 0
#define ACT_SIGMOID 1
#define ACT_TANH 2
#define ACT_RELU 3

// Sums LOCAL_1D values of scratch[] into scratch[0]; every work-item of the group must call it.
void group_reduce_float(__local float* scratch)
{
    const int lid = (int)get_local_id(0);
    for (int s = LOCAL_1D / 2; s > 0; s >>= 1)
    {
        barrier(CLK_LOCAL_MEM_FENCE);
        if (lid < s) scratch[lid] += scratch[lid + s];
    }
    barrier(CLK_LOCAL_MEM_FENCE);
}

void group_reduce_max(__local float* scratch)
{
    const int lid = (int)get_local_id(0);
    for (int s = LOCAL_1D / 2; s > 0; s >>= 1)
    {
        barrier(CLK_LOCAL_MEM_FENCE);
        if (lid < s) scratch[lid] = fmax(scratch[lid], scratch[lid + s]);
    }
    barrier(CLK_LOCAL_MEM_FENCE);
}
