#pragma once
// Reading weights in their GGUF layout on the device: deq8<T>(row, i, v) writes elements
// i .. i+7 (i a multiple of 8) of a row as floats. Every kernel that reads weights (matvec,
// dequantize for cuBLAS, embedding rows) goes through these, so one place holds the bit layouts
// (the same as inference/quant/scalar_dequant.cpp). Blocks are only 2-byte aligned for Q4_0,
// Q5_0, Q8_0 and Q6_K (18, 22, 34, 210 bytes), so those are read as 16-bit words.
#include <cuda_fp16.h>

#include <cstdint>

#include "inference/cuda/kernels.h"
#include "inference/quant/types.h"

namespace ld::cuda {

__device__ __forceinline__ float h2f(const uint8_t* p) {
    return __half2float(__ushort_as_half(*reinterpret_cast<const uint16_t*>(p)));
}

// 8 bytes from a 2-byte aligned address, as two little-endian words.
__device__ __forceinline__ uint2 load8_a2(const uint8_t* p) {
    const uint16_t* h = reinterpret_cast<const uint16_t*>(p);
    uint2 r;
    r.x = uint32_t(h[0]) | (uint32_t(h[1]) << 16);
    r.y = uint32_t(h[2]) | (uint32_t(h[3]) << 16);
    return r;
}
__device__ __forceinline__ uint2 load8_a8(const uint8_t* p) { return *reinterpret_cast<const uint2*>(p); }

// Integers to floats without the conversion unit (16 per clock per SM on Hopper, 1/8 of the
// FP32 rate, which would bound the decode matvec): placing a small integer in the mantissa of
// 2^23 (0x4B000000) gives the float 2^23 + x exactly, and subtracting 2^23 (plus any offset, all
// exact below 2^24) leaves x. Bytes go into the mantissa with one byte permute each.
__device__ __forceinline__ float u2f(uint32_t x) { return __int_as_float(0x4B000000u | x) - 8388608.0f; }

// The 4 bytes of w as floats minus `offset` (an integer below 2^23).
__device__ __forceinline__ void bytes_to_floats(uint32_t w, float offset, float* f) {
    const float bias = 8388608.0f + offset;
    f[0] = __int_as_float(__byte_perm(w, 0x4B000000u, 0x7440)) - bias;
    f[1] = __int_as_float(__byte_perm(w, 0x4B000000u, 0x7441)) - bias;
    f[2] = __int_as_float(__byte_perm(w, 0x4B000000u, 0x7442)) - bias;
    f[3] = __int_as_float(__byte_perm(w, 0x4B000000u, 0x7443)) - bias;
}
__device__ __forceinline__ void bytes_to_floats(uint2 w, float offset, float* f) {
    bytes_to_floats(w.x, offset, f);
    bytes_to_floats(w.y, offset, f + 4);
}
__device__ __forceinline__ uint2 nibbles(uint2 w, int shift) {
    return make_uint2((w.x >> shift) & 0x0F0F0F0Fu, (w.y >> shift) & 0x0F0F0F0Fu);
}
// Bits 0..3 of b moved to bit 4 of bytes 0..3 (the 5th bit of Q5_0 / Q5_1 elements).
__device__ __forceinline__ uint32_t spread4(uint32_t b) {
    return ((b & 1u) << 4) | ((b & 2u) << 11) | ((b & 4u) << 18) | ((b & 8u) << 25);
}

// ggml's get_scale_min_k4 for Q4_K / Q5_K sub-block j of 8.
__device__ __forceinline__ void scale_min_k4(int j, const uint8_t* q, float* sc, float* m) {
    if (j < 4) {
        *sc = u2f(q[j] & 63);
        *m = u2f(q[j + 4] & 63);
    } else {
        *sc = u2f((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
        *m = u2f((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
    }
}

template <GgmlType T>
__device__ __forceinline__ void deq8(const uint8_t* __restrict__ row, int i, float* v);

template <>
__device__ __forceinline__ void deq8<GgmlType::F32>(const uint8_t* __restrict__ row, int i, float* v) {
    const float4* p = reinterpret_cast<const float4*>(row) + i / 4;
    const float4 a = p[0], b = p[1];
    v[0] = a.x; v[1] = a.y; v[2] = a.z; v[3] = a.w;
    v[4] = b.x; v[5] = b.y; v[6] = b.z; v[7] = b.w;
}

template <>
__device__ __forceinline__ void deq8<GgmlType::F16>(const uint8_t* __restrict__ row, int i, float* v) {
    // Halves taken out of the words by value: reading the words through a __half2 pointer
    // would break strict aliasing.
    const uint4 w = *reinterpret_cast<const uint4*>(row + size_t(i) * 2);
    const uint32_t u[4] = {w.x, w.y, w.z, w.w};
#pragma unroll
    for (int k = 0; k < 4; ++k) {
        v[2 * k] = __half2float(__ushort_as_half(uint16_t(u[k] & 0xFFFFu)));
        v[2 * k + 1] = __half2float(__ushort_as_half(uint16_t(u[k] >> 16)));
    }
}

// Q4_0: byte qs[j] holds element j (low nibble) and j + 16 (high nibble); value (q - 8) * d.
template <>
__device__ __forceinline__ void deq8<GgmlType::Q4_0>(const uint8_t* __restrict__ row, int i, float* v) {
    const uint8_t* b = row + size_t(i >> 5) * sizeof(block_q4_0);
    const int w = i & 31;
    const float d = h2f(b);
    bytes_to_floats(nibbles(load8_a2(b + 2 + (w & 15)), w >= 16 ? 4 : 0), 8.0f, v);
#pragma unroll
    for (int k = 0; k < 8; ++k) v[k] *= d;
}

template <>
__device__ __forceinline__ void deq8<GgmlType::Q4_1>(const uint8_t* __restrict__ row, int i, float* v) {
    const uint8_t* b = row + size_t(i >> 5) * sizeof(block_q4_1);
    const int w = i & 31;
    const float d = h2f(b), m = h2f(b + 2);
    bytes_to_floats(nibbles(load8_a2(b + 4 + (w & 15)), w >= 16 ? 4 : 0), 0.0f, v);
#pragma unroll
    for (int k = 0; k < 8; ++k) v[k] = v[k] * d + m;
}

// Q5_0 / Q5_1: as Q4_0 / Q4_1 plus bit e of qh as the 5th bit of element e.
template <>
__device__ __forceinline__ void deq8<GgmlType::Q5_0>(const uint8_t* __restrict__ row, int i, float* v) {
    const uint8_t* b = row + size_t(i >> 5) * sizeof(block_q5_0);
    const int w = i & 31;
    const float d = h2f(b);
    const uint16_t* qh16 = reinterpret_cast<const uint16_t*>(b + 2);
    const uint32_t hb = ((uint32_t(qh16[0]) | (uint32_t(qh16[1]) << 16)) >> w) & 0xFFu;
    uint2 q = nibbles(load8_a2(b + 6 + (w & 15)), w >= 16 ? 4 : 0);
    q.x |= spread4(hb & 0xFu);
    q.y |= spread4(hb >> 4);
    bytes_to_floats(q, 16.0f, v);
#pragma unroll
    for (int k = 0; k < 8; ++k) v[k] *= d;
}

template <>
__device__ __forceinline__ void deq8<GgmlType::Q5_1>(const uint8_t* __restrict__ row, int i, float* v) {
    const uint8_t* b = row + size_t(i >> 5) * sizeof(block_q5_1);
    const int w = i & 31;
    const float d = h2f(b), m = h2f(b + 2);
    const uint32_t hb = (*reinterpret_cast<const uint32_t*>(b + 4) >> w) & 0xFFu;
    uint2 q = nibbles(load8_a2(b + 8 + (w & 15)), w >= 16 ? 4 : 0);
    q.x |= spread4(hb & 0xFu);
    q.y |= spread4(hb >> 4);
    bytes_to_floats(q, 0.0f, v);
#pragma unroll
    for (int k = 0; k < 8; ++k) v[k] = v[k] * d + m;
}

// Q8_0: int8 values; flipping the sign bit makes them unsigned (x + 128).
template <>
__device__ __forceinline__ void deq8<GgmlType::Q8_0>(const uint8_t* __restrict__ row, int i, float* v) {
    const uint8_t* b = row + size_t(i >> 5) * sizeof(block_q8_0);
    const float d = h2f(b);
    const uint2 q = load8_a2(b + 2 + (i & 31));
    bytes_to_floats(make_uint2(q.x ^ 0x80808080u, q.y ^ 0x80808080u), 128.0f, v);
#pragma unroll
    for (int k = 0; k < 8; ++k) v[k] *= d;
}

// Q4_K: 4 groups of 64; in group g, byte qs[32g + l] holds element 64g + l (low nibble, scale
// 2g) and 64g + 32 + l (high nibble, scale 2g + 1).
template <>
__device__ __forceinline__ void deq8<GgmlType::Q4_K>(const uint8_t* __restrict__ row, int i, float* v) {
    const uint8_t* b = row + size_t(i >> 8) * sizeof(block_q4_K);
    const int e = i & 255, g = e >> 6, hi = (e >> 5) & 1, l0 = e & 31;
    const float d = h2f(b), dmin = h2f(b + 2);
    float sc, m;
    scale_min_k4(2 * g + hi, b + 4, &sc, &m);
    const float d1 = d * sc, m1 = dmin * m;
    bytes_to_floats(nibbles(load8_a8(b + 16 + 32 * g + l0), hi ? 4 : 0), 0.0f, v);
#pragma unroll
    for (int k = 0; k < 8; ++k) v[k] = d1 * v[k] - m1;
}

// Q5_K: as Q4_K plus qh[l], whose bit 2g (low) / 2g + 1 (high) is the 5th bit.
template <>
__device__ __forceinline__ void deq8<GgmlType::Q5_K>(const uint8_t* __restrict__ row, int i, float* v) {
    const uint8_t* b = row + size_t(i >> 8) * sizeof(block_q5_K);
    const int e = i & 255, g = e >> 6, hi = (e >> 5) & 1, l0 = e & 31;
    const float d = h2f(b), dmin = h2f(b + 2);
    float sc, m;
    scale_min_k4(2 * g + hi, b + 4, &sc, &m);
    const float d1 = d * sc, m1 = dmin * m;
    uint2 q = nibbles(load8_a8(b + 48 + 32 * g + l0), hi ? 4 : 0);
    const uint2 h = load8_a8(b + 16 + l0);
    const int hbit = 2 * g + hi;
    q.x |= ((h.x >> hbit) & 0x01010101u) << 4;
    q.y |= ((h.y >> hbit) & 0x01010101u) << 4;
    bytes_to_floats(q, 0.0f, v);
#pragma unroll
    for (int k = 0; k < 8; ++k) v[k] = d1 * v[k] - m1;
}

// Q6_K: 2 halves of 128; in half n, quarter qq, element l (0..31): low 4 bits from
// ql[64n + 32(qq&1) + l] (nibble qq>>1), high 2 bits from qh[32n + l] >> 2qq, scale
// scales[8n + l/16 + 2qq]; value (q - 32) * d * scale.
// Q6_K's element e (of 256) of a block whose ql, qh and scales start at b and whose scale is
// d; LOAD reads 8 bytes (2-byte aligned in the file's layout, 8 in the regrouped one).
template <uint2 (*LOAD)(const uint8_t*)>
__device__ __forceinline__ void deq8_q6k(const uint8_t* __restrict__ b, float d, int e, float* v) {
    const int n = e >> 7, qq = (e >> 5) & 3, l0 = e & 31;
    const uint32_t s8 = b[192 + 8 * n + l0 / 16 + 2 * qq];  // int8 scale, as its byte
    const float sc = d * (u2f(s8 ^ 0x80u) - 128.0f);
    uint2 q = nibbles(LOAD(b + 64 * n + 32 * (qq & 1) + l0), (qq >> 1) * 4);
    const uint2 h = LOAD(b + 128 + 32 * n + l0);
    const int shh = 2 * qq;
    q.x |= ((h.x >> shh) & 0x03030303u) << 4;
    q.y |= ((h.y >> shh) & 0x03030303u) << 4;
    bytes_to_floats(q, 32.0f, v);
#pragma unroll
    for (int k = 0; k < 8; ++k) v[k] *= sc;
}

template <>
__device__ __forceinline__ void deq8<GgmlType::Q6_K>(const uint8_t* __restrict__ row, int i, float* v) {
    const uint8_t* b = row + size_t(i >> 8) * sizeof(block_q6_K);
    deq8_q6k<load8_a2>(b, h2f(b + 208), i & 255, v);
}

// The regrouped device layouts (kernels.h): per 8 blocks, 8 f16 d then the 8 bodies.
template <>
__device__ __forceinline__ void deq8<kQ4_0R>(const uint8_t* __restrict__ row, int i, float* v) {
    const int b = i >> 5, w = i & 31;
    const uint8_t* g = row + size_t(b >> 3) * 144;
    const float d = h2f(g + 2 * (b & 7));
    bytes_to_floats(nibbles(load8_a8(g + 16 + 16 * (b & 7) + (w & 15)), w >= 16 ? 4 : 0), 8.0f, v);
#pragma unroll
    for (int k = 0; k < 8; ++k) v[k] *= d;
}

template <>
__device__ __forceinline__ void deq8<kQ8_0R>(const uint8_t* __restrict__ row, int i, float* v) {
    const int b = i >> 5;
    const uint8_t* g = row + size_t(b >> 3) * 272;
    const float d = h2f(g + 2 * (b & 7));
    const uint2 q = load8_a8(g + 16 + 32 * (b & 7) + (i & 31));
    bytes_to_floats(make_uint2(q.x ^ 0x80808080u, q.y ^ 0x80808080u), 128.0f, v);
#pragma unroll
    for (int k = 0; k < 8; ++k) v[k] *= d;
}

template <>
__device__ __forceinline__ void deq8<kQ6_KR>(const uint8_t* __restrict__ row, int i, float* v) {
    const int blk = i >> 8;
    const uint8_t* g = row + size_t(blk >> 3) * 1680;
    deq8_q6k<load8_a8>(g + 16 + 208 * (blk & 7), h2f(g + 2 * (blk & 7)), i & 255, v);
}

// One element j of an F32 or F16 row, for rows whose width is not a multiple of 8 (llama2.c
// models such as stories260K have ffn 172); those take the scalar kernels.
template <GgmlType T>
__device__ __forceinline__ float elem(const uint8_t* __restrict__ row, int j) {
    if constexpr (T == GgmlType::F32) return reinterpret_cast<const float*>(row)[j];
    else return __half2float(reinterpret_cast<const __half*>(row)[j]);
}

// Calls f(TypeTag<T>{}) for the runtime type t; returns false for an unsupported one.
template <GgmlType T>
struct TypeTag {
    static constexpr GgmlType value = T;
};

template <typename F>
bool dispatch_type(GgmlType t, F&& f) {
    switch (t) {
    case GgmlType::F32: f(TypeTag<GgmlType::F32>{}); return true;
    case GgmlType::F16: f(TypeTag<GgmlType::F16>{}); return true;
    case GgmlType::Q4_0: f(TypeTag<GgmlType::Q4_0>{}); return true;
    case GgmlType::Q4_1: f(TypeTag<GgmlType::Q4_1>{}); return true;
    case GgmlType::Q5_0: f(TypeTag<GgmlType::Q5_0>{}); return true;
    case GgmlType::Q5_1: f(TypeTag<GgmlType::Q5_1>{}); return true;
    case GgmlType::Q8_0: f(TypeTag<GgmlType::Q8_0>{}); return true;
    case GgmlType::Q4_K: f(TypeTag<GgmlType::Q4_K>{}); return true;
    case GgmlType::Q5_K: f(TypeTag<GgmlType::Q5_K>{}); return true;
    case GgmlType::Q6_K: f(TypeTag<GgmlType::Q6_K>{}); return true;
    case kQ4_0R: f(TypeTag<kQ4_0R>{}); return true;
    case kQ8_0R: f(TypeTag<kQ8_0R>{}); return true;
    case kQ6_KR: f(TypeTag<kQ6_KR>{}); return true;
    default: return false;
    }
}

}  // namespace ld::cuda
