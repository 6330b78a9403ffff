// Causal GQA attention over the f16 KV cache, split along the sequence (flash-decoding): block
// (chunk c, head h, token t) scores query t of head h against cache positions
// [c*chunk, min((c+1)*chunk, pos_t + 1)), keeps the chunk's max, exp-sum and unnormalized
// weighted V sum; a second kernel merges the chunks. Decode (one token) thus spreads a long
// context over many SMs; the grid does not depend on the position (it is read from device
// memory), so the decode step can be a replayed CUDA graph.
#include <cuda_fp16.h>

#include <cmath>

#include "inference/cuda/cuda_check.h"
#include "inference/cuda/kernels.h"

namespace ld::cuda {

namespace {

constexpr int kThreads = 128;
constexpr int kWarps = kThreads / 32;

__global__ void __launch_bounds__(kThreads) attn_chunk_kernel(AttnArgs a) {
    extern __shared__ float smem[];
    float* qs = smem;              // (hd) query * scale
    float* sc = smem + a.hd;       // (chunk) scores, then exp weights
    __shared__ float red[kWarps];
    __shared__ float stat[2];

    const int c = blockIdx.x, h = blockIdx.y, tl = blockIdx.z;
    const int t = a.t0 + tl;
    const int n_kv = a.d_pos[0] + t + 1;
    const int start = c * a.chunk, end = min(start + a.chunk, n_kv);
    float* part = a.part + ((size_t(tl) * a.n_heads + h) * a.n_chunks + c) * size_t(a.hd + 2);
    if (start >= end) {  // the whole block leaves together
        if (threadIdx.x == 0) {
            part[a.hd] = -INFINITY;
            part[a.hd + 1] = 0.0f;
        }
        return;
    }
    const int hd = a.hd, kvd = a.n_kv * hd;
    const int g = h / (a.n_heads / a.n_kv);
    const float* q = a.q + size_t(t) * a.n_heads * hd + size_t(h) * hd;
    for (int d = threadIdx.x; d < hd; d += kThreads) qs[d] = q[d] * a.scale;
    __syncthreads();

    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const __half* kbase = reinterpret_cast<const __half*>(a.k) + size_t(g) * hd;
    float mx = -INFINITY;
    for (int p = start + warp; p < end; p += kWarps) {
        const __half* kr = kbase + size_t(p) * kvd;
        float s = 0.0f;
        for (int d = lane; d < hd; d += 32) s += qs[d] * __half2float(kr[d]);
#pragma unroll
        for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
        if (lane == 0) sc[p - start] = s;
        mx = fmaxf(mx, s);
    }
    if (lane == 0) red[warp] = mx;
    __syncthreads();
    if (threadIdx.x == 0) {
        float m = red[0];
        for (int w = 1; w < kWarps; ++w) m = fmaxf(m, red[w]);
        stat[0] = m;
    }
    __syncthreads();
    const float m = stat[0];
    const int len = end - start;
    float sum = 0.0f;
    for (int i = threadIdx.x; i < len; i += kThreads) {
        const float e = expf(sc[i] - m);
        sc[i] = e;
        sum += e;
    }
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) sum += __shfl_xor_sync(0xffffffffu, sum, o);
    __syncthreads();  // red[] reuse and sc[] writes
    if (lane == 0) red[warp] = sum;
    __syncthreads();
    if (threadIdx.x == 0) {
        float s = 0.0f;
        for (int w = 0; w < kWarps; ++w) s += red[w];
        part[hd] = m;
        part[hd + 1] = s;
    }
    const __half* vbase = reinterpret_cast<const __half*>(a.v) + size_t(g) * hd + size_t(start) * kvd;
    for (int d = threadIdx.x; d < hd; d += kThreads) {
        float acc = 0.0f;
        for (int i = 0; i < len; ++i) acc += sc[i] * __half2float(vbase[size_t(i) * kvd + d]);
        part[d] = acc;
    }
}

// One block per (head, token), one thread per output dimension.
__global__ void attn_combine_kernel(AttnArgs a) {
    const int h = blockIdx.x, tl = blockIdx.y, d = threadIdx.x;
    if (d >= a.hd) return;
    const float* part = a.part + (size_t(tl) * a.n_heads + h) * a.n_chunks * size_t(a.hd + 2);
    float m = -INFINITY;
    for (int c = 0; c < a.n_chunks; ++c) m = fmaxf(m, part[size_t(c) * (a.hd + 2) + a.hd]);
    float num = 0.0f, den = 0.0f;
    for (int c = 0; c < a.n_chunks; ++c) {
        const float* pc = part + size_t(c) * (a.hd + 2);
        const float mc = pc[a.hd];
        if (mc == -INFINITY) continue;
        const float f = expf(mc - m);
        num += f * pc[d];
        den += f * pc[a.hd + 1];
    }
    a.out[size_t(a.t0 + tl) * a.n_heads * a.hd + size_t(h) * a.hd + d] = num / den;
}

}  // namespace

void launch_attention(const AttnArgs& a, cudaStream_t s) {
    if (a.hd <= 0 || a.hd > 256 || a.hd % 2 != 0)
        fail("the CUDA backend supports even head sizes up to 256, not ", a.hd);
    if (a.n_kv <= 0 || a.n_heads % a.n_kv != 0) fail("CUDA attention: ", a.n_heads, " heads over ", a.n_kv, " KV heads");
    if (a.chunk <= 0 || a.chunk > kMaxAttnChunk) fail("CUDA attention: chunk ", a.chunk, " out of range");
    if (a.n_tok <= 0) return;
    const size_t smem = sizeof(float) * size_t(a.hd + a.chunk);
    const dim3 grid(unsigned(a.n_chunks), unsigned(a.n_heads), unsigned(a.n_tok));
    attn_chunk_kernel<<<grid, kThreads, smem, s>>>(a);
    LD_CUDA_LAUNCHED("attention");
    attn_combine_kernel<<<dim3(unsigned(a.n_heads), unsigned(a.n_tok)), unsigned(a.hd), 0, s>>>(a);
    LD_CUDA_LAUNCHED("attention combine");
}

}  // namespace ld::cuda
