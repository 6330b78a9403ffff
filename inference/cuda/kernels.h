#pragma once
// Host-side launchers of the CUDA kernels (*.cu). Plain C++ declarations so the forward pass
// (cuda_backend.cpp) is compiled by the host compiler. Every launcher checks its launch and
// throws ld::Error on failure. Device pointers are typed by their element: f16 data travels as
// uint16_t (IEEE half bits).
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "inference/quant/types.h"

namespace ld::cuda {

// Types whose rows the kernels can read: F32, F16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K,
// Q6_K. Rows are read 8 elements at a time; F32 / F16 rows of other widths take slower
// one-element-per-lane kernels.
bool type_supported(GgmlType t);

// Device-only weight layouts (never in files). Q4_0, Q8_0 and Q6_K blocks are 18, 34 and 210
// bytes, so their bodies are only 2-byte aligned and a lane needs many narrow loads. At upload,
// rows whose block count is a multiple of 8 are regrouped: per 8 blocks, their 8 f16 scales d
// (16 bytes) and then the 8 bodies without d, so every body starts on 16 bytes and a lane reads
// it with one or two 16-byte loads. Same bytes, same row size.
constexpr GgmlType kQ4_0R = GgmlType(0x1002);  // per 8 blocks: d[8], qs[8][16]      (144 bytes)
constexpr GgmlType kQ8_0R = GgmlType(0x1008);  // per 8 blocks: d[8], qs[8][32]      (272 bytes)
constexpr GgmlType kQ6_KR = GgmlType(0x100E);  // per 8 blocks: d[8], (ql qh sc)[8]  (1680 bytes)
// The layout rows of type t and width ne0 get on the device (t itself, or a regrouped one).
GgmlType device_type(GgmlType t, int64_t ne0);
// rows rows of GGUF type t (width ne0) rewritten from src into dst in device_type's layout.
void to_device_layout(GgmlType t, int64_t ne0, int64_t rows, const uint8_t* src, uint8_t* dst);
// The file type a device type was made from (for messages).
GgmlType file_type(GgmlType t);

// A decode activation quantized for the dp4a matvec: per 32 elements, int8 values q and a
// float4 {d, d * sum(q[0..15]), d * sum(q[16..31]), 0}, x ~ d * q. The half sums carry the
// weights' offsets and mins (Q4_0's -8, Q4_K's m, Q6_K's -32) with no extra work per element.
struct Q8Act {
    int8_t* q = nullptr;     // (n)
    float4* ds = nullptr;    // (n / 32)
};
// Weight types whose decode matvec multiplies int8 activations (dp4a): Q4_0 and Q8_0 and Q6_K
// regrouped, Q4_1, Q4_K, Q5_K. Others (F32, F16, Q5_0, Q5_1, rows not regrouped) read f32 x.
bool has_q8_dot(GgmlType t);
// x (n floats, n a multiple of 32) to q. Several rows of a width that is a multiple of 32 are
// quantized by one call over all of them: groups never straddle two rows.
void launch_quantize_q8(const float* x, int n, Q8Act q, cudaStream_t s);
// One row: out = x / rms(x) * w (f32) and, when q.q is set (n a multiple of 32), also quantized.
// zero: n_zero doubles the kernel sets to 0 first (MvFuse's sums for the step's later kernels:
// a memset node would sit between kernels of the graph that launch with PDL).
void launch_rmsnorm_q8(const float* x, const float* w, float* out, Q8Act q, int n, float eps, cudaStream_t s,
                       double* zero = nullptr, int n_zero = 0);

// Decode matrix-vector products, one token. Up to three matrices of the same type and input
// width share a launch (q/k/v): rows are numbered across the jobs in order.
enum class MvMode {
    Store = 0,       // y = W x
    Accumulate = 1,  // y += W x (residual add fused)
    SwiGlu = 2,      // job0 = gate, job1 = up (same rows): job0.y = silu(Wg x) * (Wu x)
    QkvRope = 3,     // jobs of q, k and/or v (MvRope::role): q rotated to its y, k rotated and v
                     // as f16 into the caches at *d_pos (int8 activations only; rope_store's work)
};
struct MvRope {
    const int32_t* d_pos = nullptr;
    const float* inv_freq = nullptr;  // (rope_dim / 2)
    uint16_t* k_cache = nullptr;      // this layer's, (n_ctx, kv_rows) f16
    uint16_t* v_cache = nullptr;
    int hd = 0, rope_dim = 0, kv_rows = 0;
    int role[3] = {0, 1, 2};          // per job: 0 = q, 1 = k, 2 = v
};
struct MvJob {
    const uint8_t* w = nullptr;  // rows of row_bytes
    float* y = nullptr;          // (rows)
    int rows = 0;
};
// The int8 epilogues of the decode step (Tuning::cuda_fused_q8): the matvec that produces an
// activation also quantizes it for the next int8 matvec, so the separate quantize and RMSNorm
// launches go (2.4 and 3.3 us each on the H200: 96 of an 8B step's 330). No grid-wide sync: the block
// that finishes a group of 32 output rows last (a counter per group) quantizes that group.
struct MvFuse {
    // Output: the kernel's outputs (SwiGlu: silu(g) * u; Accumulate: the updated y, one job)
    // quantized into out_q; rows a multiple of 32. group_count: an int per group, zero before,
    // left zero. With out_norm (Accumulate: the next RMSNorm folded in), out_q gets y * out_norm,
    // not yet normalized, and each group adds its sum of y^2 to *out_ss (zeroed by the caller).
    Q8Act out_q;
    const float* out_norm = nullptr;
    double* out_ss = nullptr;
    int* group_count = nullptr;
    // Input: xq holds x * w of such a folded RMSNorm: the sums are scaled by
    // 1 / sqrt(*in_ss / ne0 + in_eps) before the epilogue (the norm's scale is one scalar).
    const double* in_ss = nullptr;
    float in_eps = 0.0f;
};
struct MvArgs {
    MvJob job[3];
    int n_jobs = 1;
    int ne0 = 0;
    size_t row_bytes = 0;
    const float* x = nullptr;    // (ne0)
    Q8Act xq;                    // x quantized, for types with has_q8_dot (else unset)
    MvRope rope;                 // QkvRope only
    int split = 0;               // int8 kernels: warps along K per row group, 1/2/4; 0 = from the shape
    MvFuse fuse;                 // one token, int8 kernels only; unset = no fused epilogue
    int variant = 0;             // one token, int8 kernels only: kMv* bits (Tuning::cuda_mv_variant)
};
// The decode matvec variants of Tuning::cuda_mv_variant (unmeasured, off by default): each is the
// same kernel template as the default one, so a row's sums are the default kernel's bit for bit
// at the same split-K.
constexpr int kMvGateUp4 = 1;  // SwiGlu: 4 gate + 4 up rows per warp instead of 2 + 2
constexpr int kMvQ6Lean = 2;   // Q6_K: one 8-byte scale load, two activation floats, <= 64 registers
void launch_matvec(GgmlType t, MvMode mode, const MvArgs& a, cudaStream_t s);

// Most columns of the small-batch matvec.
constexpr int kMaxBatchQ8 = 16;
// launch_matvec for B tokens, 2 <= B <= kMaxBatchQ8 (matvec_batch.cu): weights with has_q8_dot
// times B int8 activation rows, a.xq holding them one after the other (B * ne0 values, quantized
// as one launch_quantize_q8 of B * ne0), each job's y (B, rows) row-major. Store, Accumulate and
// SwiGlu (gate/up, job 0's y gets silu(g) * u); not QkvRope. Each column's result is bit for bit
// launch_matvec's on that column alone (same chunks per lane and order of sums).
void launch_matvec_batch(GgmlType t, MvMode mode, const MvArgs& a, int B, cudaStream_t s);

// Rows of W to out (n, ne0), as f16 (f16_out) or f32: row r is ids[r] when ids is given (a
// device array, the embedding lookup), else row0 + r.
void launch_dequant(GgmlType t, const uint8_t* w, size_t row_bytes, int ne0, const int32_t* ids,
                    int64_t row0, int n, void* out, bool f16_out, cudaStream_t s);

// x (n floats) as f16: hi = half(x), lo = half(x - hi) when lo is not null (two GEMMs with hi
// and lo keep ~22 bits of the activations).
void launch_split_f16(const float* x, size_t n, uint16_t* hi, uint16_t* lo, cudaStream_t s);

// out (rows, n) = x / rms(x) * w, per row.
void launch_rmsnorm(const float* x, const float* w, float* out, int n, int rows, float eps, cudaStream_t s);
// g = silu(g) * u over n elements.
void launch_swiglu(float* g, const float* u, size_t n, cudaStream_t s);

// RoPE (adjacent pairs, angle = position * inv_freq[i]) of q (B, n_heads*hd) in place and of
// k, stored as f16 with v into the caches (n_ctx rows of n_kv*hd starting at this layer) at
// rows *d_pos + t.
void launch_rope_store(float* q, const float* k, const float* v, uint16_t* k_cache, uint16_t* v_cache,
                       const int32_t* d_pos, int B, int n_heads, int n_kv, int hd, int rope_dim,
                       const float* inv_freq, cudaStream_t s);

// launch_rope_store for a paged step: token t is at position positions[t] of its sequence and
// its k and v go to cache row slots[t] (device arrays of B).
void launch_rope_store_paged(float* q, const float* k, const float* v, uint16_t* k_cache, uint16_t* v_cache,
                             const int32_t* positions, const int32_t* slots, int B, int n_heads, int n_kv, int hd,
                             int rope_dim, const float* inv_freq, cudaStream_t s);

// Attention of a paged step (attention_paged.cu), for the batch rows listed in rows: row t at
// position positions[t] sees positions 0 .. positions[t] of its own sequence, position p in cache
// row tables[table_off[t] + p / block] * block + p % block. Every array is on the device.
struct PagedAttnArgs {
    const float* q = nullptr;          // (n_tok, n_heads*hd)
    const uint16_t* k = nullptr;       // this layer's cache, (slots, n_kv*hd) f16
    const uint16_t* v = nullptr;
    float* out = nullptr;              // (n_tok, n_heads*hd)
    const int32_t* positions = nullptr;  // (n_tok)
    const int32_t* table_off = nullptr;  // (n_tok) where row t's block table starts in tables
    const int32_t* tables = nullptr;
    const int32_t* rows = nullptr;       // (n_tok) the batch rows this launch computes
    int block = 64;
    int n_tok = 0, n_heads = 0, n_kv = 0, hd = 0;
    float scale = 1.0f;
    // Split-K (n_chunks > 1): each row's context in chunks of `chunk` positions (a multiple of
    // block), a block per (head, row, chunk) writing partials to part (n_tok, n_heads, n_chunks,
    // hd + 2), merged by attention.cu's combine. n_chunks 1: one block walks the whole row.
    float* part = nullptr;
    int chunk = 0, n_chunks = 1;
};
void launch_attention_paged(const PagedAttnArgs& a, cudaStream_t s);
// Positions per split-K chunk of a paged decode step's attention (PagedAttnArgs::chunk), 0 for
// no split: n_rows rows of n_heads heads, the longest seeing `longest` positions, on sm_count
// SMs, with part_floats floats of partials at most. forced: > 0 that many positions (rounded up
// to a block), -1 never, 0 from the shape (Tuning::cuda_paged_chunk).
int paged_attention_chunk(int n_rows, int n_heads, int hd, int longest, int block, int sm_count, size_t part_floats,
                          int forced);
// out (n, width) = rows rows[0..n) of x (a device array of row indices).
void launch_gather_rows(const float* x, const int32_t* rows, int n, int width, float* out, cudaStream_t s);

// Causal attention, split along the cache (flash-decoding): tokens t0 .. t0 + n_tok of the batch
// (query t at position *d_pos + t sees positions 0 .. *d_pos + t), each head's cache split in
// n_chunks chunks of `chunk` positions, partial results in part, then combined into out.
struct AttnArgs {
    const float* q = nullptr;        // (B, n_heads*hd) of the whole batch
    const uint16_t* k = nullptr;     // this layer's cache, (n_ctx, n_kv*hd)
    const uint16_t* v = nullptr;
    float* out = nullptr;            // (B, n_heads*hd)
    float* part = nullptr;           // (n_tok, n_heads, n_chunks, hd + 2)
    const int32_t* d_pos = nullptr;
    int t0 = 0, n_tok = 1;
    int n_heads = 0, n_kv = 0, hd = 0;
    int chunk = 256, n_chunks = 1;
    float scale = 1.0f;
    Q8Act out_q;                     // set: out also quantized for the int8 matvec (n_tok 1, hd % 32 == 0)
    // Set (a paged step's prompt chunk of one sequence): position p is in cache row
    // table[p / 64] * 64 + p % 64 (64-position KV blocks; chunk a multiple of 64). Null: row p.
    const int32_t* table = nullptr;
    // Combine only (launch_attention_combine of a paged decode step's split): partial row tl is
    // batch row rows[tl], at position positions[rows[tl]] (d_pos and t0 unused).
    const int32_t* rows = nullptr;
    const int32_t* positions = nullptr;
};
void launch_attention(const AttnArgs& a, cudaStream_t s);
// The second half of launch_attention alone: merges a.n_tok rows' partials in a.part into a.out.
void launch_attention_combine(const AttnArgs& a, cudaStream_t s);
// Longest chunk attention_chunk picks (the kernel walks a chunk in tiles of 64 positions).
constexpr int kMaxAttnChunk = 4096;
// Cache positions per attention chunk for a context: 64 (one tile, so a decode step at position
// p spreads over p / 64 blocks per KV head), longer beyond 8192 positions so that a head has at
// most 128 partial results (the partials buffer and the combine grow with their number).
inline int attention_chunk(int n_ctx) {
    int chunk = 64;
    while ((n_ctx + chunk - 1) / chunk > 128 && chunk < kMaxAttnChunk) chunk *= 2;
    return chunk;
}

}  // namespace ld::cuda
