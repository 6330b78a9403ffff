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

// A chunk's dot product in three parts, so that a kernel multiplying several activation columns
// (matvec_batch.cu) reads and unpacks a weight chunk once for all of them:
//   load_w<T>(row, c)   the weight chunk: its bytes as int8 words (a, b) and its scales (f)
//   load_x<T>(c, x)     the activation words and group scales that chunk c multiplies
//   dot_wx<T>(w, xc, c) the product
// dot_chunk is their composition (the one-token matvec); the float expressions are the same
// whoever calls them, so one column's result does not depend on how many columns share a launch.
struct WChunk {
    int4 a, b;   // 32 weight values as bytes (0..127 offsets or signed int8)
    float f[6];  // per type: scales and mins (unused ones are optimized away)
};
struct XChunk {
    int4 a, b;        // the 32 activation bytes a and b multiply
    float4 d0, d1;    // their group scales and half sums (d1: types whose a and b lie in two groups)
};

template <GgmlType T>
__device__ __forceinline__ WChunk load_w(const uint8_t* __restrict__ row, int c);
template <GgmlType T>
__device__ __forceinline__ XChunk load_x(int c, const XQ& x);
template <GgmlType T>
__device__ __forceinline__ float dot_wx(const WChunk& w, const XChunk& x, int c);

template <GgmlType T>
__device__ __forceinline__ float dot_chunk(const uint8_t* __restrict__ row, int c, const XQ& x) {
    return dot_wx<T>(load_w<T>(row, c), load_x<T>(c, x), c);
}

// Types whose chunk c is block c of 32 elements (Q4_0R, Q8_0R, Q4_1): the activation's group c.
__device__ __forceinline__ XChunk load_x_group(int c, const XQ& x) {
    XChunk v;
    v.a = ld16(x.q + 32 * c);
    v.b = ld16(x.q + 32 * c + 16);
    v.d0 = __ldg(x.ds + c);
    v.d1 = v.d0;
    return v;
}
template <>
__device__ __forceinline__ XChunk load_x<kQ4_0R>(int c, const XQ& x) { return load_x_group(c, x); }
template <>
__device__ __forceinline__ XChunk load_x<kQ8_0R>(int c, const XQ& x) { return load_x_group(c, x); }
template <>
__device__ __forceinline__ XChunk load_x<GgmlType::Q4_1>(int c, const XQ& x) { return load_x_group(c, x); }

template <>
__device__ __forceinline__ WChunk load_w<kQ4_0R>(const uint8_t* __restrict__ row, int c) {
    const uint8_t* g = row + size_t(c >> 3) * 144;
    const int k = c & 7;
    const int4 qs = ld16(g + 16 + 16 * k);
    WChunk w;
    w.a = lo4(qs);
    w.b = hi4(qs);
    w.f[0] = h2f(g + 2 * k);
    return w;
}
template <>
__device__ __forceinline__ float dot_wx<kQ4_0R>(const WChunk& w, const XChunk& x, int) {
    int s = dot16(w.a, x.a, 0);
    s = dot16(w.b, x.b, s);
    return w.f[0] * (x.d0.x * float(s) - 8.0f * (x.d0.y + x.d0.z));
}

template <>
__device__ __forceinline__ WChunk load_w<kQ8_0R>(const uint8_t* __restrict__ row, int c) {
    const uint8_t* g = row + size_t(c >> 3) * 272;
    const int k = c & 7;
    WChunk w;
    w.a = ld16(g + 16 + 32 * k);
    w.b = ld16(g + 32 + 32 * k);
    w.f[0] = h2f(g + 2 * k);
    return w;
}
template <>
__device__ __forceinline__ float dot_wx<kQ8_0R>(const WChunk& w, const XChunk& x, int) {
    int s = dot16(w.a, x.a, 0);
    s = dot16(w.b, x.b, s);
    return w.f[0] * x.d0.x * float(s);
}

