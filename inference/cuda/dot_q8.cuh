#pragma once
// Decode dot products of weight rows with an int8 activation (Q8Act, kernels.h) on dp4a: a
// lane takes 32 elements of a row per call (a "chunk"), reads them with 16-byte loads, and
// multiplies 4 bytes at a time into an int32, so the weights' nibbles are never turned into
// floats. The float path (quant_dev.cuh's deq8) spends ~8 instructions per element and, on
// Hopper, cannot keep up with HBM; this one spends about one.
//
// Chunk c of a row, for each type (the lanes of a warp take consecutive chunks, so a warp's
// 16-byte weight loads are contiguous):
//   Q4_0R, Q8_0R, Q4_1: block c.
//   Q4_K, Q5_K: block c/8; in it k = c%8 covers bytes 16k.. of qs: elements 64g + 16h .. +15
//     (low nibbles, sub-block 2g) and 64g + 32 + 16h .. +15 (high nibbles, 2g+1), g = k/2, h = k%2.
//   Q6_KR: block c/8; k = c%8 covers ql bytes 16k..: half n = k/4, quarters cc = (k/2)%2 (low
//     nibbles) and cc+2 (high), elements 16*(k%2) .. +15 of each quarter.
#include <cuda_fp16.h>

#include <cstdint>

#include "inference/cuda/kernels.h"
#include "inference/cuda/quant_dev.cuh"

namespace ld::cuda {

struct XQ {
    const int8_t* __restrict__ q;
    const float4* __restrict__ ds;
};

__device__ __forceinline__ int4 ld16(const void* p) { return __ldg(reinterpret_cast<const int4*>(p)); }
__device__ __forceinline__ int xq_word(const int4& v, int j) { return j == 0 ? v.x : j == 1 ? v.y : j == 2 ? v.z : v.w; }
__device__ __forceinline__ float half_lo(uint32_t w) { return __half2float(__ushort_as_half(uint16_t(w & 0xFFFFu))); }
__device__ __forceinline__ float half_hi(uint32_t w) { return __half2float(__ushort_as_half(uint16_t(w >> 16))); }

// sum over 16 bytes: a (weights, 0..127 per byte or signed int8) times b (activations).
__device__ __forceinline__ int dot16(const int4& a, const int4& b, int acc) {
    acc = __dp4a(a.x, b.x, acc);
    acc = __dp4a(a.y, b.y, acc);
    acc = __dp4a(a.z, b.z, acc);
    return __dp4a(a.w, b.w, acc);
}
__device__ __forceinline__ int4 lo4(const int4& v) {
    return make_int4(v.x & 0x0F0F0F0F, v.y & 0x0F0F0F0F, v.z & 0x0F0F0F0F, v.w & 0x0F0F0F0F);
}
__device__ __forceinline__ int4 hi4(const int4& v) {
    return make_int4((v.x >> 4) & 0x0F0F0F0F, (v.y >> 4) & 0x0F0F0F0F, (v.z >> 4) & 0x0F0F0F0F, (v.w >> 4) & 0x0F0F0F0F);
}

// Making Q8Act: lane l of a warp holds element l of a group of 32; writes q[l] and, from lane 0,
// the group's float4 (used by quantize.cu and by the kernels that quantize their own output).
__device__ __forceinline__ void quantize_group(float v, int8_t* q, float4* ds, int lane) {
    float amax = fabsf(v);
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, o));
    const float d = amax / 127.0f;
    const int qi = d > 0.0f ? __float2int_rn(v / d) : 0;
    q[lane] = int8_t(qi);
    int s = qi;  // sums of 16 lanes: xor offsets below 16 stay within each half
#pragma unroll
    for (int o = 8; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
    const int s_hi = __shfl_xor_sync(0xffffffffu, s, 16);
    if (lane == 0) *ds = make_float4(d, d * float(s), d * float(s_hi), 0.0f);
}

template <GgmlType T>
__device__ __forceinline__ float dot_chunk(const uint8_t* __restrict__ row, int c, const XQ& x);

