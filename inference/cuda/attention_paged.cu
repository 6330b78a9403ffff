// Attention of a paged step (many sequences in one batch, each reading its own blocks of the
// KV cache through a block table), and the row gather that picks the rows whose logits are
// wanted. The one-sequence step keeps attention.cu's kernels (the contiguous cache); these
// only run for Backend::forward(SeqBatch).
//
// attn_paged_kernel: one block per (query head, batch row), for the rows that are not part of a
// prompt chunk (those take attention.cu's tiled kernels with a block table). The block walks the row's
// positions 0 .. positions[t] in rounds of 128, a position per thread: the thread looks its
// cache row up in the block table and dots the whole K row with the query (held in shared
// memory, a broadcast), then each warp updates its own streaming softmax (max and exp-sum over
// its 32 positions by shuffles) and multiplies its 32 rows into V with the lanes across the
// head dims (f16 pairs, coalesced). The four warps' partial results are merged at the end.
// Simple rather than fast: K rows are read per query head (the GQA group shares them only
// through the cache) and one block walks the whole sequence (no split along it), which suits
// decode rows of several sequences at moderate depth.
#include <cuda_fp16.h>

#include <cmath>

#include "inference/cuda/cuda_check.h"
#include "inference/cuda/kernels.h"
#include "inference/cuda/launch.cuh"

namespace ld::cuda {

namespace {

constexpr int kThreads = 128;
constexpr int kWarps = kThreads / 32;
constexpr int kMaxPairs = 4;  // head dims a lane takes in P.V: 2 * kMaxPairs * 32 = 256 at most

__device__ __forceinline__ float half_lo(uint32_t w) { return __half2float(__ushort_as_half(uint16_t(w & 0xFFFFu))); }
__device__ __forceinline__ float half_hi(uint32_t w) { return __half2float(__ushort_as_half(uint16_t(w >> 16))); }

// q (hd floats in shared memory, scaled) . the K row at k (hd halves, 4-byte aligned; 16-byte
// aligned when hd % 8 == 0, which reads it in 16-byte loads).
__device__ __forceinline__ float dot_row(const float* qs, const uint16_t* __restrict__ k, int hd) {
    float s = 0.0f;
    if (hd % 8 == 0) {
        for (int j = 0; j < hd; j += 8) {
            const uint4 w = __ldg(reinterpret_cast<const uint4*>(k + j));
            s = fmaf(qs[j], half_lo(w.x), s);
            s = fmaf(qs[j + 1], half_hi(w.x), s);
            s = fmaf(qs[j + 2], half_lo(w.y), s);
            s = fmaf(qs[j + 3], half_hi(w.y), s);
            s = fmaf(qs[j + 4], half_lo(w.z), s);
            s = fmaf(qs[j + 5], half_hi(w.z), s);
            s = fmaf(qs[j + 6], half_lo(w.w), s);
            s = fmaf(qs[j + 7], half_hi(w.w), s);
        }
    } else {
        for (int j = 0; j < hd; j += 2) {
            const uint32_t w = __ldg(reinterpret_cast<const unsigned int*>(k + j));
            s = fmaf(qs[j], half_lo(w), s);
            s = fmaf(qs[j + 1], half_hi(w), s);
        }
    }
    return s;
}

__global__ void __launch_bounds__(kThreads) attn_paged_kernel(PagedAttnArgs a) {
    extern __shared__ float smem[];
    float* qs = smem;             // (hd) query * scale
    float* red = smem + a.hd;     // (kWarps, hd) the warps' V sums at the end
    __shared__ float s_p[kWarps][32];   // exp weights of a warp's 32 positions this round
    __shared__ int s_slot[kWarps][32];  // and their cache rows
    __shared__ float s_m[kWarps], s_l[kWarps];

    pdl_wait();
    const int h = blockIdx.x, t = a.rows[blockIdx.y];
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const int hd = a.hd, kvd = a.n_kv * hd, kvh = h / (a.n_heads / a.n_kv);
    const float* q = a.q + size_t(t) * a.n_heads * hd + size_t(h) * hd;
    for (int d = threadIdx.x; d < hd; d += kThreads) qs[d] = q[d] * a.scale;
    const int n_pos = a.positions[t] + 1;
    const int32_t* table = a.tables + a.table_off[t];
    const uint16_t* kb = a.k + size_t(kvh) * hd;
    const uint16_t* vb = a.v + size_t(kvh) * hd;
    __syncthreads();

    // This warp's streaming softmax; the lane holds dims 2 (lane + 32 i) and 2 (lane + 32 i) + 1.
    float m = -INFINITY, l = 0.0f;
    float acc[kMaxPairs][2];
#pragma unroll
    for (int i = 0; i < kMaxPairs; ++i) acc[i][0] = acc[i][1] = 0.0f;
    for (int base = 0; base < n_pos; base += kThreads) {  // the same rounds for every thread
        const int first = base + warp * 32;               // this warp's first position
        const int p = first + lane;
        float s = -INFINITY;
        int slot = 0;
        if (p < n_pos) {
            slot = table[p / a.block] * a.block + p % a.block;
            s = dot_row(qs, kb + size_t(slot) * kvd, hd);
        }
        float mx = s;
#pragma unroll
        for (int o = 16; o > 0; o >>= 1) mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, o));
        const float m_new = fmaxf(m, mx);  // -inf only while the warp has seen no position
        const float e = p < n_pos ? expf(s - m_new) : 0.0f;
        float sum = e;
#pragma unroll
        for (int o = 16; o > 0; o >>= 1) sum += __shfl_xor_sync(0xffffffffu, sum, o);
        const float alpha = m == -INFINITY ? 0.0f : expf(m - m_new);
        l = l * alpha + sum;
        m = m_new;
#pragma unroll
        for (int i = 0; i < kMaxPairs; ++i) acc[i][0] *= alpha, acc[i][1] *= alpha;
        s_p[warp][lane] = e;
        s_slot[warp][lane] = slot;
        __syncthreads();
        const int cnt = n_pos - first < 32 ? n_pos - first : 32;  // <= 0: a warp past the end
        for (int j = 0; j < cnt; ++j) {
            const float w = s_p[warp][j];
            const uint16_t* vr = vb + size_t(s_slot[warp][j]) * kvd;
#pragma unroll
            for (int i = 0; i < kMaxPairs; ++i) {
                const int d = 2 * (lane + 32 * i);
                if (d < hd) {
                    const uint32_t vv = __ldg(reinterpret_cast<const unsigned int*>(vr + d));
                    acc[i][0] = fmaf(w, half_lo(vv), acc[i][0]);
                    acc[i][1] = fmaf(w, half_hi(vv), acc[i][1]);
                }
            }
        }
        __syncthreads();  // before the next round rewrites s_p and s_slot
    }