template <>
__device__ __forceinline__ WChunk load_w<GgmlType::Q4_1>(const uint8_t* __restrict__ row, int c) {
    const uint32_t* b = reinterpret_cast<const uint32_t*>(row + size_t(c) * sizeof(block_q4_1));  // 4-byte aligned
    const uint32_t dm = __ldg(b);
    const int4 qs = make_int4(int(__ldg(b + 1)), int(__ldg(b + 2)), int(__ldg(b + 3)), int(__ldg(b + 4)));
    WChunk w;
    w.a = lo4(qs);
    w.b = hi4(qs);
    w.f[0] = half_lo(dm);
    w.f[1] = half_hi(dm);
    return w;
}
template <>
__device__ __forceinline__ float dot_wx<GgmlType::Q4_1>(const WChunk& w, const XChunk& x, int) {
    int s = dot16(w.a, x.a, 0);
    s = dot16(w.b, x.b, s);
    return w.f[0] * x.d0.x * float(s) + w.f[1] * (x.d0.y + x.d0.z);
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

// Q4_K and Q5_K share everything but the 5th bit (the block's qh bytes for this chunk).
template <bool FIVE>
__device__ __forceinline__ WChunk load_w_k4(const uint8_t* __restrict__ b, int c) {
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
    WChunk w;
    w.a = lo;
    w.b = hi;
    w.f[0] = half_lo(uint32_t(hdr.x));
    w.f[1] = half_hi(uint32_t(hdr.x));
    scale_min_words(2 * g, uint32_t(hdr.y), uint32_t(hdr.z), uint32_t(hdr.w), &w.f[2], &w.f[3]);
    scale_min_words(2 * g + 1, uint32_t(hdr.y), uint32_t(hdr.z), uint32_t(hdr.w), &w.f[4], &w.f[5]);
    return w;
}
// Chunk c's two sub-blocks (2g, 2g + 1 of block c / 8) are activation groups g0 and g0 + 1, and
// it covers their halves h.
__device__ __forceinline__ XChunk load_x_k4(int c, const XQ& x) {
    const int k = c & 7, g = k >> 1, h = k & 1;
    const int g0 = 8 * (c >> 3) + 2 * g;
    XChunk v;
    v.a = ld16(x.q + 32 * g0 + 16 * h);
    v.b = ld16(x.q + 32 * g0 + 32 + 16 * h);
    v.d0 = __ldg(x.ds + g0);
    v.d1 = __ldg(x.ds + g0 + 1);
    return v;
}
__device__ __forceinline__ float dot_wx_k4(const WChunk& w, const XChunk& x, int c) {
    const int h = c & 1;
    const int i0 = dot16(w.a, x.a, 0);
    const int i1 = dot16(w.b, x.b, 0);
    const float sh0 = h ? x.d0.z : x.d0.y, sh1 = h ? x.d1.z : x.d1.y;
    return w.f[0] * (w.f[2] * x.d0.x * float(i0) + w.f[4] * x.d1.x * float(i1)) - w.f[1] * (w.f[3] * sh0 + w.f[5] * sh1);
}

template <>
__device__ __forceinline__ WChunk load_w<GgmlType::Q4_K>(const uint8_t* __restrict__ row, int c) {
    return load_w_k4<false>(row + size_t(c >> 3) * sizeof(block_q4_K), c);
}
template <>
__device__ __forceinline__ WChunk load_w<GgmlType::Q5_K>(const uint8_t* __restrict__ row, int c) {
    return load_w_k4<true>(row + size_t(c >> 3) * sizeof(block_q5_K), c);
}
template <>
__device__ __forceinline__ XChunk load_x<GgmlType::Q4_K>(int c, const XQ& x) { return load_x_k4(c, x); }
template <>
__device__ __forceinline__ XChunk load_x<GgmlType::Q5_K>(int c, const XQ& x) { return load_x_k4(c, x); }
template <>
__device__ __forceinline__ float dot_wx<GgmlType::Q4_K>(const WChunk& w, const XChunk& x, int c) { return dot_wx_k4(w, x, c); }
template <>
__device__ __forceinline__ float dot_wx<GgmlType::Q5_K>(const WChunk& w, const XChunk& x, int c) { return dot_wx_k4(w, x, c); }

// A Q6_K chunk's 32 six-bit values as unsigned bytes: low nibbles from ql, the high two bits
// from qh at bit 2cc (w.a) and 2cc + 4 (w.b). Shared by the default and the lean load.
__device__ __forceinline__ void q6_unpack(const int4& ql, const int4& qh, int cc, WChunk& w) {
    const int ha = 2 * cc, hb = 2 * cc + 4;
    w.a = make_int4((ql.x & 0x0F0F0F0F) | (((qh.x >> ha) & 0x03030303) << 4),
                    (ql.y & 0x0F0F0F0F) | (((qh.y >> ha) & 0x03030303) << 4),
                    (ql.z & 0x0F0F0F0F) | (((qh.z >> ha) & 0x03030303) << 4),
                    (ql.w & 0x0F0F0F0F) | (((qh.w >> ha) & 0x03030303) << 4));
    w.b = make_int4(((ql.x >> 4) & 0x0F0F0F0F) | (((qh.x >> hb) & 0x03030303) << 4),
                    ((ql.y >> 4) & 0x0F0F0F0F) | (((qh.y >> hb) & 0x03030303) << 4),
                    ((ql.z >> 4) & 0x0F0F0F0F) | (((qh.z >> hb) & 0x03030303) << 4),
                    ((ql.w >> 4) & 0x0F0F0F0F) | (((qh.w >> hb) & 0x03030303) << 4));
}

template <>
__device__ __forceinline__ WChunk load_w<kQ6_KR>(const uint8_t* __restrict__ row, int c) {
    const int blk = c >> 3, k = c & 7, n = k >> 2, cc = (k >> 1) & 1, lh = k & 1;
    const uint8_t* g = row + size_t(blk >> 3) * 1680;
    const uint8_t* b = g + 16 + 208 * (blk & 7);
    const int4 ql = ld16(b + 16 * k), qh = ld16(b + 128 + 32 * n + 16 * lh);
    WChunk w;
    q6_unpack(ql, qh, cc, w);
    w.f[0] = h2f(g + 2 * (blk & 7));
    w.f[1] = float(int8_t(b[192 + 8 * n + 2 * cc + lh]));
    w.f[2] = float(int8_t(b[192 + 8 * n + 2 * cc + 4 + lh]));
    return w;
}
// The chunk's two quarters are activation groups ga and ga + 2, halves lh.
template <>
__device__ __forceinline__ XChunk load_x<kQ6_KR>(int c, const XQ& x) {
    const int blk = c >> 3, k = c & 7, n = k >> 2, cc = (k >> 1) & 1, lh = k & 1;
    const int ga = 8 * blk + 4 * n + cc, gb = ga + 2;
    XChunk v;
    v.a = ld16(x.q + 32 * ga + 16 * lh);
    v.b = ld16(x.q + 32 * gb + 16 * lh);
    v.d0 = __ldg(x.ds + ga);
    v.d1 = __ldg(x.ds + gb);
    return v;
}
template <>
__device__ __forceinline__ float dot_wx<kQ6_KR>(const WChunk& w, const XChunk& x, int c) {
    const int lh = c & 1;
    const int ia = dot16(w.a, x.a, 0);
    const int ib = dot16(w.b, x.b, 0);
    const float ha_sum = lh ? x.d0.z : x.d0.y, hb_sum = lh ? x.d1.z : x.d1.y;
    return w.f[0] * (w.f[1] * (x.d0.x * float(ia) - 32.0f * ha_sum) + w.f[2] * (x.d1.x * float(ib) - 32.0f * hb_sum));
}

// kMvQ6Lean (Tuning::cuda_mv_variant): the same chunk as load_w / load_x<kQ6_KR>, the same values,
// fewer load instructions and registers. A chunk's two sub-block scales are bytes j and 4 + j
// (j = k % 4) of the 8 at 192 + 8n, so one 8-byte load replaces two byte loads; of each group's
// float4 {d, s0, s1, 0} only d and the half sum the chunk covers are loaded (2 registers, not 4).
__device__ __forceinline__ WChunk load_w_q6_lean(const uint8_t* __restrict__ row, int c) {
    const int blk = c >> 3, k = c & 7, n = k >> 2, cc = (k >> 1) & 1, lh = k & 1;
    const uint8_t* g = row + size_t(blk >> 3) * 1680;
    const uint8_t* b = g + 16 + 208 * (blk & 7);
    const int4 ql = ld16(b + 16 * k), qh = ld16(b + 128 + 32 * n + 16 * lh);
    const uint2 sc = __ldg(reinterpret_cast<const uint2*>(b + 192 + 8 * n));  // 8-byte aligned: b is 16
    const int sh = 8 * (k & 3);
    WChunk w;
    q6_unpack(ql, qh, cc, w);
    w.f[0] = h2f(g + 2 * (blk & 7));
    w.f[1] = float(int8_t(uint8_t(sc.x >> sh)));
    w.f[2] = float(int8_t(uint8_t(sc.y >> sh)));
    return w;
}
// d and the half sum (y or z) of group i's float4; dot_wx<kQ6_KR> reads y or z by the same lh.
__device__ __forceinline__ float4 ds_half(const XQ& x, int i, int lh) {
    const float* f = reinterpret_cast<const float*>(x.ds + i);
    const float s = __ldg(f + 1 + lh);
    return make_float4(__ldg(f), s, s, 0.0f);
}
__device__ __forceinline__ XChunk load_x_q6_lean(int c, const XQ& x) {
    const int blk = c >> 3, k = c & 7, n = k >> 2, cc = (k >> 1) & 1, lh = k & 1;
    const int ga = 8 * blk + 4 * n + cc, gb = ga + 2;
    XChunk v;
    v.a = ld16(x.q + 32 * ga + 16 * lh);
    v.b = ld16(x.q + 32 * gb + 16 * lh);
    v.d0 = ds_half(x, ga, lh);
    v.d1 = ds_half(x, gb, lh);
    return v;
}

}  // namespace ld::cuda
