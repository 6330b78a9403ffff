// F16C/AVX2/FMA versions of the KV-cache kernels and SwiGLU; used only after a run-time CPU check.
#include <immintrin.h>

#include "inference/cpu/exp_avx2.h"
#include "inference/cpu/ops.h"

namespace ld::cpu {

namespace {

inline float hsum(__m256 v) {
    __m128 lo = _mm256_castps256_ps128(v), hi = _mm256_extractf128_ps(v, 1);
    lo = _mm_add_ps(lo, hi);
    lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
    lo = _mm_add_ss(lo, _mm_movehdup_ps(lo));
    return _mm_cvtss_f32(lo);
}

float dot_f16(int n, const fp16_t* k, const float* q) {
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256 k0 = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(k + i)));
        __m256 k1 = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(k + i + 8)));
        acc0 = _mm256_fmadd_ps(k0, _mm256_loadu_ps(q + i), acc0);
        acc1 = _mm256_fmadd_ps(k1, _mm256_loadu_ps(q + i + 8), acc1);
    }
    float s = hsum(_mm256_add_ps(acc0, acc1));
    for (; i < n; ++i) s += fp16_to_fp32(k[i]) * q[i];
    return s;
}

void axpy_f16(int n, float a, const fp16_t* v, float* out) {
    const __m256 va = _mm256_set1_ps(a);
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 x = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(v + i)));
        _mm256_storeu_ps(out + i, _mm256_fmadd_ps(va, x, _mm256_loadu_ps(out + i)));
    }
    for (; i < n; ++i) out[i] += a * fp16_to_fp32(v[i]);
}

float dot_f32(int n, const float* k, const float* q) {
    __m256 acc = _mm256_setzero_ps();
    int i = 0;
    for (; i + 8 <= n; i += 8) acc = _mm256_fmadd_ps(_mm256_loadu_ps(k + i), _mm256_loadu_ps(q + i), acc);
    float s = hsum(acc);
    for (; i < n; ++i) s += k[i] * q[i];
    return s;
}

void axpy_f32(int n, float a, const float* v, float* out) {
    const __m256 va = _mm256_set1_ps(a);
    int i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(out + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(v + i), _mm256_loadu_ps(out + i)));
    for (; i < n; ++i) out[i] += a * v[i];
}

constexpr KvKernels kAvx2{dot_f16, axpy_f16, dot_f32, axpy_f32};

// g / (1 + exp(-g)) * u, the scalar formula's operations with a vector exp.
inline __m256 silu_mul8(__m256 g, __m256 u) {
    const __m256 e = exp_ps(_mm256_sub_ps(_mm256_setzero_ps(), g));
    return _mm256_mul_ps(_mm256_div_ps(g, _mm256_add_ps(_mm256_set1_ps(1.0f), e)), u);
}

void silu_mul_avx2(float* g, const float* u, int n) {
    int i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(g + i, silu_mul8(_mm256_loadu_ps(g + i), _mm256_loadu_ps(u + i)));
    if (i < n) {  // the tail through a padded vector: an element's bits never depend on where it sits
        alignas(32) float a[8] = {}, b[8] = {};
        for (int k = 0; i + k < n; ++k) a[k] = g[i + k], b[k] = u[i + k];
        _mm256_store_ps(a, silu_mul8(_mm256_load_ps(a), _mm256_load_ps(b)));
        for (int k = 0; i + k < n; ++k) g[i + k] = a[k];
    }
}

}  // namespace

SiluMulFn silu_mul_avx2_fn() {
    static const bool ok = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    return ok ? silu_mul_avx2 : nullptr;
}

const KvKernels* kv_kernels_avx2() {
    static const bool ok = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
                           __builtin_cpu_supports("f16c");
    return ok ? &kAvx2 : nullptr;
}

}  // namespace ld::cpu
