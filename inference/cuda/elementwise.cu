// The small per-token ops of the forward pass: RMSNorm, SwiGLU, and RoPE fused with the f16
// KV-cache store. Same formulas as inference/cpu/ops.cpp.
#include <cuda_fp16.h>

#include "inference/cuda/cuda_check.h"
#include "inference/cuda/kernels.h"
#include "inference/cuda/launch.cuh"

namespace ld::cuda {

namespace {

// One block per row; the sum of squares in double like the CPU reference (long rows of large
// activations must not lose the small ones).
__global__ void rmsnorm_kernel(const float* __restrict__ x, const float* __restrict__ w, float* __restrict__ out,
                               int n, float eps) {
    pdl_wait();
    const float* xr = x + size_t(blockIdx.x) * n;
    float* orow = out + size_t(blockIdx.x) * n;
    double ss = 0.0;
    for (int i = threadIdx.x; i < n; i += blockDim.x) ss += double(xr[i]) * double(xr[i]);
    for (int o = 16; o > 0; o >>= 1) ss += __shfl_xor_sync(0xffffffffu, ss, o);
    __shared__ double part[32];
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    if (lane == 0) part[warp] = ss;
    __syncthreads();
    if (warp == 0) {
        ss = lane < int(blockDim.x >> 5) ? part[lane] : 0.0;
        for (int o = 16; o > 0; o >>= 1) ss += __shfl_xor_sync(0xffffffffu, ss, o);
        if (lane == 0) part[0] = ss;
    }
    __syncthreads();
    const float scale = float(1.0 / sqrt(part[0] / n + double(eps)));
    for (int i = threadIdx.x; i < n; i += blockDim.x) orow[i] = xr[i] * scale * w[i];
}

__global__ void swiglu_kernel(float* __restrict__ g, const float* __restrict__ u, size_t n) {
    pdl_wait();
    const size_t i = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
    if (i < n) g[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
}

// A thread per rotated pair (q and k heads of every token) and per v value: a decode step has
// 2,560 pairs and 1,024 values for an 8B model, which one block walked in ~10 us (measured).
// Paged: token t's position is d_pos[t] and its cache row slots[t] (a paged step, many
// sequences); otherwise both are *d_pos + t (one sequence, the cache in position order).
template <bool Paged>
__global__ void rope_store_kernel(float* __restrict__ q, const float* __restrict__ k, const float* __restrict__ v,
                                  __half* __restrict__ kc, __half* __restrict__ vc, const int32_t* __restrict__ d_pos,
                                  const int32_t* __restrict__ slots, int n_heads, int n_kv, int hd, int rope_dim,
                                  const float* __restrict__ inv_freq) {
    pdl_wait();
    const int t = blockIdx.y;
    const int pos = Paged ? d_pos[t] : d_pos[0] + t;
    const size_t row = Paged ? size_t(slots[t]) : size_t(pos);  // cache row
    const int qd = n_heads * hd, kvd = n_kv * hd;
    const int half_hd = hd / 2;
    const int n_pairs = (n_heads + n_kv) * half_hd;
    const int p = blockIdx.x * blockDim.x + threadIdx.x;
    if (p >= n_pairs) {
        const int j = p - n_pairs;  // the v values, after the pairs
        if (j < kvd) vc[row * kvd + j] = __float2half_rn(v[size_t(t) * kvd + j]);
        return;
    }
    const int head = p / half_hd, i = p % half_hd;
    const bool is_q = head < n_heads;
    const float* src = is_q ? q + size_t(t) * qd + size_t(head) * hd : k + size_t(t) * kvd + size_t(head - n_heads) * hd;
    float a = src[2 * i], b = src[2 * i + 1];
    if (2 * i < rope_dim) {
        float sn, cs;
        sincosf(float(pos) * inv_freq[i], &sn, &cs);
        const float ra = a * cs - b * sn, rb = a * sn + b * cs;
        a = ra;
        b = rb;
    }
    if (is_q) {
        float* dst = q + size_t(t) * qd + size_t(head) * hd;
        dst[2 * i] = a;
        dst[2 * i + 1] = b;
    } else {
        __half* dst = kc + row * kvd + size_t(head - n_heads) * hd;
        dst[2 * i] = __float2half_rn(a);
        dst[2 * i + 1] = __float2half_rn(b);
    }
}

}  // namespace

void launch_rmsnorm(const float* x, const float* w, float* out, int n, int rows, float eps, cudaStream_t s) {
    if (rows <= 0) return;
    launch(rmsnorm_kernel, dim3(unsigned(rows)), dim3(256), 0, s, "rmsnorm", x, w, out, n, eps);
}

void launch_swiglu(float* g, const float* u, size_t n, cudaStream_t s) {
    if (n == 0) return;
    launch(swiglu_kernel, dim3(unsigned((n + 255) / 256)), dim3(256), 0, s, "swiglu", g, static_cast<const float*>(u), n);
}

namespace {

template <bool Paged>
void rope_store(float* q, const float* k, const float* v, uint16_t* k_cache, uint16_t* v_cache, const int32_t* d_pos,
                const int32_t* slots, int B, int n_heads, int n_kv, int hd, int rope_dim, const float* inv_freq,
                cudaStream_t s) {
    if (B <= 0) return;
    if (hd % 2 != 0 || rope_dim > hd) fail("CUDA rope: head_dim ", hd, " / rope_dim ", rope_dim, " unsupported");
    if (B > 65535) fail("CUDA rope: ", B, " tokens in one launch");
    const int work = (n_heads + n_kv) * (hd / 2) + n_kv * hd;  // pairs, then v values
    const dim3 grid(unsigned((work + 255) / 256), unsigned(B));
    launch(rope_store_kernel<Paged>, grid, dim3(256), 0, s, "rope_store", q, k, v, reinterpret_cast<__half*>(k_cache),
           reinterpret_cast<__half*>(v_cache), d_pos, slots, n_heads, n_kv, hd, rope_dim, inv_freq);
}

}  // namespace

void launch_rope_store(float* q, const float* k, const float* v, uint16_t* k_cache, uint16_t* v_cache,
                       const int32_t* d_pos, int B, int n_heads, int n_kv, int hd, int rope_dim,
                       const float* inv_freq, cudaStream_t s) {
    rope_store<false>(q, k, v, k_cache, v_cache, d_pos, nullptr, B, n_heads, n_kv, hd, rope_dim, inv_freq, s);
}

void launch_rope_store_paged(float* q, const float* k, const float* v, uint16_t* k_cache, uint16_t* v_cache,
                             const int32_t* positions, const int32_t* slots, int B, int n_heads, int n_kv, int hd,
                             int rope_dim, const float* inv_freq, cudaStream_t s) {
    rope_store<true>(q, k, v, k_cache, v_cache, positions, slots, B, n_heads, n_kv, hd, rope_dim, inv_freq, s);
}

}  // namespace ld::cuda
