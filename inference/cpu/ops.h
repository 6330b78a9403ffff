#pragma once
// Element-wise and attention helpers of the CPU forward pass. These are also the reference
// every GPU backend's ops are tested against.
#include <cstdint>

#include "inference/quant/fp16.h"

namespace ld::cpu {

void rmsnorm(float* out, const float* x, const float* weight, int n, float eps);
void softmax(float* x, int n);
// g[i] = silu(g[i]) * u[i]. Each element's result depends only on g[i] and u[i], whatever n
// and wherever the element sits (the feed-forward block applies it to chunks of varying size).
// AVX2 where detected_isa() allows it (a vector exp within ~1 ulp of the scalar std::exp).
void silu_mul(float* g, const float* u, int n);
void silu_mul_scalar(float* g, const float* u, int n);
using SiluMulFn = void (*)(float* g, const float* u, int n);
SiluMulFn silu_mul_avx2_fn();  // nullptr when not supported
// Rotates adjacent pairs (x[2i], x[2i+1]) of each head's first rope_dim values (GGUF Llama
// weights are permuted for this layout) by the angles whose cos/sin are given per pair.
void rope(float* x, int n_heads, int head_dim, int rope_dim, const float* cos, const float* sin);

// Dot and axpy between f32 vectors and KV-cache rows stored as f16 or f32. Chosen at run time
// (F16C/AVX2 when present).
struct KvKernels {
    float (*dot_f16)(int n, const fp16_t* k, const float* q);
    void (*axpy_f16)(int n, float a, const fp16_t* v, float* out);  // out += a * v
    float (*dot_f32)(int n, const float* k, const float* q);
    void (*axpy_f32)(int n, float a, const float* v, float* out);
};
const KvKernels& kv_kernels();       // best for this CPU
const KvKernels& kv_kernels_scalar();
const KvKernels* kv_kernels_avx2();  // nullptr when not supported

// One query head over `n_kv` cached positions: out = softmax(q . K^T * scale) V. The reference
// that the CPU backend's tiled attention (attention_tiled.h) is tested against.
// `k_rows`/`v_rows` point at position 0 of this KV head; rows are `stride` elements apart.
// `scores` is scratch of n_kv floats.
void attend_f16(const KvKernels& kk, const float* q, const fp16_t* k_rows, const fp16_t* v_rows,
                int stride, int n_kv, int head_dim, float scale, float* scores, float* out);
void attend_f32(const KvKernels& kk, const float* q, const float* k_rows, const float* v_rows,
                int stride, int n_kv, int head_dim, float scale, float* scores, float* out);

// A paged sequence's positions in cache order: `n` consecutive rows from row `first`.
struct KvRun {
    int64_t first;
    int n;
};
// The same over the first `n_kv` positions of a sequence whose rows lie in `runs` (as many of
// them as n_kv needs; the last may be cut short). One softmax over all of them, and the same
// operations in the same order as the contiguous call: one run {0, n_kv} gives its bits.
void attend_f16(const KvKernels& kk, const float* q, const fp16_t* k_rows, const fp16_t* v_rows,
                int stride, const KvRun* runs, int n_kv, int head_dim, float scale, float* scores, float* out);
void attend_f32(const KvKernels& kk, const float* q, const float* k_rows, const float* v_rows,
                int stride, const KvRun* runs, int n_kv, int head_dim, float scale, float* scores, float* out);

}  // namespace ld::cpu
