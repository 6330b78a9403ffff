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

// Decode matrix-vector products, one token. Up to three matrices of the same type and input
// width share a launch (q/k/v): rows are numbered across the jobs in order.
enum class MvMode {
    Store = 0,       // y = W x
    Accumulate = 1,  // y += W x (residual add fused)
    SwiGlu = 2,      // job0 = gate, job1 = up (same rows): job0.y = silu(Wg x) * (Wu x)
};
struct MvJob {
    const uint8_t* w = nullptr;  // rows of row_bytes
    float* y = nullptr;          // (rows)
    int rows = 0;
};
struct MvArgs {
    MvJob job[3];
    int n_jobs = 1;
    int ne0 = 0;
    size_t row_bytes = 0;
    const float* x = nullptr;    // (ne0)
};
void launch_matvec(GgmlType t, MvMode mode, const MvArgs& a, cudaStream_t s);

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
};
void launch_attention(const AttnArgs& a, cudaStream_t s);
// Largest chunk the attention kernel's shared memory holds.
constexpr int kMaxAttnChunk = 4096;
// Cache positions per attention chunk for a context: 256, or longer for very long contexts so
// that a head has at most 64 partial results.
inline int attention_chunk(int n_ctx) {
    int chunk = 256;
    while ((n_ctx + chunk - 1) / chunk > 64 && chunk < kMaxAttnChunk) chunk *= 2;
    return chunk;
}

}  // namespace ld::cuda