    // Merge the warps: each scaled to the common max; warp 0 always holds position 0, so the
    // denominator is positive.
#pragma unroll
    for (int i = 0; i < kMaxPairs; ++i) {
        const int d = 2 * (lane + 32 * i);
        if (d < hd) {
            red[warp * hd + d] = acc[i][0];
            red[warp * hd + d + 1] = acc[i][1];
        }
    }
    if (lane == 0) {
        s_m[warp] = m;
        s_l[warp] = l;
    }
    __syncthreads();
    float mx = -INFINITY;
#pragma unroll
    for (int w = 0; w < kWarps; ++w) mx = fmaxf(mx, s_m[w]);
    float f[kWarps], den = 0.0f;
#pragma unroll
    for (int w = 0; w < kWarps; ++w) {
        f[w] = s_m[w] == -INFINITY ? 0.0f : expf(s_m[w] - mx);
        den += f[w] * s_l[w];
    }
    float* out = a.out + size_t(t) * a.n_heads * hd + size_t(h) * hd;
    for (int d = threadIdx.x; d < hd; d += kThreads) {
        float n = 0.0f;
#pragma unroll
        for (int w = 0; w < kWarps; ++w) n += f[w] * red[w * hd + d];
        out[d] = n / den;
    }
}

__global__ void gather_rows_kernel(const float* __restrict__ x, const int32_t* __restrict__ rows, int width,
                                   float* __restrict__ out) {
    pdl_wait();
    const int r = blockIdx.y;
    const int i = int(blockIdx.x) * blockDim.x + threadIdx.x;
    if (i < width) out[size_t(r) * width + i] = x[size_t(rows[r]) * width + i];
}

}  // namespace

void launch_attention_paged(const PagedAttnArgs& a, cudaStream_t s) {
    if (a.hd <= 0 || a.hd > 2 * kMaxPairs * 32 || a.hd % 2 != 0)
        fail("the CUDA backend supports even head sizes up to 256, not ", a.hd);
    if (a.n_kv <= 0 || a.n_heads % a.n_kv != 0) fail("CUDA attention: ", a.n_heads, " heads over ", a.n_kv, " KV heads");
    if (a.block <= 0) fail("CUDA attention: a KV block of ", a.block, " positions");
    if (a.n_tok <= 0) return;
    if (a.n_tok > 65535) fail("CUDA attention: ", a.n_tok, " tokens in one launch");
    const size_t smem = sizeof(float) * size_t(1 + kWarps) * size_t(a.hd);
    launch(attn_paged_kernel, dim3(unsigned(a.n_heads), unsigned(a.n_tok)), dim3(kThreads), smem, s,
           "paged attention", a);
}

void launch_gather_rows(const float* x, const int32_t* rows, int n, int width, float* out, cudaStream_t s) {
    if (n <= 0 || width <= 0) return;
    if (n > 65535) fail("CUDA gather: ", n, " rows in one launch");
    launch(gather_rows_kernel, dim3(unsigned((width + 255) / 256), unsigned(n)), dim3(256), 0, s, "gather rows", x,
           rows, width, out);
}

}  // namespace ld::cuda
