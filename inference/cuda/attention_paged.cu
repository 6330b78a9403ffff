// Attention of a paged step (many sequences in one batch, each reading its own blocks of the
// KV cache through a block table), and the row gather that picks the rows whose logits are
// wanted. The one-sequence step keeps attention.cu's kernels (the contiguous cache); these
// only run for Backend::forward(SeqBatch).
//
// attn_paged_kernel: one block per (query head, batch row, chunk), for the rows that are not part
// of a prompt chunk (those take attention.cu's tiled kernels with a block table). The block walks
// its chunk of the row's positions 0 .. positions[t] in rounds of 128, a position per thread: the
// thread looks its cache row up in the block table and dots the whole K row with the query (held
// in shared memory, a broadcast), then each warp updates its own streaming softmax (max and
// exp-sum over its 32 positions by shuffles) and multiplies its 32 rows into V with the lanes
// across the head dims (f16 pairs, coalesced). The four warps' partial results are merged at the
// end. K rows are read per query head (the GQA group shares them only through the cache).
//
// Split-K: a block per (head, row) leaves most SMs idle when a step has few rows and long
// contexts (1 sequence of an 8B model at 4,096 positions: 32 blocks walking 4,096 positions
// each on 132 SMs). paged_attention_chunk then cuts every row's context into chunks of whole KV
// blocks; each block writes its chunk's unnormalized sum, max and exp-sum in the layout of the
// contiguous path's partials, and that path's combine kernel (attention.cu, AttnArgs::rows)
// merges them. With one chunk the block normalizes and writes the output itself.
#include <cuda_fp16.h>

#include <algorithm>
#include <cmath>
#include <cstdint>

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
    const int h = blockIdx.x, tl = blockIdx.y, c = blockIdx.z, t = a.rows[tl];
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const int hd = a.hd, kvd = a.n_kv * hd, kvh = h / (a.n_heads / a.n_kv);
    // This block's positions [start, end): the whole row, or chunk c of it.
    const int n_pos = a.positions[t] + 1;
    const bool split = a.n_chunks > 1;
    const int start = split ? c * a.chunk : 0, end = split ? min(start + a.chunk, n_pos) : n_pos;
    if (start >= end) return;  // past the row's end: the combine reads only chunks with positions
    const float* q = a.q + size_t(t) * a.n_heads * hd + size_t(h) * hd;
    for (int d = threadIdx.x; d < hd; d += kThreads) qs[d] = q[d] * a.scale;
    const int32_t* table = a.tables + a.table_off[t];
    const uint16_t* kb = a.k + size_t(kvh) * hd;
    const uint16_t* vb = a.v + size_t(kvh) * hd;
    __syncthreads();

    // This warp's streaming softmax; the lane holds dims 2 (lane + 32 i) and 2 (lane + 32 i) + 1.
    float m = -INFINITY, l = 0.0f;
    float acc[kMaxPairs][2];
