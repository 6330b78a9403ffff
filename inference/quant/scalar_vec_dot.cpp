// Scalar reference dot products: weight row of type t against the activation in
// vec_dot_type(t). Integer sums per block, then one float multiply by the block scales, as in
// ggml's generic kernels; the SIMD kernels must agree with these to float rounding.
#include "inference/quant/quant_internal.h"

namespace ld::detail {

namespace {

void dot_f32(int64_t n, float* s, const void* w, const void* x) {
    const float* a = static_cast<const float*>(w);
    const float* b = static_cast<const float*>(x);
    float sum = 0;
    for (int64_t i = 0; i < n; ++i) sum += a[i] * b[i];
    *s = sum;
}

void dot_f16(int64_t n, float* s, const void* w, const void* x) {
    const fp16_t* a = static_cast<const fp16_t*>(w);
    const float* b = static_cast<const float*>(x);
    float sum = 0;
    for (int64_t i = 0; i < n; ++i) sum += fp16_to_fp32(a[i]) * b[i];
    *s = sum;
}

void dot_bf16(int64_t n, float* s, const void* w, const void* x) {
    const bf16_t* a = static_cast<const bf16_t*>(w);
    const float* b = static_cast<const float*>(x);
    float sum = 0;
    for (int64_t i = 0; i < n; ++i) sum += bf16_to_fp32(a[i]) * b[i];
    *s = sum;
}

void dot_q4_0(int64_t n, float* s, const void* w, const void* x) {
    const block_q4_0* a = static_cast<const block_q4_0*>(w);
    const block_q8_0* b = static_cast<const block_q8_0*>(x);
    float sum = 0;
    for (int64_t i = 0; i < n / QK8_0; ++i) {
        int sumi = 0;
        for (int j = 0; j < 16; ++j) {
            sumi += ((a[i].qs[j] & 0x0F) - 8) * b[i].qs[j];
            sumi += ((a[i].qs[j] >> 4) - 8) * b[i].qs[j + 16];
        }
        sum += sumi * (fp16_to_fp32(a[i].d) * fp16_to_fp32(b[i].d));
    }
    *s = sum;
}

void dot_q4_1(int64_t n, float* s, const void* w, const void* x) {
    const block_q4_1* a = static_cast<const block_q4_1*>(w);
    const block_q8_1* b = static_cast<const block_q8_1*>(x);
    float sum = 0;
    for (int64_t i = 0; i < n / QK8_1; ++i) {
        int sumi = 0;
        for (int j = 0; j < 16; ++j) {
            sumi += (a[i].qs[j] & 0x0F) * b[i].qs[j];
            sumi += (a[i].qs[j] >> 4) * b[i].qs[j + 16];
        }
        sum += (fp16_to_fp32(a[i].d) * fp16_to_fp32(b[i].d)) * sumi +
               fp16_to_fp32(a[i].m) * fp16_to_fp32(b[i].s);
    }
    *s = sum;
}

void dot_q5_0(int64_t n, float* s, const void* w, const void* x) {
    const block_q5_0* a = static_cast<const block_q5_0*>(w);
    const block_q8_0* b = static_cast<const block_q8_0*>(x);
    float sum = 0;
    for (int64_t i = 0; i < n / QK8_0; ++i) {
        uint32_t qh;
        std::memcpy(&qh, a[i].qh, 4);
        int sumi = 0;
        for (int j = 0; j < 16; ++j) {
            const int h0 = ((qh >> j) << 4) & 0x10, h1 = (qh >> (j + 12)) & 0x10;
            sumi += (((a[i].qs[j] & 0x0F) | h0) - 16) * b[i].qs[j];
            sumi += (((a[i].qs[j] >> 4) | h1) - 16) * b[i].qs[j + 16];
        }
        sum += sumi * (fp16_to_fp32(a[i].d) * fp16_to_fp32(b[i].d));
    }
    *s = sum;
}

void dot_q5_1(int64_t n, float* s, const void* w, const void* x) {
    const block_q5_1* a = static_cast<const block_q5_1*>(w);
    const block_q8_1* b = static_cast<const block_q8_1*>(x);
    float sum = 0;
    for (int64_t i = 0; i < n / QK8_1; ++i) {
        uint32_t qh;
        std::memcpy(&qh, a[i].qh, 4);
        int sumi = 0;
        for (int j = 0; j < 16; ++j) {
            const int h0 = ((qh >> j) << 4) & 0x10, h1 = (qh >> (j + 12)) & 0x10;
            sumi += ((a[i].qs[j] & 0x0F) | h0) * b[i].qs[j];
            sumi += ((a[i].qs[j] >> 4) | h1) * b[i].qs[j + 16];
        }
        sum += (fp16_to_fp32(a[i].d) * fp16_to_fp32(b[i].d)) * sumi +
               fp16_to_fp32(a[i].m) * fp16_to_fp32(b[i].s);
    }
    *s = sum;
}

void dot_q8_0(int64_t n, float* s, const void* w, const void* x) {
    const block_q8_0* a = static_cast<const block_q8_0*>(w);
    const block_q8_0* b = static_cast<const block_q8_0*>(x);
    float sum = 0;
    for (int64_t i = 0; i < n / QK8_0; ++i) {
        int sumi = 0;
        for (int j = 0; j < QK8_0; ++j) sumi += a[i].qs[j] * b[i].qs[j];
        sum += sumi * (fp16_to_fp32(a[i].d) * fp16_to_fp32(b[i].d));
    }
    *s = sum;
}

// Q4_K/Q5_K: sum_j d*sc_j*dot(q_j, y_j) - dmin*m_j*sum(y_j); the sums of y come from bsums.
template <bool kFive>
void dot_q45_K(int64_t n, float* s, const void* w, const void* x) {
    const block_q8_K* b = static_cast<const block_q8_K*>(x);
    float sum = 0;
    for (int64_t i = 0; i < n / QK_K; ++i) {
        const uint8_t *qs, *qh = nullptr, *scales;
        float d, dmin;
        if constexpr (kFive) {
            const block_q5_K& a = static_cast<const block_q5_K*>(w)[i];
            qs = a.qs, qh = a.qh, scales = a.scales;
            d = fp16_to_fp32(a.d), dmin = fp16_to_fp32(a.dmin);
        } else {
            const block_q4_K& a = static_cast<const block_q4_K*>(w)[i];
            qs = a.qs, scales = a.scales;
            d = fp16_to_fp32(a.d), dmin = fp16_to_fp32(a.dmin);
        }
        const int8_t* y = b[i].qs;
        int sumi = 0, summ = 0;
        for (int j = 0; j < QK_K / 32; ++j) {
            uint8_t sc, m;
            get_scale_min_k4(j, scales, &sc, &m);
            const uint8_t* q = qs + (j / 2) * 32;
            const int shift = (j & 1) * 4;
            int dot = 0;
            for (int l = 0; l < 32; ++l) {
                int v = (q[l] >> shift) & 0xF;
                if (kFive && (qh[l] >> j) & 1) v += 16;
                dot += v * y[32 * j + l];
            }
            sumi += sc * dot;
            summ += m * (b[i].bsums[2 * j] + b[i].bsums[2 * j + 1]);
        }
        sum += b[i].d * (d * float(sumi) - dmin * float(summ));
    }
    *s = sum;
}

void dot_q6_K(int64_t n, float* s, const void* w, const void* x) {
    const block_q6_K* a = static_cast<const block_q6_K*>(w);
    const block_q8_K* b = static_cast<const block_q8_K*>(x);
    float sum = 0;
    for (int64_t i = 0; i < n / QK_K; ++i) {
        int8_t q[QK_K];
        const uint8_t* ql = a[i].ql;
        const uint8_t* qh = a[i].qh;
        for (int c = 0; c < QK_K; c += 128, ql += 64, qh += 32) {
            for (int l = 0; l < 32; ++l) {
                q[c + l + 0] = int8_t(((ql[l + 0] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32);
                q[c + l + 32] = int8_t(((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32);
                q[c + l + 64] = int8_t(((ql[l + 0] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32);
                q[c + l + 96] = int8_t(((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32);
            }
        }
        int sumi = 0;
        for (int g = 0; g < QK_K / 16; ++g) {
            int dot = 0;
            for (int l = 0; l < 16; ++l) dot += q[16 * g + l] * b[i].qs[16 * g + l];
            sumi += a[i].scales[g] * dot;
        }
        sum += fp16_to_fp32(a[i].d) * b[i].d * float(sumi);
    }
    *s = sum;
}

}  // namespace

VecDotFn scalar_vec_dot(GgmlType t) {
    switch (t) {
    case GgmlType::F32: return dot_f32;
    case GgmlType::F16: return dot_f16;
    case GgmlType::BF16: return dot_bf16;
    case GgmlType::Q4_0: return dot_q4_0;
    case GgmlType::Q4_1: return dot_q4_1;
    case GgmlType::Q5_0: return dot_q5_0;
    case GgmlType::Q5_1: return dot_q5_1;
    case GgmlType::Q8_0: return dot_q8_0;
    case GgmlType::Q4_K: return dot_q45_K<false>;
    case GgmlType::Q5_K: return dot_q45_K<true>;
    case GgmlType::Q6_K: return dot_q6_K;
    default: return nullptr;
    }
}

}  // namespace ld::detail