template <>
__device__ __forceinline__ float dot_chunk<kQ4_0R>(const uint8_t* __restrict__ row, int c, const XQ& x) {
    const uint8_t* g = row + size_t(c >> 3) * 144;
    const int k = c & 7;
    const int4 qs = ld16(g + 16 + 16 * k);
    const float d = h2f(g + 2 * k);
    const float4 ds = __ldg(x.ds + c);
    int s = dot16(lo4(qs), ld16(x.q + 32 * c), 0);
    s = dot16(hi4(qs), ld16(x.q + 32 * c + 16), s);
    return d * (ds.x * float(s) - 8.0f * (ds.y + ds.z));
}

template <>
__device__ __forceinline__ float dot_chunk<kQ8_0R>(const uint8_t* __restrict__ row, int c, const XQ& x) {
    const uint8_t* g = row + size_t(c >> 3) * 272;
    const int k = c & 7;
    const int4 q0 = ld16(g + 16 + 32 * k), q1 = ld16(g + 32 + 32 * k);
    const float d = h2f(g + 2 * k);
    const float4 ds = __ldg(x.ds + c);
    int s = dot16(q0, ld16(x.q + 32 * c), 0);
    s = dot16(q1, ld16(x.q + 32 * c + 16), s);
    return d * ds.x * float(s);
}

template <>
__device__ __forceinline__ float dot_chunk<GgmlType::Q4_1>(const uint8_t* __restrict__ row, int c, const XQ& x) {
    const uint32_t* b = reinterpret_cast<const uint32_t*>(row + size_t(c) * sizeof(block_q4_1));  // 4-byte aligned
    const uint32_t dm = __ldg(b);
    const int4 qs = make_int4(int(__ldg(b + 1)), int(__ldg(b + 2)), int(__ldg(b + 3)), int(__ldg(b + 4)));
    const float4 ds = __ldg(x.ds + c);
    int s = dot16(lo4(qs), ld16(x.q + 32 * c), 0);
    s = dot16(hi4(qs), ld16(x.q + 32 * c + 16), s);
    return half_lo(dm) * ds.x * float(s) + half_hi(dm) * (ds.y + ds.z);
}

// ggml's get_scale_min_k4 for sub-block j, from the 12 scale bytes as three words.
__device__ __forceinline__ void scale_min_words(int j, uint32_t w0, uint32_t w1, uint32_t w2, float* sc, float* m) {
    const int sh = 8 * (j & 3);
    const uint32_t b0 = (w0 >> sh) & 0xFFu, b1 = (w1 >> sh) & 0xFFu, b2 = (w2 >> sh) & 0xFFu;
    if (j < 4) {
        *sc = float(b0 & 63u);
        *m = float(b1 & 63u);
    } else {
        *sc = float((b2 & 0xFu) | ((b0 >> 6) << 4));
        *m = float((b2 >> 4) | ((b1 >> 6) << 4));
    }
}

// Q4_K and Q5_K share everything but the 5th bit (hb: the block's qh bytes for this lane).
template <bool FIVE>
__device__ __forceinline__ float dot_k4(const uint8_t* __restrict__ b, int c, const XQ& x) {
    const int k = c & 7, g = k >> 1, h = k & 1;
    const int4 hdr = ld16(b);  // d, dmin, scales[12]
    int4 q = ld16(b + (FIVE ? 48 : 16) + 16 * k);
    int4 lo = lo4(q), hi = hi4(q);
    if constexpr (FIVE) {
        const int4 qh = ld16(b + 16 + 16 * h);
        const int s0 = 2 * g, s1 = 2 * g + 1;
        lo.x |= ((qh.x >> s0) & 0x01010101) << 4; lo.y |= ((qh.y >> s0) & 0x01010101) << 4;
        lo.z |= ((qh.z >> s0) & 0x01010101) << 4; lo.w |= ((qh.w >> s0) & 0x01010101) << 4;
        hi.x |= ((qh.x >> s1) & 0x01010101) << 4; hi.y |= ((qh.y >> s1) & 0x01010101) << 4;
        hi.z |= ((qh.z >> s1) & 0x01010101) << 4; hi.w |= ((qh.w >> s1) & 0x01010101) << 4;
    }
    const int g0 = 8 * (c >> 3) + 2 * g;  // activation groups of the two sub-blocks
    const float4 ds0 = __ldg(x.ds + g0), ds1 = __ldg(x.ds + g0 + 1);
    const int i0 = dot16(lo, ld16(x.q + 32 * g0 + 16 * h), 0);
    const int i1 = dot16(hi, ld16(x.q + 32 * g0 + 32 + 16 * h), 0);
    float sc0, m0, sc1, m1;
    scale_min_words(2 * g, uint32_t(hdr.y), uint32_t(hdr.z), uint32_t(hdr.w), &sc0, &m0);
    scale_min_words(2 * g + 1, uint32_t(hdr.y), uint32_t(hdr.z), uint32_t(hdr.w), &sc1, &m1);
    const float sh0 = h ? ds0.z : ds0.y, sh1 = h ? ds1.z : ds1.y;
    return half_lo(uint32_t(hdr.x)) * (sc0 * ds0.x * float(i0) + sc1 * ds1.x * float(i1)) -
           half_hi(uint32_t(hdr.x)) * (m0 * sh0 + m1 * sh1);
}