#pragma unroll
    for (int i = 0; i < kMaxPairs; ++i) acc[i][0] = acc[i][1] = 0.0f;
    for (int base = start; base < end; base += kThreads) {  // the same rounds for every thread
        const int first = base + warp * 32;                 // this warp's first position
        const int p = first + lane;
        float s = -INFINITY;
        int slot = 0;
        if (p < end) {
            slot = table[p / a.block] * a.block + p % a.block;
            s = dot_row(qs, kb + size_t(slot) * kvd, hd);
        }
        float mx = s;
#pragma unroll
        for (int o = 16; o > 0; o >>= 1) mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, o));
        const float m_new = fmaxf(m, mx);  // -inf only while the warp has seen no position
        const float e = p < end ? expf(s - m_new) : 0.0f;
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
        const int cnt = end - first < 32 ? end - first : 32;  // <= 0: a warp past the end
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

    // Merge the warps: each scaled to the common max; warp 0 always holds position `start`, so
    // the denominator is positive.
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
    // One chunk: the normalized output. Split: the chunk's partial for the combine, the weighted
    // V sum scaled to max mx, then mx and the exp-sum, at (tl, h, c) of (n_tok, n_heads, n_chunks,
    // hd + 2).
    float* dst = split ? a.part + ((size_t(tl) * a.n_heads + h) * a.n_chunks + c) * size_t(hd + 2)
                       : a.out + size_t(t) * a.n_heads * hd + size_t(h) * hd;
    for (int d = threadIdx.x; d < hd; d += kThreads) {
        float n = 0.0f;
#pragma unroll
        for (int w = 0; w < kWarps; ++w) n += f[w] * red[w * hd + d];
        dst[d] = split ? n : n / den;
    }
    if (split && threadIdx.x == 0) {
        dst[hd] = mx;
        dst[hd + 1] = den;
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
    if (a.n_chunks < 1 || a.n_chunks > 65535) fail("CUDA attention: ", a.n_chunks, " chunks in one launch");
    const bool split = a.n_chunks > 1;
    if (split && (a.chunk <= 0 || a.chunk % a.block != 0 || !a.part))
        fail("CUDA attention: split into chunks of ", a.chunk, " positions (whole ", a.block, "-position blocks)");
    if (a.n_tok <= 0) return;
    if (a.n_tok > 65535) fail("CUDA attention: ", a.n_tok, " tokens in one launch");
    const size_t smem = sizeof(float) * size_t(1 + kWarps) * size_t(a.hd);
    launch(attn_paged_kernel, dim3(unsigned(a.n_heads), unsigned(a.n_tok), unsigned(a.n_chunks)), dim3(kThreads), smem,
           s, "paged attention", a);
    if (!split) return;
    AttnArgs c;  // the contiguous path's combine, rows and positions from this step
    c.out = a.out;
    c.part = a.part;
    c.rows = a.rows;
    c.positions = a.positions;
    c.n_tok = a.n_tok;
    c.n_heads = a.n_heads;
    c.n_kv = a.n_kv;
    c.hd = a.hd;
    c.chunk = a.chunk;
    c.n_chunks = a.n_chunks;
    launch_attention_combine(c, s);
}

int paged_attention_chunk(int n_rows, int n_heads, int hd, int longest, int block, int sm_count, size_t part_floats,
                          int forced) {
    if (forced < 0 || n_rows <= 0 || longest <= block || block <= 0) return 0;
    auto whole_blocks = [block](int64_t n) { return int((n + block - 1) / block * block); };
    int chunk;
    if (forced > 0) {
        chunk = whole_blocks(forced);
    } else {
        // Aim at four blocks per SM (blocks of 128 threads: an SM holds many, and more in flight
        // hide the K and V reads' latency), but no chunk under 4 KV blocks: each costs a partial
        // write and a share of the combine. Not measured yet (no GPU when it was written):
        // Tuning::cuda_paged_chunk overrides it on the device.
        const int64_t blocks = int64_t(n_rows) * n_heads, want = 4 * int64_t(std::max(sm_count, 1));
        if (blocks >= want) return 0;
        const int64_t splits = (want + blocks - 1) / blocks;
        chunk = std::max(whole_blocks((longest + splits - 1) / splits), 4 * block);
    }
    // The partials must fit part: longer chunks (fewer of them) where they would not.
    const size_t per_chunk = size_t(n_rows) * size_t(n_heads) * size_t(hd + 2);
    const size_t max_chunks = per_chunk ? part_floats / per_chunk : 0;
    if (max_chunks < 2) return 0;
    chunk = std::max(chunk, whole_blocks((int64_t(longest) + int64_t(max_chunks) - 1) / int64_t(max_chunks)));
    return chunk < longest ? chunk : 0;
}

void launch_gather_rows(const float* x, const int32_t* rows, int n, int width, float* out, cudaStream_t s) {
    if (n <= 0 || width <= 0) return;
    if (n > 65535) fail("CUDA gather: ", n, " rows in one launch");
    launch(gather_rows_kernel, dim3(unsigned((width + 255) / 256), unsigned(n)), dim3(256), 0, s, "gather rows", x,
           rows, width, out);
}

}  // namespace ld::cuda
