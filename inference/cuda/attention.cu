// Causal GQA attention over the f16 KV cache, split along the sequence (flash-decoding).
//
// attn_chunk_kernel: block (chunk c, kv head, token t) takes all G query heads that share the kv
// head, so each K and V row is read once per group, not G times. It walks its chunk of the cache
// in tiles of 64 positions with a streaming softmax (running max and exp-sum per head):
//   scores: a lane pair per position, each lane reading half of the K row with 16-byte loads
//           (4-byte where hd is not a multiple of 8) and dotting it with the G queries held in
//           shared memory (same address across the warp: a broadcast); no reduction over lanes
//           but one shuffle between the pair;
//   P.V:    each warp takes 16 of the tile's rows, its lanes across the head dims (2, 4 or 8
//           halves a lane), up to 16 rows' loads in flight per lane; the tile's first V rows
//           are loaded before the scores so both round trips to memory overlap.
// The four warps' sums are added in shared memory at the end, and the block writes, per head,
// the unnormalized weighted V sum, the max and the exp-sum. attn_combine_kernel merges those of
// the chunks that hold positions (their number comes from *d_pos, like everything here that
// depends on the position): the grid does not, so the decode step stays a replayable CUDA graph
// and blocks past the causal end just return. Both kernels are launched with programmatic
// dependent launch (launch.cuh) and wait for the previous grid before reading memory.
// A prompt (n_tok > 1, hd 64 or 128) takes attn_prompt_kernel instead: 64 query rows a block
// (tokens x heads), same partials, same combine; decode keeps attn_chunk_kernel.
// A paged step's prompt chunk (AttnArgs::table) runs the same kernels, instantiated apart: each
// 64-position tile is one KV block, found through the sequence's block table.
#include <cuda_fp16.h>

#include <cmath>

#include "inference/cuda/cuda_check.h"
#include "inference/cuda/dot_q8.cuh"
#include "inference/cuda/kernels.h"
#include "inference/cuda/launch.cuh"

