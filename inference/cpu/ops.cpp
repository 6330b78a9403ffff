#include "inference/cpu/ops.h"

#include <cmath>
#include <cstring>

#include "inference/quant/quant.h"

namespace ld::cpu {

void rmsnorm(float* out, const float* x, const float* weight, int n, float eps) {
    double ss = 0.0;  // double: long rows of large activations must not lose the small ones
    for (int i = 0; i < n; ++i) ss += double(x[i]) * x[i];
    const float scale = float(1.0 / std::sqrt(ss / n + eps));
    for (int i = 0; i < n; ++i) out[i] = x[i] * scale * weight[i];
}

void softmax(float* x, int n) {
    float mx = -INFINITY;
    for (int i = 0; i < n; ++i) mx = x[i] > mx ? x[i] : mx;
    double sum = 0.0;
    for (int i = 0; i < n; ++i) {
        x[i] = std::exp(x[i] - mx);
        sum += x[i];
    }
    const float inv = float(1.0 / sum);
    for (int i = 0; i < n; ++i) x[i] *= inv;
}

void silu_mul_scalar(float* g, const float* u, int n) {
    for (int i = 0; i < n; ++i) g[i] = g[i] / (1.0f + std::exp(-g[i])) * u[i];
}

void silu_mul(float* g, const float* u, int n) {
    static const SiluMulFn avx2 = int(detected_isa()) >= int(Isa::AVX2) ? silu_mul_avx2_fn() : nullptr;
    (avx2 ? avx2 : silu_mul_scalar)(g, u, n);
}

void rope(float* x, int n_heads, int head_dim, int rope_dim, const float* cos, const float* sin) {
    for (int h = 0; h < n_heads; ++h) {
        float* v = x + h * head_dim;
        for (int i = 0; i < rope_dim / 2; ++i) {
            const float a = v[2 * i], b = v[2 * i + 1];
            v[2 * i] = a * cos[i] - b * sin[i];
            v[2 * i + 1] = a * sin[i] + b * cos[i];
        }
    }
}

namespace {

float dot_f16_scalar(int n, const fp16_t* k, const float* q) {
    float s = 0;
    for (int i = 0; i < n; ++i) s += fp16_to_fp32(k[i]) * q[i];
    return s;
}
void axpy_f16_scalar(int n, float a, const fp16_t* v, float* out) {
    for (int i = 0; i < n; ++i) out[i] += a * fp16_to_fp32(v[i]);
}
float dot_f32_scalar(int n, const float* k, const float* q) {
    float s = 0;
    for (int i = 0; i < n; ++i) s += k[i] * q[i];
    return s;
}
void axpy_f32_scalar(int n, float a, const float* v, float* out) {
    for (int i = 0; i < n; ++i) out[i] += a * v[i];
}

constexpr KvKernels kScalar{dot_f16_scalar, axpy_f16_scalar, dot_f32_scalar, axpy_f32_scalar};

template <typename T, typename Dot, typename Axpy>
void attend(const T* k_rows, const T* v_rows, const float* q, int stride, const KvRun* runs, int n_kv,
            int head_dim, float scale, float* scores, float* out, Dot dot, Axpy axpy) {
    int j = 0;
    for (const KvRun* r = runs; j < n_kv; ++r) {
        const int n = r->n < n_kv - j ? r->n : n_kv - j;
        const T* k = k_rows + size_t(r->first) * size_t(stride);
        for (int i = 0; i < n; ++i, ++j) scores[j] = dot(head_dim, k + size_t(i) * stride, q) * scale;
    }
    softmax(scores, n_kv);
    std::memset(out, 0, sizeof(float) * size_t(head_dim));
    j = 0;
    for (const KvRun* r = runs; j < n_kv; ++r) {
        const int n = r->n < n_kv - j ? r->n : n_kv - j;
        const T* v = v_rows + size_t(r->first) * size_t(stride);
        for (int i = 0; i < n; ++i, ++j) axpy(head_dim, scores[j], v + size_t(i) * stride, out);
    }
}

}  // namespace

const KvKernels& kv_kernels_scalar() { return kScalar; }

const KvKernels& kv_kernels() {
    const KvKernels* avx2 = kv_kernels_avx2();
    return avx2 ? *avx2 : kScalar;
}

void attend_f16(const KvKernels& kk, const float* q, const fp16_t* k_rows, const fp16_t* v_rows,
                int stride, int n_kv, int head_dim, float scale, float* scores, float* out) {
    const KvRun all{0, n_kv};
    attend(k_rows, v_rows, q, stride, &all, n_kv, head_dim, scale, scores, out, kk.dot_f16, kk.axpy_f16);
}

void attend_f32(const KvKernels& kk, const float* q, const float* k_rows, const float* v_rows,
                int stride, int n_kv, int head_dim, float scale, float* scores, float* out) {
    const KvRun all{0, n_kv};
    attend(k_rows, v_rows, q, stride, &all, n_kv, head_dim, scale, scores, out, kk.dot_f32, kk.axpy_f32);
}

void attend_f16(const KvKernels& kk, const float* q, const fp16_t* k_rows, const fp16_t* v_rows,
                int stride, const KvRun* runs, int n_kv, int head_dim, float scale, float* scores, float* out) {
    attend(k_rows, v_rows, q, stride, runs, n_kv, head_dim, scale, scores, out, kk.dot_f16, kk.axpy_f16);
}

void attend_f32(const KvKernels& kk, const float* q, const float* k_rows, const float* v_rows,
                int stride, const KvRun* runs, int n_kv, int head_dim, float scale, float* scores, float* out) {
    attend(k_rows, v_rows, q, stride, runs, n_kv, head_dim, scale, scores, out, kk.dot_f32, kk.axpy_f32);
}

}  // namespace ld::cpu
