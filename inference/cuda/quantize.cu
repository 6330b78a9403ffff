// Decode activations to int8 for the dp4a matvec (Q8Act in kernels.h): one warp per group of
// 32, a lane per element. The RMSNorm before q/k/v, gate/up and the output does the same in
// its own epilogue, so those activations cost no extra launch.
#include <cuda_fp16.h>

#include "inference/cuda/cuda_check.h"
#include "inference/cuda/dot_q8.cuh"
#include "inference/cuda/kernels.h"
#include "inference/cuda/launch.cuh"

namespace ld::cuda {

namespace {

__global__ void quantize_q8_kernel(const float* __restrict__ x, int n, int8_t* __restrict__ q,
                                   float4* __restrict__ ds) {
    pdl_wait();
    const int group = blockIdx.x * (blockDim.x >> 5) + int(threadIdx.x >> 5);
    if (group * 32 >= n) return;  // the whole warp leaves
    const int lane = threadIdx.x & 31;
    quantize_group(x[group * 32 + lane], q + group * 32, ds + group, lane);
}

constexpr int kNormThreads = 256;

// One row over n / 256 blocks (a decode step has one row, and one block of it would leave
// 131 SMs idle while it walks the row: 6 us on an H200, measured). Every block sums the
// squares of the whole row (16 KiB for 4096, from L2), then normalizes and quantizes its own
// 256 values: a warp per group of 32.
__global__ void __launch_bounds__(kNormThreads) rmsnorm_q8_kernel(const float* __restrict__ x, const float* __restrict__ w,
                                                                  float* __restrict__ out, int8_t* __restrict__ q,
                                                                  float4* __restrict__ ds, int n, float eps,
                                                                  double* __restrict__ zero, int n_zero) {
    pdl_wait();
    if (zero && blockIdx.x == 0)
        for (int i = threadIdx.x; i < n_zero; i += kNormThreads) zero[i] = 0.0;
    double ss = 0.0;  // as the CPU reference, so long rows of large activations lose nothing
    for (int i = threadIdx.x; i < n; i += kNormThreads) ss += double(x[i]) * double(x[i]);
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) ss += __shfl_xor_sync(0xffffffffu, ss, o);
    __shared__ double part[kNormThreads / 32];
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    if (lane == 0) part[warp] = ss;
    __syncthreads();
    ss = 0.0;
#pragma unroll
    for (int k = 0; k < kNormThreads / 32; ++k) ss += part[k];
    const float scale = float(1.0 / sqrt(ss / n + double(eps)));
    const int i = blockIdx.x * kNormThreads + threadIdx.x;
    if (!q) {
        if (i < n) out[i] = x[i] * scale * w[i];
        return;
    }
    if (i - lane >= n) return;  // whole groups only (n is a multiple of 32)
    const float v = x[i] * scale * w[i];
    out[i] = v;
    quantize_group(v, q + (i - lane), ds + (i >> 5), lane);
}

}  // namespace

void launch_quantize_q8(const float* x, int n, Q8Act q, cudaStream_t s) {
    if (n <= 0) return;
    if (n % 32 != 0) fail("CUDA quantize: ", n, " is not a multiple of 32");
    const int groups = n / 32, per_block = 8;
    launch(quantize_q8_kernel, dim3(unsigned((groups + per_block - 1) / per_block)), dim3(per_block * 32), 0, s,
           "quantize_q8", x, n, q.q, q.ds);
}

void launch_rmsnorm_q8(const float* x, const float* w, float* out, Q8Act q, int n, float eps, cudaStream_t s,
                       double* zero, int n_zero) {
    if (q.q && n % 32 != 0) fail("CUDA rmsnorm_q8: ", n, " is not a multiple of 32");
    if (n <= 0) return;
    launch(rmsnorm_q8_kernel, dim3(unsigned((n + kNormThreads - 1) / kNormThreads)), dim3(kNormThreads), 0, s,
           "rmsnorm_q8", x, w, out, q.q, q.ds, n, eps, zero, n_zero);
}

}  // namespace ld::cuda
