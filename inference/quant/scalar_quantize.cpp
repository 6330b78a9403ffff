// Reference quantizers for the 32-element block types and the activation formats, ported from
// ggml's quantize_row_*_ref so that the bytes equal what llama-quantize writes without an
// importance matrix. K-quants live in scalar_quantize_k.cpp.
#include <algorithm>
#include <cmath>

#include "inference/quant/quant_internal.h"

namespace ld::detail {

void quantize_q4_K(const float* x, block_q4_K* y, int64_t nb);
void quantize_q5_K(const float* x, block_q5_K* y, int64_t nb);
void quantize_q6_K(const float* x, block_q6_K* y, int64_t nb);

namespace {

void q4_0(const float* x, block_q4_0* y, int64_t nb) {
    constexpr int qk = QK4_0;
    for (int64_t i = 0; i < nb; i++, x += qk) {
        float amax = 0.0f, max = 0.0f;  // max keeps the sign of the largest magnitude
        for (int j = 0; j < qk; j++) {
            if (amax < std::fabs(x[j])) {
                amax = std::fabs(x[j]);
                max = x[j];
            }
        }
        const float d = max / -8;
        const float id = d ? 1.0f / d : 0.0f;
        y[i].d = fp32_to_fp16(d);
        for (int j = 0; j < qk / 2; ++j) {
            const float x0 = x[j] * id, x1 = x[qk / 2 + j] * id;
            const uint8_t xi0 = std::min<int8_t>(15, int8_t(x0 + 8.5f));
            const uint8_t xi1 = std::min<int8_t>(15, int8_t(x1 + 8.5f));
            y[i].qs[j] = xi0 | uint8_t(xi1 << 4);
        }
    }
}

void q4_1(const float* x, block_q4_1* y, int64_t nb) {
    constexpr int qk = QK4_1;
    for (int64_t i = 0; i < nb; i++, x += qk) {
        float min = INFINITY, max = -INFINITY;
        for (int j = 0; j < qk; j++) {
            min = std::min(min, x[j]);
            max = std::max(max, x[j]);
        }
        const float d = (max - min) / ((1 << 4) - 1);
        const float id = d ? 1.0f / d : 0.0f;
        y[i].d = fp32_to_fp16(d);
        y[i].m = fp32_to_fp16(min);
        for (int j = 0; j < qk / 2; ++j) {
            const float x0 = (x[j] - min) * id, x1 = (x[qk / 2 + j] - min) * id;
            const uint8_t xi0 = std::min<int8_t>(15, int8_t(x0 + 0.5f));
            const uint8_t xi1 = std::min<int8_t>(15, int8_t(x1 + 0.5f));
            y[i].qs[j] = xi0 | uint8_t(xi1 << 4);
        }
    }
}

void q5_0(const float* x, block_q5_0* y, int64_t nb) {
    constexpr int qk = QK5_0;
    for (int64_t i = 0; i < nb; i++, x += qk) {
        float amax = 0.0f, max = 0.0f;
        for (int j = 0; j < qk; j++) {
            if (amax < std::fabs(x[j])) {
                amax = std::fabs(x[j]);
                max = x[j];
            }
        }
        const float d = max / -16;
        const float id = d ? 1.0f / d : 0.0f;
        y[i].d = fp32_to_fp16(d);
        uint32_t qh = 0;
        for (int j = 0; j < qk / 2; ++j) {
            const float x0 = x[j] * id, x1 = x[qk / 2 + j] * id;
            const uint8_t xi0 = std::min<int8_t>(31, int8_t(x0 + 16.5f));
            const uint8_t xi1 = std::min<int8_t>(31, int8_t(x1 + 16.5f));
            y[i].qs[j] = (xi0 & 0x0F) | uint8_t((xi1 & 0x0F) << 4);
            qh |= ((xi0 & 0x10u) >> 4) << (j + 0);
            qh |= ((xi1 & 0x10u) >> 4) << (j + qk / 2);
        }
        std::memcpy(y[i].qh, &qh, sizeof(qh));
    }
}

void q5_1(const float* x, block_q5_1* y, int64_t nb) {
    constexpr int qk = QK5_1;
    for (int64_t i = 0; i < nb; i++, x += qk) {
        float min = INFINITY, max = -INFINITY;
        for (int j = 0; j < qk; j++) {
            min = std::min(min, x[j]);
            max = std::max(max, x[j]);
        }
        const float d = (max - min) / ((1 << 5) - 1);
        const float id = d ? 1.0f / d : 0.0f;
        y[i].d = fp32_to_fp16(d);
        y[i].m = fp32_to_fp16(min);
        uint32_t qh = 0;
        for (int j = 0; j < qk / 2; ++j) {
            const float x0 = (x[j] - min) * id, x1 = (x[qk / 2 + j] - min) * id;
            const uint8_t xi0 = uint8_t(x0 + 0.5f);
            const uint8_t xi1 = uint8_t(x1 + 0.5f);
            y[i].qs[j] = (xi0 & 0x0F) | uint8_t((xi1 & 0x0F) << 4);
            qh |= ((xi0 & 0x10u) >> 4) << (j + 0);
            qh |= ((xi1 & 0x10u) >> 4) << (j + qk / 2);
        }
        std::memcpy(y[i].qh, &qh, sizeof(qh));
    }
}

void q8_0(const float* x, block_q8_0* y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, x += QK8_0) {
        float amax = 0.0f;
        for (int j = 0; j < QK8_0; j++) amax = std::max(amax, std::fabs(x[j]));
        const float d = amax / ((1 << 7) - 1);
        const float id = d ? 1.0f / d : 0.0f;
        y[i].d = fp32_to_fp16(d);
        for (int j = 0; j < QK8_0; ++j) y[i].qs[j] = int8_t(std::round(x[j] * id));
    }
}

void q8_1(const float* x, block_q8_1* y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, x += QK8_1) {
        float amax = 0.0f;
        for (int j = 0; j < QK8_1; j++) amax = std::max(amax, std::fabs(x[j]));
        const float d = amax / ((1 << 7) - 1);
        const float id = d ? 1.0f / d : 0.0f;
        y[i].d = fp32_to_fp16(d);
        int sum = 0;
        for (int j = 0; j < QK8_1; ++j) {
            y[i].qs[j] = int8_t(std::round(x[j] * id));
            sum += y[i].qs[j];
        }
        y[i].s = fp32_to_fp16(sum * d);
    }
}

