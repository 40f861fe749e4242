// Convolution layout kernels, pooling and the channel-major <-> batch-major permute.
// Layouts follow NativeNet.Core.Kernels.ConvKernels exactly: input [C, N, H, W],
// cols [C*KH*KW, N*OH*OW] with row (c, kh, kw) and column (n, oy, ox).
// Backward kernels gather (one work-item per input pixel) instead of scattering, so they need no atomics
// and add contributions in the same order as the CPU loops: results match it bit for bit.

__kernel void im2col(__global const float* input, const int offIn, __global float* cols, const int offCols,
                     const int channels, const int batch, const int height, const int width,
                     const int kh, const int kw, const int stride, const int pad, const int oh, const int ow)
{
    input += offIn; cols += offCols;
    const int q = batch * oh * ow;
    const int total = channels * kh * kw * q;
    FOR_EACH(idx, total)
    {
        const int r = idx / q, col = idx - r * q;
        const int dx = r % kw, dy = (r / kw) % kh, c = r / (kw * kh);
        const int x = col % ow, y = (col / ow) % oh, nn = col / (ow * oh);
        const int iy = y * stride - pad + dy, ix = x * stride - pad + dx;
        cols[idx] = (iy >= 0 && iy < height && ix >= 0 && ix < width)
            ? input[((c * batch + nn) * height + iy) * width + ix] : 0.0f;
    }
}

__kernel void col2im(__global const float* cols, const int offCols, __global float* gradInput, const int offIn,
                     const int channels, const int batch, const int height, const int width,
                     const int kh, const int kw, const int stride, const int pad, const int oh, const int ow)
{
    cols += offCols; gradInput += offIn;
    const int q = batch * oh * ow;
    const int total = channels * batch * height * width;
    FOR_EACH(idx, total)
    {
        const int ix = idx % width, iy = (idx / width) % height;
        const int cn = idx / (width * height);          // c * batch + n
        const int nn = cn % batch, c = cn / batch;
        float s = 0.0f;
        for (int dy = 0; dy < kh; dy++)
        {
            const int ty = iy + pad - dy;
            if (ty < 0 || ty % stride != 0) continue;
            const int y = ty / stride;
            if (y >= oh) continue;
            for (int dx = 0; dx < kw; dx++)
            {
                const int tx = ix + pad - dx;
                if (tx < 0 || tx % stride != 0) continue;
                const int x = tx / stride;
                if (x >= ow) continue;
                s += cols[((c * kh + dy) * kw + dx) * q + (nn * oh + y) * ow + x];
            }
        }
        gradInput[idx] = s;
    }
}

#define POOL_MAX 0
#define POOL_AVG 1
#define POOL_L2 2

__kernel void pool_forward(const int kind, __global const float* input, const int offIn,
                           __global float* output, const int offOut, __global float* argmax, const int offArg,
                           const int planes, const int height, const int width, const int window, const int stride,
                           const int oh, const int ow, const float inv)
{
    input += offIn; output += offOut; argmax += offArg;
    const int total = planes * oh * ow;
    FOR_EACH(o, total)
    {
        const int x = o % ow, y = (o / ow) % oh, p = o / (ow * oh);
        __global const float* src = input + p * height * width;
        const int y0 = y * stride, x0 = x * stride;
        float best = -INFINITY, sum = 0.0f;
        int bestAt = y0 * width + x0;
        for (int dy = 0; dy < window; dy++)
            for (int dx = 0; dx < window; dx++)
            {
                const int at = (y0 + dy) * width + x0 + dx;
                const float v = src[at];
                if (v > best) { best = v; bestAt = at; }
                sum += kind == POOL_L2 ? v * v : v;
            }
        if (kind == POOL_MAX) { output[o] = best; argmax[o] = (float)bestAt; }
        else if (kind == POOL_AVG) output[o] = sum * inv;
        else output[o] = sqrt(sum);
    }
}

__kernel void pool_backward(const int kind, __global const float* input, const int offIn,
                            __global const float* output, const int offOut, __global const float* argmax, const int offArg,
                            __global const float* gradOutput, const int offGo, __global float* gradInput, const int offGi,
                            const int planes, const int height, const int width, const int window, const int stride,
                            const int oh, const int ow, const float inv)
{
    input += offIn; output += offOut; argmax += offArg; gradOutput += offGo; gradInput += offGi;
    const int plane = height * width;
    const int total = planes * plane;
    FOR_EACH(idx, total)
    {
        const int at = idx % plane, p = idx / plane;
        const int iy = at / width, ix = at - iy * width;
        // Windows y cover rows y*stride .. y*stride + window - 1.
        const int yHi = min(iy / stride, oh - 1), xHi = min(ix / stride, ow - 1);
        const int yLo = iy >= window ? (iy - window) / stride + 1 : 0;
        const int xLo = ix >= window ? (ix - window) / stride + 1 : 0;
        const float xin = kind == POOL_L2 ? input[idx] : 0.0f;
        float s = 0.0f;
        for (int y = yLo; y <= yHi; y++)
            for (int x = xLo; x <= xHi; x++)
            {
                const int o = (p * oh + y) * ow + x;
                const float go = gradOutput[o];
                if (kind == POOL_MAX) { if ((int)argmax[o] == at) s += go; }
                else if (kind == POOL_AVG) s += go * inv;
                else { const float outv = output[o]; s += outv > 0.0f ? go * xin / outv : 0.0f; }
            }
        gradInput[idx] = s;
    }
}

// dst[n, c*P + p] = src[c, n, p] (or back with inverse); one work-item per destination element.
__kernel void channel_major_to_batch_major(__global const float* src, const int offSrc, __global float* dst, const int offDst,
                                           const int channels, const int batch, const int pixels, const int inverse)
{
    src += offSrc; dst += offDst;
    const int total = channels * batch * pixels;
    FOR_EACH(idx, total)
    {
        const int px = idx % pixels;
        const int a = (idx / pixels);
        int cm, bm;
        if (inverse) { const int nn = a % batch, c = a / batch; cm = idx; bm = (nn * channels + c) * pixels + px; dst[cm] = src[bm]; }
        else { const int c = a % channels, nn = a / channels; bm = idx; cm = (c * batch + nn) * pixels + px; dst[bm] = src[cm]; }
    }
}