namespace ld::cuda {

namespace {

constexpr int kThreads = 128;
constexpr int kWarps = kThreads / 32;
constexpr int kTile = 64;                  // positions scored at once, a lane pair each
constexpr int kWarpRows = kTile / kWarps;  // rows of a tile one warp multiplies into V
constexpr int kMaxGroup = 8;               // query heads per block (larger groups take several)
constexpr int kCombineThreads = 256;
constexpr int kCombineWarps = kCombineThreads / 32;

// The halves of an f16 pair, taken out of the word by value.
__device__ __forceinline__ float half_lo(uint32_t w) { return __half2float(__ushort_as_half(uint16_t(w & 0xFFFFu))); }
__device__ __forceinline__ float half_hi(uint32_t w) { return __half2float(__ushort_as_half(uint16_t(w >> 16))); }

// N halves at p (aligned to 2N bytes) as N / 2 words.
template <int N>
__device__ __forceinline__ void load_halves(const uint16_t* p, uint32_t* w) {
    if constexpr (N == 8) {
        const uint4 u = __ldg(reinterpret_cast<const uint4*>(p));
        w[0] = u.x, w[1] = u.y, w[2] = u.z, w[3] = u.w;
    } else if constexpr (N == 4) {
        const uint2 u = __ldg(reinterpret_cast<const uint2*>(p));
        w[0] = u.x, w[1] = u.y;
    } else {
        static_assert(N == 2);
        w[0] = __ldg(reinterpret_cast<const unsigned int*>(p));
    }
}

// N floats at p (aligned to 4N bytes, shared memory).
template <int N>
__device__ __forceinline__ void load_floats(const float* p, float* f) {
    if constexpr (N % 4 == 0) {
#pragma unroll
        for (int i = 0; i < N; i += 4) {
            const float4 v = *reinterpret_cast<const float4*>(p + i);
            f[i] = v.x, f[i + 1] = v.y, f[i + 2] = v.z, f[i + 3] = v.w;
        }
    } else {
        static_assert(N == 2);
        const float2 v = *reinterpret_cast<const float2*>(p);
        f[0] = v.x, f[1] = v.y;
    }
}

// s[g] += q_g . k_row for the G queries at qs (G rows of hd floats, already scaled), over the
// KW-half vectors j = half, half + 2, ... of the row (the lane's pair partner takes the others,
// so a pair reads 2 * KW contiguous halves per load).
template <int G, int KW>
__device__ __forceinline__ void score_row(const uint16_t* __restrict__ row, const float* qs, int hd, int half, float* s) {
    constexpr int kBatch = KW == 8 ? 8 : 16;  // vectors in flight a lane: 128 (64) bytes, hd 128 at once
    const int nv = hd / KW;
    for (int j0 = 0; j0 < nv; j0 += 2 * kBatch) {
        uint32_t w[kBatch][KW / 2];
#pragma unroll
        for (int i = 0; i < kBatch; ++i) {
            const int j = j0 + 2 * i + half;
            if (j < nv) load_halves<KW>(row + j * KW, w[i]);
        }
#pragma unroll
        for (int i = 0; i < kBatch; ++i) {
            const int j = j0 + 2 * i + half;
            if (j >= nv) break;
            float k[KW];
#pragma unroll
            for (int e = 0; e < KW / 2; ++e) k[2 * e] = half_lo(w[i][e]), k[2 * e + 1] = half_hi(w[i][e]);
#pragma unroll
            for (int g = 0; g < G; ++g) {
                float q[KW];
                load_floats<KW>(qs + g * hd + j * KW, q);
#pragma unroll
                for (int e = 0; e < KW; ++e) s[g] = fmaf(q[e], k[e], s[g]);
            }
        }
    }
}

// V rows [r0, r0 + U) of the tile (local to it, len of them valid) for this lane: NP vectors of
// VH halves, vector i at dims (lane + 32 i) * VH. Rows or vectors past the end are left alone
// (their weight is 0 and the FMA skips them).
template <int VH, int NP, int U>
__device__ __forceinline__ void load_v(const uint16_t* __restrict__ vt, int kvd, int r0, int len, int lane, int nvec,
                                       uint32_t (&w)[U][NP][VH / 2]) {
    const uint16_t* p = vt + size_t(r0) * kvd + lane * VH;
#pragma unroll
    for (int u = 0; u < U; ++u) {
#pragma unroll
        for (int i = 0; i < NP; ++i)
            if (r0 + u < len && lane + 32 * i < nvec) load_halves<VH>(p + 32 * i * VH, w[u][i]);
        p += kvd;
    }
}

// Blocks an SM should hold (caps the registers): 3 (168 registers) fit the 8B shapes (G 4, hd
// 128) without spilling; 8 heads or 8 halves a lane need 2.
constexpr int min_blocks(int g, int halves) { return g >= 8 || halves >= 8 ? 2 : 3; }
// V rows a lane has in flight: 64 halves' worth (16 rows at most), 4 where the accumulators
// alone take 64 registers (8 heads x 4 vectors).
constexpr int v_rows(int g, int vh, int np) { return g * np >= 32 ? 4 : 64 / (vh * np) < 16 ? 64 / (vh * np) : 16; }

// G: query heads a block handles (a power of two, heads past the group are zero queries);
// VH x NP: halves a lane takes of a V row (see launch_chunks).
// The first cache row of the tile at position tb: tb itself, or in a paged step (AttnArgs::table)
// the row of its block (a tile starts at a multiple of 64 and is one whole 64-position block).
template <bool Paged>
__device__ __forceinline__ size_t tile_row(const AttnArgs& a, int tb) {
    if constexpr (Paged) return size_t(__ldg(a.table + tb / kTile)) * kTile;
    else return size_t(tb);
}

template <int G, int VH, int NP, bool Paged>
__global__ void __launch_bounds__(kThreads, min_blocks(G, VH * NP)) attn_chunk_kernel(AttnArgs a, int group, int n_sub) {
    constexpr int U = v_rows(G, VH, NP);
    static_assert(kWarpRows % U == 0 && U % 4 == 0);
    extern __shared__ float smem[];
    float* qs = smem;  // (G, hd) query * scale; at the end (kWarps, G, hd) the warps' V sums
    __shared__ float s_max[2][kWarps][G], s_sum[2][kWarps][G];  // by tile parity (fewer barriers)
    alignas(16) __shared__ float s_p[2][G][kTile];              // exp weights of the tile's rows

    pdl_wait();
    const int kvh = blockIdx.x / n_sub, sub = blockIdx.x % n_sub, c = blockIdx.y, tl = blockIdx.z;
    const int t = a.t0 + tl;
    const int hd = a.hd, kvd = a.n_kv * hd, nvec = hd / VH;
    const int h0 = kvh * group + sub * G;
    const int ng = min(G, group - sub * G);
    // The queries are loaded together with the position, not one round trip after it.
    constexpr int kQ = G * 256 / kThreads;  // query floats a thread holds, at most
    const float* q = a.q + size_t(t) * a.n_heads * hd + size_t(h0) * hd;
    float qv[kQ];
#pragma unroll
    for (int i = 0; i < kQ; ++i) {
        const int x = int(threadIdx.x) + i * kThreads;
        qv[i] = x < ng * hd ? q[x] : 0.0f;
    }
    const int n_pos = a.d_pos[0] + t + 1;
    const int start = c * a.chunk, end = min(start + a.chunk, n_pos);
    if (start >= end) return;  // past the causal end: the combine does not read this chunk

    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
#pragma unroll
    for (int i = 0; i < kQ; ++i) {
        const int x = int(threadIdx.x) + i * kThreads;
        if (x < G * hd) qs[x] = qv[i] * a.scale;
    }
    __syncthreads();

    const uint16_t* kb = a.k + size_t(kvh) * hd;
    const uint16_t* vb = a.v + size_t(kvh) * hd;
    const int pair = warp * (kTile / kWarps) + (lane >> 1);  // the tile position this lane scores
    const int half = lane & 1;
    float m_run[G], l_run[G], acc[G][NP][VH];
#pragma unroll
    for (int g = 0; g < G; ++g) {
        m_run[g] = -INFINITY;
        l_run[g] = 0.0f;
#pragma unroll
        for (int i = 0; i < NP; ++i)
#pragma unroll
            for (int e = 0; e < VH; ++e) acc[g][i][e] = 0.0f;
    }

    int par = 0;
    for (int tb = start; tb < end; tb += kTile, par ^= 1) {
        const int len = min(kTile, end - tb);
        const size_t row0 = tile_row<Paged>(a, tb);
        const uint16_t* vt = vb + row0 * kvd;
        uint32_t vw[U][NP][VH / 2];
        load_v<VH, NP, U>(vt, kvd, warp * kWarpRows, len, lane, nvec, vw);

        float s[G];
#pragma unroll
        for (int g = 0; g < G; ++g) s[g] = 0.0f;
        const bool valid = pair < len;
        if (valid) {
            const uint16_t* kr = kb + (row0 + pair) * kvd;
            if (hd % 8 == 0) score_row<G, 8>(kr, qs, hd, half, s);
            else score_row<G, 2>(kr, qs, hd, half, s);
        }
        float mx[G];
#pragma unroll
        for (int g = 0; g < G; ++g) {
            s[g] += __shfl_xor_sync(0xffffffffu, s[g], 1);
            if (!valid) s[g] = -INFINITY;
            mx[g] = s[g];
#pragma unroll
            for (int o = 16; o > 1; o >>= 1) mx[g] = fmaxf(mx[g], __shfl_xor_sync(0xffffffffu, mx[g], o));
        }
        if (lane == 0)
#pragma unroll
            for (int g = 0; g < G; ++g) s_max[par][warp][g] = mx[g];
        __syncthreads();

        float m_new[G], sum[G];
#pragma unroll
        for (int g = 0; g < G; ++g) {
            float m = m_run[g];
#pragma unroll
            for (int w = 0; w < kWarps; ++w) m = fmaxf(m, s_max[par][w][g]);
            m_new[g] = m;
            const float p = valid ? expf(s[g] - m) : 0.0f;
            if (half == 0) s_p[par][g][pair] = p;
            sum[g] = half == 0 ? p : 0.0f;
#pragma unroll
            for (int o = 16; o > 1; o >>= 1) sum[g] += __shfl_xor_sync(0xffffffffu, sum[g], o);
        }
        if (lane == 0)
#pragma unroll
            for (int g = 0; g < G; ++g) s_sum[par][warp][g] = sum[g];
        __syncthreads();

#pragma unroll
        for (int g = 0; g < G; ++g) {
            float tile_sum = 0.0f;
#pragma unroll
            for (int w = 0; w < kWarps; ++w) tile_sum += s_sum[par][w][g];
            const float alpha = m_run[g] == -INFINITY ? 0.0f : expf(m_run[g] - m_new[g]);
            l_run[g] = l_run[g] * alpha + tile_sum;
            m_run[g] = m_new[g];
#pragma unroll
            for (int i = 0; i < NP; ++i)
#pragma unroll
                for (int e = 0; e < VH; ++e) acc[g][i][e] *= alpha;
        }

        for (int r0 = 0; r0 < kWarpRows; r0 += U) {
            const int rb = warp * kWarpRows + r0;
            if (r0 > 0) load_v<VH, NP, U>(vt, kvd, rb, len, lane, nvec, vw);
            if (rb >= len) break;
#pragma unroll
            for (int u4 = 0; u4 < U; u4 += 4) {
                float p[G][4];  // weights of rows rb + u4 .. + 3 (0 past len)
#pragma unroll
                for (int g = 0; g < G; ++g) load_floats<4>(&s_p[par][g][rb + u4], p[g]);
#pragma unroll
                for (int uu = 0; uu < 4; ++uu) {
                    const int u = u4 + uu;
                    if (rb + u >= len) break;
#pragma unroll
                    for (int i = 0; i < NP; ++i) {
                        if (lane + 32 * i >= nvec) break;
                        float v[VH];
#pragma unroll
                        for (int e = 0; e < VH / 2; ++e) v[2 * e] = half_lo(vw[u][i][e]), v[2 * e + 1] = half_hi(vw[u][i][e]);
#pragma unroll
                        for (int g = 0; g < G; ++g)
#pragma unroll
                            for (int e = 0; e < VH; ++e) acc[g][i][e] = fmaf(p[g][uu], v[e], acc[g][i][e]);
                    }
                }
            }
        }
    }

    // qs is free: every warp finished scoring before the last tile's second barrier.
    float* red = smem;  // (kWarps, G, hd)
#pragma unroll
    for (int g = 0; g < G; ++g)
#pragma unroll
        for (int i = 0; i < NP; ++i) {
            const int j = lane + 32 * i;
            if (j < nvec)
#pragma unroll
                for (int e = 0; e < VH; ++e) red[(warp * G + g) * hd + j * VH + e] = acc[g][i][e];
        }
    __syncthreads();
    const size_t stride = size_t(hd + 2);
    float* part = a.part + ((size_t(tl) * a.n_heads + h0) * a.n_chunks + c) * stride;  // head h0
    for (int x = threadIdx.x; x < ng * hd; x += kThreads) {
        const int g = x / hd, d = x - g * hd;
        float v = 0.0f;
#pragma unroll
        for (int w = 0; w < kWarps; ++w) v += red[(w * G + g) * hd + d];
        part[size_t(g) * a.n_chunks * stride + d] = v;
    }
    if (threadIdx.x == 0)
#pragma unroll
        for (int g = 0; g < G; ++g)
            if (g < ng) {
                part[size_t(g) * a.n_chunks * stride + hd] = m_run[g];
                part[size_t(g) * a.n_chunks * stride + hd + 1] = l_run[g];
            }
}

// Prompt blocks (n_tok > 1): block (chunk c, kv head [x sub-group], token tile) takes kRows
// query rows -- T = kRows / G consecutive tokens times the G heads of the group (row r: token
// r / G, head r % G) -- so each K/V tile loaded from L2 serves 64 rows instead of G (a 512-token
// prompt read ~0.5 GB of K/V per layer one token a block). Per 64-position tile, in shared
// memory as f32 (converted once at the store, not at every FMA):
//   scores: thread (ty, tx) = (tid / 8, tid % 8) takes rows 4 ty .. + 3 and positions tx + 8 k,
//           float4 loads of Q (broadcast over tx) and K (rows padded by 4 floats: no conflicts);
//           a row's 8 threads are adjacent lanes, so its max and sum are three shuffles;
//   P.V:    the same 4 rows, dims 4 tx + 32 kk, float4 loads of P (broadcast) and V.
// Causality is per row: token t sees positions < *d_pos + t + 1. K and V share one buffer (K is
// dead once the scores are in registers), which keeps two blocks on an SM.
constexpr int kRows = 64;

template <int HD>
constexpr size_t prompt_smem_floats() { return size_t(kRows) * HD + size_t(kTile) * (HD + 4) + size_t(kRows) * kTile; }

template <int G, int HD, bool Paged>
__global__ void __launch_bounds__(kThreads, 2) attn_prompt_kernel(AttnArgs a, int group, int n_sub) {
    constexpr int T = kRows / G, KS = HD + 4, NK = HD / 32;
    static_assert(HD % 32 == 0 && kRows % G == 0 && kThreads == 128 && kTile == 64);
    extern __shared__ float smem[];
    float* sq = smem;                       // (kRows, HD) queries * scale
    float* skv = sq + kRows * HD;           // (kTile, KS) the tile's K, then its V
    float* sp = skv + kTile * KS;           // (kRows, kTile) exp weights

    pdl_wait();
    const int kvh = blockIdx.x / n_sub, sub = blockIdx.x % n_sub, c = blockIdx.y;
    const int tl0 = int(blockIdx.z) * T;                    // first token of the tile in the slice
    const int nt = min(T, a.n_tok - tl0);                   // its tokens in the slice
    const int hd = HD, kvd = a.n_kv * HD;
    const int h0 = kvh * group + sub * G, ng = min(G, group - sub * G);
    const int pos = a.d_pos[0] + a.t0 + tl0;                // position of the tile's first token
    const int start = c * a.chunk;
    const int end = min(start + a.chunk, pos + nt);         // the last token sees positions < pos + nt
    if (start >= end) return;  // past every token's causal end: the combine reads none of it

    // Queries: row r = token r / G, head r % G; padded heads and tokens past the slice are 0.
    for (int x = threadIdx.x; x < kRows * HD / 4; x += kThreads) {
        const int r = x / (HD / 4), d = (x % (HD / 4)) * 4, tr = r / G, g = r % G;
        float4 v = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
        if (tr < nt && g < ng) {
            v = *reinterpret_cast<const float4*>(a.q + size_t(a.t0 + tl0 + tr) * a.n_heads * hd + size_t(h0 + g) * hd + d);
            v.x *= a.scale, v.y *= a.scale, v.z *= a.scale, v.w *= a.scale;
        }
        *reinterpret_cast<float4*>(sq + r * HD + d) = v;
    }

    const int ty = threadIdx.x >> 3, tx = threadIdx.x & 7;
    int row_end[4];  // per row: positions < row_end are visible in this chunk
#pragma unroll
    for (int i = 0; i < 4; ++i) row_end[i] = min(end, pos + (ty * 4 + i) / G + 1);
    float m_run[4], l_run[4], acc[4][NK][4];
#pragma unroll
    for (int i = 0; i < 4; ++i) {
        m_run[i] = -INFINITY;
        l_run[i] = 0.0f;
#pragma unroll
        for (int k = 0; k < NK; ++k) acc[i][k][0] = acc[i][k][1] = acc[i][k][2] = acc[i][k][3] = 0.0f;
    }
    const uint16_t* kb = a.k + size_t(kvh) * hd;
    const uint16_t* vb = a.v + size_t(kvh) * hd;
    constexpr int kVec = kTile * HD / 8 / kThreads;  // 16-byte vectors of a tile a thread loads

    for (int tb = start; tb < end; tb += kTile) {
        const int len = min(kTile, end - tb);
        // Both tiles' loads in flight at once; rows past len are zeros (the cache there may
        // hold anything, and 0 * NaN would poison the sums).
        uint4 kw[kVec], vw[kVec];
        const size_t row0 = tile_row<Paged>(a, tb);
#pragma unroll
        for (int i = 0; i < kVec; ++i) {
            const int x = int(threadIdx.x) + i * kThreads, j = x / (HD / 8), d = (x % (HD / 8)) * 8;
            kw[i] = vw[i] = make_uint4(0, 0, 0, 0);
            if (j < len) {
                kw[i] = __ldg(reinterpret_cast<const uint4*>(kb + (row0 + j) * kvd + d));
                vw[i] = __ldg(reinterpret_cast<const uint4*>(vb + (row0 + j) * kvd + d));
            }
        }
        __syncthreads();  // the previous tile's P.V is done with skv (and sq is written)
#pragma unroll
        for (int i = 0; i < kVec; ++i) {
            const int x = int(threadIdx.x) + i * kThreads, j = x / (HD / 8), d = (x % (HD / 8)) * 8;
            float* p = skv + j * KS + d;
            *reinterpret_cast<float4*>(p) = make_float4(half_lo(kw[i].x), half_hi(kw[i].x), half_lo(kw[i].y), half_hi(kw[i].y));
            *reinterpret_cast<float4*>(p + 4) = make_float4(half_lo(kw[i].z), half_hi(kw[i].z), half_lo(kw[i].w), half_hi(kw[i].w));
        }
        __syncthreads();

        float s[4][8];
#pragma unroll
        for (int i = 0; i < 4; ++i)
#pragma unroll
            for (int k = 0; k < 8; ++k) s[i][k] = 0.0f;
#pragma unroll 4
        for (int d = 0; d < HD; d += 4) {
            float4 q[4];
#pragma unroll
            for (int i = 0; i < 4; ++i) q[i] = *reinterpret_cast<const float4*>(sq + (ty * 4 + i) * HD + d);
#pragma unroll
            for (int k = 0; k < 8; ++k) {
                const float4 kk = *reinterpret_cast<const float4*>(skv + (tx + 8 * k) * KS + d);
#pragma unroll
                for (int i = 0; i < 4; ++i) {
                    s[i][k] = fmaf(q[i].x, kk.x, s[i][k]);
                    s[i][k] = fmaf(q[i].y, kk.y, s[i][k]);
                    s[i][k] = fmaf(q[i].z, kk.z, s[i][k]);
                    s[i][k] = fmaf(q[i].w, kk.w, s[i][k]);
                }
            }
        }

        // Streaming softmax per row over its 8 lanes. A row that sees none of this tile keeps
        // m = -inf; its weights use 0 as the max so that exp gives 0, not NaN.
#pragma unroll
        for (int i = 0; i < 4; ++i) {
            float mx = -INFINITY;
#pragma unroll
            for (int k = 0; k < 8; ++k) {
                if (tb + tx + 8 * k >= row_end[i]) s[i][k] = -INFINITY;
                mx = fmaxf(mx, s[i][k]);
            }
            mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
            mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
            mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 4));
            const float m_new = fmaxf(m_run[i], mx);
            const float m_use = m_new == -INFINITY ? 0.0f : m_new;
            float sum = 0.0f;
#pragma unroll
            for (int k = 0; k < 8; ++k) {
                const float p = expf(s[i][k] - m_use);
                sp[(ty * 4 + i) * kTile + tx + 8 * k] = p;
                sum += p;
            }
            sum += __shfl_xor_sync(0xffffffffu, sum, 1);
            sum += __shfl_xor_sync(0xffffffffu, sum, 2);
            sum += __shfl_xor_sync(0xffffffffu, sum, 4);
            const float alpha = m_run[i] == -INFINITY ? 0.0f : expf(m_run[i] - m_new);
            l_run[i] = l_run[i] * alpha + sum;
            m_run[i] = m_new;
#pragma unroll
            for (int k = 0; k < NK; ++k)
#pragma unroll
                for (int e = 0; e < 4; ++e) acc[i][k][e] *= alpha;
        }
        __syncthreads();  // every warp is done with K
#pragma unroll
        for (int i = 0; i < kVec; ++i) {
            const int x = int(threadIdx.x) + i * kThreads, j = x / (HD / 8), d = (x % (HD / 8)) * 8;
            float* p = skv + j * KS + d;
            *reinterpret_cast<float4*>(p) = make_float4(half_lo(vw[i].x), half_hi(vw[i].x), half_lo(vw[i].y), half_hi(vw[i].y));
            *reinterpret_cast<float4*>(p + 4) = make_float4(half_lo(vw[i].z), half_hi(vw[i].z), half_lo(vw[i].w), half_hi(vw[i].w));
        }
        __syncthreads();