template <>
__device__ __forceinline__ float dot_chunk<GgmlType::Q4_K>(const uint8_t* __restrict__ row, int c, const XQ& x) {
    return dot_k4<false>(row + size_t(c >> 3) * sizeof(block_q4_K), c, x);
}
template <>
__device__ __forceinline__ float dot_chunk<GgmlType::Q5_K>(const uint8_t* __restrict__ row, int c, const XQ& x) {
    return dot_k4<true>(row + size_t(c >> 3) * sizeof(block_q5_K), c, x);
}

template <>
__device__ __forceinline__ float dot_chunk<kQ6_KR>(const uint8_t* __restrict__ row, int c, const XQ& x) {
    const int blk = c >> 3, k = c & 7, n = k >> 2, cc = (k >> 1) & 1, lh = k & 1;
    const uint8_t* g = row + size_t(blk >> 3) * 1680;
    const uint8_t* b = g + 16 + 208 * (blk & 7);
    const int4 ql = ld16(b + 16 * k), qh = ld16(b + 128 + 32 * n + 16 * lh);
    const float d = h2f(g + 2 * (blk & 7));
    const float sa = float(int8_t(b[192 + 8 * n + 2 * cc + lh])), sb = float(int8_t(b[192 + 8 * n + 2 * cc + 4 + lh]));
    const int ha = 2 * cc, hb = 2 * cc + 4;
    const int4 qa = make_int4((ql.x & 0x0F0F0F0F) | (((qh.x >> ha) & 0x03030303) << 4),
                              (ql.y & 0x0F0F0F0F) | (((qh.y >> ha) & 0x03030303) << 4),
                              (ql.z & 0x0F0F0F0F) | (((qh.z >> ha) & 0x03030303) << 4),
                              (ql.w & 0x0F0F0F0F) | (((qh.w >> ha) & 0x03030303) << 4));
    const int4 qb = make_int4(((ql.x >> 4) & 0x0F0F0F0F) | (((qh.x >> hb) & 0x03030303) << 4),
                              ((ql.y >> 4) & 0x0F0F0F0F) | (((qh.y >> hb) & 0x03030303) << 4),
                              ((ql.z >> 4) & 0x0F0F0F0F) | (((qh.z >> hb) & 0x03030303) << 4),
                              ((ql.w >> 4) & 0x0F0F0F0F) | (((qh.w >> hb) & 0x03030303) << 4));
    const int ga = 8 * blk + 4 * n + cc, gb = ga + 2;  // activation groups of the two quarters
    const float4 da = __ldg(x.ds + ga), db = __ldg(x.ds + gb);
    const int ia = dot16(qa, ld16(x.q + 32 * ga + 16 * lh), 0);
    const int ib = dot16(qb, ld16(x.q + 32 * gb + 16 * lh), 0);
    const float ha_sum = lh ? da.z : da.y, hb_sum = lh ? db.z : db.y;
    return d * (sa * (da.x * float(ia) - 32.0f * ha_sum) + sb * (db.x * float(ib) - 32.0f * hb_sum));
}

}  // namespace ld::cuda