void q8_K(const float* x, block_q8_K* y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, x += QK_K) {
        float max = 0, amax = 0;
        for (int j = 0; j < QK_K; ++j) {
            const float ax = std::fabs(x[j]);
            if (ax > amax) {
                amax = ax;
                max = x[j];
            }
        }
        if (!amax) {
            std::memset(&y[i], 0, sizeof(block_q8_K));
            continue;
        }
        // -127 rather than -128 keeps every value in [-127, 127], which the SIMD dot
        // products rely on (sign tricks and dpbusd bias terms).
        const float iscale = -127.f / max;
        for (int j = 0; j < QK_K; ++j) y[i].qs[j] = int8_t(std::min(127, nearest_int(iscale * x[j])));
        for (int j = 0; j < QK_K / 16; ++j) {
            int sum = 0;
            for (int ii = 0; ii < 16; ++ii) sum += y[i].qs[j * 16 + ii];
            y[i].bsums[j] = int16_t(sum);
        }
        y[i].d = 1 / iscale;
    }
}

}  // namespace

bool scalar_quantize(GgmlType t, const float* src, void* dst, int64_t n) {
    switch (t) {
    case GgmlType::F32: std::memcpy(dst, src, size_t(n) * 4); return true;
    case GgmlType::F16: {
        fp16_t* d = static_cast<fp16_t*>(dst);
        for (int64_t i = 0; i < n; ++i) d[i] = fp32_to_fp16(src[i]);
        return true;
    }
    case GgmlType::BF16: {
        bf16_t* d = static_cast<bf16_t*>(dst);
        for (int64_t i = 0; i < n; ++i) d[i] = fp32_to_bf16(src[i]);
        return true;
    }
    case GgmlType::Q4_0: q4_0(src, static_cast<block_q4_0*>(dst), n / QK4_0); return true;
    case GgmlType::Q4_1: q4_1(src, static_cast<block_q4_1*>(dst), n / QK4_1); return true;
    case GgmlType::Q5_0: q5_0(src, static_cast<block_q5_0*>(dst), n / QK5_0); return true;
    case GgmlType::Q5_1: q5_1(src, static_cast<block_q5_1*>(dst), n / QK5_1); return true;
    case GgmlType::Q8_0: q8_0(src, static_cast<block_q8_0*>(dst), n / QK8_0); return true;
    case GgmlType::Q8_1: q8_1(src, static_cast<block_q8_1*>(dst), n / QK8_1); return true;
    case GgmlType::Q8_K: q8_K(src, static_cast<block_q8_K*>(dst), n / QK_K); return true;
    case GgmlType::Q4_K: quantize_q4_K(src, static_cast<block_q4_K*>(dst), n / QK_K); return true;
    case GgmlType::Q5_K: quantize_q5_K(src, static_cast<block_q5_K*>(dst), n / QK_K); return true;
    case GgmlType::Q6_K: quantize_q6_K(src, static_cast<block_q6_K*>(dst), n / QK_K); return true;
    default: return false;
    }
}

}  // namespace ld::detail