        const int len4 = (len + 3) & ~3;  // weights past len are 0 and those V rows zeros
        for (int j = 0; j < len4; j += 4) {
            float4 p[4];
#pragma unroll
            for (int i = 0; i < 4; ++i) p[i] = *reinterpret_cast<const float4*>(sp + (ty * 4 + i) * kTile + j);
#pragma unroll
            for (int jj = 0; jj < 4; ++jj)
#pragma unroll
                for (int k = 0; k < NK; ++k) {
                    const float4 v = *reinterpret_cast<const float4*>(skv + (j + jj) * KS + tx * 4 + 32 * k);
#pragma unroll
                    for (int i = 0; i < 4; ++i) {
                        const float w = jj == 0 ? p[i].x : jj == 1 ? p[i].y : jj == 2 ? p[i].z : p[i].w;
                        acc[i][k][0] = fmaf(w, v.x, acc[i][k][0]);
                        acc[i][k][1] = fmaf(w, v.y, acc[i][k][1]);
                        acc[i][k][2] = fmaf(w, v.z, acc[i][k][2]);
                        acc[i][k][3] = fmaf(w, v.w, acc[i][k][3]);
                    }
                }
        }
    }

    // Partials in the decode layout, (n_tok, n_heads, n_chunks, hd + 2), for the same combine.
    const size_t stride = size_t(hd + 2);
#pragma unroll
    for (int i = 0; i < 4; ++i) {
        const int r = ty * 4 + i, tr = r / G, g = r % G;
        if (tr >= nt || g >= ng) continue;
        float* part = a.part + ((size_t(tl0 + tr) * a.n_heads + h0 + g) * a.n_chunks + c) * stride;
#pragma unroll
        for (int k = 0; k < NK; ++k) {
            float2* o = reinterpret_cast<float2*>(part + tx * 4 + 32 * k);  // hd + 2 is even: 8-byte aligned
            o[0] = float2{acc[i][k][0], acc[i][k][1]};
            o[1] = float2{acc[i][k][2], acc[i][k][3]};
        }
        if (tx == 0) {
            part[hd] = m_run[i];
            part[hd + 1] = l_run[i];
        }
    }
}

