#pragma once
// IEEE half and bfloat16 conversions, bit-exact with ggml's scalar paths. Internal linkage
// (static) so a copy compiled with -mavx2 in a SIMD file is never linked into scalar code.
#include <cstdint>
#include <cstring>

namespace ld {

using fp16_t = uint16_t;
using bf16_t = uint16_t;

static inline float fp16_to_fp32(fp16_t h) {
    // Exact conversion via float arithmetic on the bit pattern (handles subnormals, inf, nan).
    const uint32_t w = uint32_t(h) << 16;
    const uint32_t sign = w & 0x80000000u;
    const uint32_t two_w = w + w;
    const uint32_t exp_offset = 0xE0u << 23;
    uint32_t tmp = (two_w >> 4) + exp_offset;
    float normalized;
    std::memcpy(&normalized, &tmp, 4);
    normalized *= 0x1.0p-112f;
    tmp = (two_w >> 17) | (126u << 23);
    float denorm;
    std::memcpy(&denorm, &tmp, 4);
    denorm -= 0.5f;
    const uint32_t denorm_cutoff = 1u << 27;
    uint32_t bits;
    if (two_w < denorm_cutoff) std::memcpy(&bits, &denorm, 4);
    else std::memcpy(&bits, &normalized, 4);
    bits |= sign;
    float out;
    std::memcpy(&out, &bits, 4);
    return out;
}

static inline fp16_t fp32_to_fp16(float f) {
    // Round to nearest even, as ggml's GGML_FP32_TO_FP16 scalar fallback does.
    const float scale_to_inf = 0x1.0p+112f;
    const float scale_to_zero = 0x1.0p-110f;
    uint32_t w;
    std::memcpy(&w, &f, 4);
    float abs_f;
    uint32_t abs_w = w & 0x7FFFFFFFu;
    std::memcpy(&abs_f, &abs_w, 4);
    float base = (abs_f * scale_to_inf) * scale_to_zero;
    const uint32_t shl1_w = w + w;
    const uint32_t sign = w & 0x80000000u;
    uint32_t bias = shl1_w & 0xFF000000u;
    if (bias < 0x71000000u) bias = 0x71000000u;
    uint32_t bias_f_bits = (bias >> 1) + 0x07800000u;
    float bias_f;
    std::memcpy(&bias_f, &bias_f_bits, 4);
    base = bias_f + base;
    uint32_t bits;
    std::memcpy(&bits, &base, 4);
    const uint32_t exp_bits = (bits >> 13) & 0x00007C00u;
    const uint32_t mantissa_bits = bits & 0x00000FFFu;
    const uint32_t nonsign = exp_bits + mantissa_bits;
    return fp16_t((sign >> 16) | (shl1_w > 0xFF000000u ? 0x7E00u : nonsign));
}

static inline float bf16_to_fp32(bf16_t h) {
    uint32_t bits = uint32_t(h) << 16;
    float out;
    std::memcpy(&out, &bits, 4);
    return out;
}

static inline bf16_t fp32_to_bf16(float f) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return bf16_t((u >> 16) | 64);  // quiet nan
    return bf16_t((u + (0x7fffu + ((u >> 16) & 1))) >> 16);
}

}  // namespace ld