// One block per (head, token): warp w merges chunks w, w + 8, ... with a running max (lanes
// across the dims, float2 each), then the warps' results are merged and normalized. Only the
// chunks holding positions 0 .. *d_pos + t are read. Also merges the split partials of a paged
// decode step (attention_paged.cu; AttnArgs::rows): row tl is then batch row rows[tl], at its
// own position.
__global__ void __launch_bounds__(kCombineThreads) attn_combine_kernel(AttnArgs a) {
    __shared__ float s_num[kCombineWarps][256];
    __shared__ float s_m[kCombineWarps], s_l[kCombineWarps];
    pdl_wait();
    const int h = blockIdx.x, tl = blockIdx.y;
    const int t = a.rows ? a.rows[tl] : a.t0 + tl;
    const int last = a.rows ? a.positions[t] : a.d_pos[0] + t;  // the last position row t sees
    const int nc = min(a.n_chunks, (last + a.chunk) / a.chunk);
    const int hd = a.hd, n2 = hd / 2, warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const size_t stride = size_t(hd + 2);
    const float* part = a.part + (size_t(tl) * a.n_heads + h) * a.n_chunks * stride;
    float m = -INFINITY, l = 0.0f;
    float2 num[4];
#pragma unroll
    for (int i = 0; i < 4; ++i) num[i].x = num[i].y = 0.0f;
#pragma unroll 4
    for (int c = warp; c < nc; c += kCombineWarps) {
        const float* pc = part + size_t(c) * stride;
        const float mc = pc[hd], lc = pc[hd + 1];
        float2 v[4];
#pragma unroll
        for (int i = 0; i < 4; ++i) {
            const int j = lane + 32 * i;
            if (j < n2) v[i] = *reinterpret_cast<const float2*>(pc + 2 * j);
            else v[i].x = v[i].y = 0.0f;
        }
        const float mn = fmaxf(m, mc);
        const float fo = m == -INFINITY ? 0.0f : expf(m - mn);
        const float fc = mc == -INFINITY ? 0.0f : expf(mc - mn);
        l = l * fo + lc * fc;
#pragma unroll
        for (int i = 0; i < 4; ++i) {
            num[i].x = num[i].x * fo + v[i].x * fc;
            num[i].y = num[i].y * fo + v[i].y * fc;
        }
        m = mn;
    }
#pragma unroll
    for (int i = 0; i < 4; ++i) {
        const int j = lane + 32 * i;
        if (j < n2) {
            s_num[warp][2 * j] = num[i].x;
            s_num[warp][2 * j + 1] = num[i].y;
        }
    }
    if (lane == 0) {
        s_m[warp] = m;
        s_l[warp] = l;
    }
    __syncthreads();
    for (int d = threadIdx.x; d < hd; d += kCombineThreads) {
        float mx = -INFINITY;
#pragma unroll
        for (int w = 0; w < kCombineWarps; ++w) mx = fmaxf(mx, s_m[w]);
        float n = 0.0f, den = 0.0f;
#pragma unroll
        for (int w = 0; w < kCombineWarps; ++w) {
            const float f = s_m[w] == -INFINITY ? 0.0f : expf(s_m[w] - mx);
            n += f * s_num[w][d];
            den += f * s_l[w];
        }
        const float o = n / den;
        a.out[size_t(t) * a.n_heads * hd + size_t(h) * hd + d] = o;
        // The wo matvec's int8 input, without a launch of its own: a warp holds one group of 32.
        if (a.out_q.q) {
            const int i = h * hd + d;
            quantize_group(o, a.out_q.q + (i - lane), a.out_q.ds + (i >> 5), lane);
        }
    }
}

// A V row's hd halves over a warp's 32 lanes: VH halves a lane (one load) where that covers
// the row, else 4-byte pairs, up to 4 a lane (any even hd up to 256).
template <int G, bool Paged>
void launch_chunks(const AttnArgs& a, dim3 grid, int group, int n_sub, cudaStream_t s) {
    const size_t smem = sizeof(float) * size_t(kWarps) * G * size_t(a.hd);
    void (*k)(AttnArgs, int, int) = a.hd / 2 <= 32                   ? attn_chunk_kernel<G, 2, 1, Paged>
                                    : a.hd % 4 == 0 && a.hd / 4 <= 32 ? attn_chunk_kernel<G, 4, 1, Paged>
                                    : a.hd % 8 == 0                   ? attn_chunk_kernel<G, 8, 1, Paged>
                                                                      : attn_chunk_kernel<G, 2, 4, Paged>;
    launch(k, grid, dim3(kThreads), smem, s, "attention", a, group, n_sub);
}

template <int G, int HD, bool Paged>
void launch_prompt_hd(const AttnArgs& a, dim3 grid, int group, int n_sub, cudaStream_t s) {
    const size_t smem = sizeof(float) * prompt_smem_floats<HD>();  // 81 KB at hd 128: two blocks an SM
    void (*k)(AttnArgs, int, int) = attn_prompt_kernel<G, HD, Paged>;
#ifndef LD_CUDA_EMULATOR
    LD_CUDA(cudaFuncSetAttribute(k, cudaFuncAttributeMaxDynamicSharedMemorySize, int(smem)));
#endif
    launch(k, grid, dim3(kThreads), smem, s, "prompt attention", a, group, n_sub);
}

template <int G, bool Paged>
void launch_prompt(const AttnArgs& a, dim3 grid, int group, int n_sub, cudaStream_t s) {
    if (a.hd == 64) launch_prompt_hd<G, 64, Paged>(a, grid, group, n_sub, s);
    else launch_prompt_hd<G, 128, Paged>(a, grid, group, n_sub, s);
}

template <bool Paged>
void attention(const AttnArgs& a, cudaStream_t s) {
    if (a.hd <= 0 || a.hd > 256 || a.hd % 2 != 0)
        fail("the CUDA backend supports even head sizes up to 256, not ", a.hd);
    if (a.n_kv <= 0 || a.n_heads % a.n_kv != 0) fail("CUDA attention: ", a.n_heads, " heads over ", a.n_kv, " KV heads");
    if (a.chunk <= 0 || a.chunk > kMaxAttnChunk) fail("CUDA attention: chunk ", a.chunk, " out of range");
    if (a.n_tok <= 0) return;
    if (a.out_q.q && (a.n_tok != 1 || a.hd % 32 != 0)) fail("CUDA attention: int8 output needs one token and hd % 32 == 0");
    const int group = a.n_heads / a.n_kv;
    const int g = group <= 1 ? 1 : group <= 2 ? 2 : group <= 4 ? 4 : kMaxGroup;
    const int n_sub = (group + g - 1) / g;
    if (a.n_chunks <= 0 || a.n_chunks > 65535 || a.n_tok > 65535)
        fail("CUDA attention: ", a.n_chunks, " chunks of ", a.n_tok, " tokens in one launch");
    // Chunks on y: blocks start in x-fastest order, so those of the first chunks (the ones with
    // work in a decode step whose grid has every chunk of the context) start first.
    if (a.n_tok > 1 && (a.hd == 64 || a.hd == 128)) {
        // A prompt: T = 64 / g tokens a block (16 for the 8B's groups of 4).
        const dim3 grid(unsigned(a.n_kv * n_sub), unsigned(a.n_chunks), unsigned((a.n_tok + kRows / g - 1) / (kRows / g)));
        switch (g) {
            case 1: launch_prompt<1, Paged>(a, grid, group, n_sub, s); break;
            case 2: launch_prompt<2, Paged>(a, grid, group, n_sub, s); break;
            case 4: launch_prompt<4, Paged>(a, grid, group, n_sub, s); break;
            default: launch_prompt<8, Paged>(a, grid, group, n_sub, s); break;
        }
    } else {
        const dim3 grid(unsigned(a.n_kv * n_sub), unsigned(a.n_chunks), unsigned(a.n_tok));
        switch (g) {
            case 1: launch_chunks<1, Paged>(a, grid, group, n_sub, s); break;
            case 2: launch_chunks<2, Paged>(a, grid, group, n_sub, s); break;
            case 4: launch_chunks<4, Paged>(a, grid, group, n_sub, s); break;
            default: launch_chunks<8, Paged>(a, grid, group, n_sub, s); break;
        }
    }
    launch_attention_combine(a, s);
}

}  // namespace

void launch_attention_combine(const AttnArgs& a, cudaStream_t s) {
    if (a.hd <= 0 || a.hd > 256 || a.hd % 2 != 0) fail("CUDA attention combine: head size ", a.hd);
    if (a.chunk <= 0 || a.n_chunks <= 0 || a.n_tok > 65535)
        fail("CUDA attention combine: ", a.n_tok, " rows of ", a.n_chunks, " chunks of ", a.chunk, " positions");
    if (a.n_tok <= 0) return;
    launch(attn_combine_kernel, dim3(unsigned(a.n_heads), unsigned(a.n_tok)), dim3(kCombineThreads), 0, s,
           "attention combine", a);
}

void launch_attention(const AttnArgs& a, cudaStream_t s) {
    // The one-sequence kernels stay exactly as they were; paged tiles are separate instances.
    if (a.table && a.chunk % kTile != 0) fail("CUDA attention: paged chunks of ", a.chunk, " positions");
    if (a.table) attention<true>(a, s);
    else attention<false>(a, s);
}

}  // namespace ld::cuda
