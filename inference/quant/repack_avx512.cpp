// AVX-512 VNNI kernels for the packed 16-row layout (repack.h). Only called after the runtime
// ISA check (can_repack()).
//
// Per block, a 64-byte vector holds 4 quantized values of each of 16 rows; VPDPBUSD against
// the 4 matching activation bytes broadcast to all lanes accumulates 16 row dot products at
// once, so there are no horizontal sums and the 16 block scales convert in one instruction.
// Unsigned weights with an offset (Q4_0: q-8, Q8_0 stored +128, Q6_K: q-32) start the integer
// accumulation from -offset * sum(y of the block), a per-token value shared by all 16 rows.
// A tile is one group of 16 rows x C tokens: weights are unpacked once per tile and reused for
// C tokens (matmul); matvec is C = 1, where Q4_K and Q6_K have kernels of their own that skip
// the unpacking (nothing reuses it).
#include <immintrin.h>

#include <cstring>
#include <type_traits>
#include <vector>

#include "inference/quant/quant_internal.h"
#include "inference/quant/repack.h"
#include "inference/quant/repack_layout.h"

// GCC 12's AVX-512 intrinsics self-initialise their _mm512_undefined_* temporaries and trip
// -Wuninitialized at every use; the warning is spurious.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace ld::detail {

namespace {

// 4 bytes broadcast to all lanes straight from memory (VPBROADCASTD m32, a load-port
// operation). Through a scalar int GCC emits a load plus VPBROADCASTD from a general register,
// two more vector-pipe uops per VPDPBUSD: a third of the packed K-quant decode kernels' work.
inline __m512i bcast32(const void* p) { return _mm512_broadcastd_epi32(_mm_loadu_si32(p)); }
// acc + VPDPBUSD(w, 4 bytes at p broadcast) with the broadcast folded into the instruction's
// memory operand ({1to16}): GCC emits a separate VPBROADCASTD, one more uop per product.
inline __m512i dpbusd_b(__m512i acc, __m512i w, const void* p) {
    asm("vpdpbusd %2%{1to16%}, %1, %0" : "+v"(acc) : "v"(w), "m"(*static_cast<const int32_t*>(p)));
    return acc;
}
inline __m512i load512(const void* p) { return _mm512_loadu_si512(p); }
inline __m256i load256(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }
inline __m128i load128(const void* p) { return _mm_loadu_si128(static_cast<const __m128i*>(p)); }
inline __m512 scales16(const uint8_t* p) { return _mm512_cvtph_ps(load256(p)); }
// The Q4_0 kernel touches the line kPrefetch<C> bytes ahead of each vector load. With several
// tokens (batched decode, C = 2-8 a tile) each block takes 2-8x the work of one token, so
// out-of-order execution has fewer misses in flight and the hardware prefetcher alone left
// the kernel streaming at half its cache-hot speed: 2 KB ahead lifts 4 tokens from DRAM from
// 8.6 to 14-15 GB/s a core, 8 tokens from 6.0 to 8.2-8.7 (quant_matvec_bench, benchmarks/
// cpu.md; 4 and 8 KB alike). The Q4_K/Q6_K kernels leave the stream to the hardware
// prefetcher (one token: 6-12% slower with it at 512 B-8 KB on the old layout; several: no
// gain measured on this one).
// One token: 512 B. 2 KB (+10% on the old two-stream layout) fell behind on the one-stream
// layout, most on the 8B file: whole-model 8B Q4_0 decode ~5-10% faster at 512 B or none
// (alternating runs, benchmarks/cpu.md), the packed matvec of the 1B's ffn shape streams
// 25-26 GB/s a core at 512 B against 17-20 at 2 KB (2 threads, CPU time).
constexpr int kPrefetch1 = 512;
template <int C>
constexpr int kPrefetch = C == 1 ? kPrefetch1 : 2048;
template <int C>
inline void prefetch(const uint8_t* p) {
    if constexpr (kPrefetch<C> > 0) _mm_prefetch(reinterpret_cast<const char*>(p) + kPrefetch<C>, _MM_HINT_T0);
}

// Per token and 32-element block: -offset * sum(y) and the activation scale as float.
struct Aux {
    int32_t bias;
    float d;
};

void make_aux(const block_q8_0* x, int64_t nb, int offset, Aux* out) {
    const __m256i ones = _mm256_set1_epi8(1);
    for (int64_t i = 0; i < nb; ++i) {
        const __m256i s = _mm256_dpbusd_epi32(_mm256_setzero_si256(), ones, load256(x[i].qs));
        __m128i h = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
        h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0x4E));
        h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0xB1));
        out[i] = {-offset * _mm_cvtsi128_si32(h), _cvtsh_ss(x[i].d)};
    }
}

// ---- kernels: tile<C>(qs, sc, nb, x, aux, acc) adds the group's 16 row dots for C tokens ----

// Q4_0: vector c of a block holds qs[4c..4c+3] of each row: low nibbles are elements 4c..,
// high nibbles 16+4c...
struct PQ4_0 {
    using XB = block_q8_0;
    static constexpr PackLayout kL = PackLayout::kQ4_0;
    static constexpr int kQs = kL.qs, kSc = kL.sc, kBlock = 32;
    static constexpr int kOffset = 8;
    using Aux = ld::detail::Aux;
    static void aux_of(const XB* x, int64_t nb, Aux* out) { make_aux(x, nb, kOffset, out); }
    // Tiles of 8 tokens as well as 4: the 8 unpacked weight vectors and 8 accumulators fit the
    // 32 registers, and a group's weights are then unpacked once for 8 tokens instead of
    // twice (quant_matvec_bench, one thread: 8 tokens from DRAM 8.4-8.7 -> 10.6-10.7 GB/s, the
    // 64-token matmul 322-333 -> 347-357 GFLOP/s). Each (row, token) sum is the same
    // arithmetic in any tile, so results do not change. Q8_0, Q4_K and Q6_K measured slower
    // or mixed with 8 (their unpacked weights or sums take more registers; cpu.md).
    static constexpr bool kWideTile = true;
    template <int C>
    static void tile(const uint8_t* qs, const uint8_t* sc, int64_t nb, const XB* const* x,
                     const Aux* const* aux, __m512 (&acc)[C]) {
        const __m512i m4 = _mm512_set1_epi8(0x0F);
        for (int64_t i = 0; i < nb; ++i) {
            const uint8_t* q = qs + kL.q_at(nb, i);
            __m512i w[8];
            #pragma GCC unroll 16
            for (int c = 0; c < 4; ++c) {
                prefetch<C>(q + 64 * c);
                const __m512i v = load512(q + 64 * c);
                w[c] = _mm512_and_si512(v, m4);
                w[4 + c] = _mm512_and_si512(_mm512_srli_epi16(v, 4), m4);
            }
            const __m512 dw = scales16(sc + kL.s_at(nb, i));
            #pragma GCC unroll 16
            for (int t = 0; t < C; ++t) {
                const int8_t* y = x[t][i].qs;
                // Two chains: VPDPBUSD latency would otherwise serialise the C = 1 case.
                __m512i s0 = _mm512_set1_epi32(aux[t][i].bias), s1 = _mm512_setzero_si512();
                #pragma GCC unroll 16
                for (int c = 0; c < 4; ++c) {
                    s0 = _mm512_dpbusd_epi32(s0, w[c], bcast32(y + 4 * c));
                    s1 = _mm512_dpbusd_epi32(s1, w[4 + c], bcast32(y + 16 + 4 * c));
                }
                const __m512 s = _mm512_cvtepi32_ps(_mm512_add_epi32(s0, s1));
                acc[t] = _mm512_fmadd_ps(s, _mm512_mul_ps(dw, _mm512_set1_ps(aux[t][i].d)), acc[t]);
            }
        }
    }
};

// Q8_0: vector c holds qs[4c..4c+3] + 128 of each row.
struct PQ8_0 {
    using XB = block_q8_0;
    static constexpr PackLayout kL = PackLayout::kQ8_0;
    static constexpr int kQs = kL.qs, kSc = kL.sc, kBlock = 32;
    static constexpr int kOffset = 128;
    using Aux = ld::detail::Aux;
    static void aux_of(const XB* x, int64_t nb, Aux* out) { make_aux(x, nb, kOffset, out); }
    static constexpr bool kWideTile = false;
    template <int C>
    static void tile(const uint8_t* qs, const uint8_t* sc, int64_t nb, const XB* const* x,
                     const Aux* const* aux, __m512 (&acc)[C]) {
        for (int64_t i = 0; i < nb; ++i) {
            const uint8_t* q = qs + kL.q_at(nb, i);
            __m512i w[8];
            #pragma GCC unroll 16
            for (int c = 0; c < 8; ++c) w[c] = load512(q + 64 * c);
            const __m512 dw = scales16(sc + kL.s_at(nb, i));
            #pragma GCC unroll 16
            for (int t = 0; t < C; ++t) {
                const int8_t* y = x[t][i].qs;
                __m512i s0 = _mm512_set1_epi32(aux[t][i].bias), s1 = _mm512_setzero_si512();
                #pragma GCC unroll 16
                for (int c = 0; c < 4; ++c) {
                    s0 = _mm512_dpbusd_epi32(s0, w[c], bcast32(y + 4 * c));
                    s1 = _mm512_dpbusd_epi32(s1, w[4 + c], bcast32(y + 16 + 4 * c));
                }
                const __m512 s = _mm512_cvtepi32_ps(_mm512_add_epi32(s0, s1));
                acc[t] = _mm512_fmadd_ps(s, _mm512_mul_ps(dw, _mm512_set1_ps(aux[t][i].d)), acc[t]);
            }
        }
    }
};

// Q4_K: vector 8k+c holds qs[32k+4c..+3]: low nibbles are elements 64k+4c.. (sub-block 2k),
// high nibbles 64k+32+4c.. (sub-block 2k+1). Scales: [8][16] u8, mins [4][16][2] u8,
// d[16], dmin[16] fp16.
struct PQ4_K {
    using XB = block_q8_K;
    static constexpr PackLayout kL = PackLayout::kQ4_K;
    static constexpr int kQs = kL.qs, kSc = kL.sc, kBlock = 256;
    static constexpr int kOffset = 0;
    static constexpr bool kWideTile = false;
    // Per token and block, the sums of y over sub-blocks 2p and 2p+1 as an int16 pair (each
    // |sum| <= 32 * 128 fits), the min term's right-hand side. Made once per input rather than
    // from bsums in every group's tile: that scalar work was repeated rows / 16 times.
    struct Aux {
        int32_t pair[4];
    };
    static void aux_of(const XB* x, int64_t nb, Aux* out) {
        for (int64_t i = 0; i < nb; ++i) {
            const int16_t* bs = x[i].bsums;
            for (int p = 0; p < 4; ++p) {
                const int lo = bs[4 * p] + bs[4 * p + 1], hi = bs[4 * p + 2] + bs[4 * p + 3];
                out[i].pair[p] = int32_t(uint32_t(uint16_t(lo)) | (uint32_t(uint16_t(hi)) << 16));
            }
        }
    }
    // Decode (one token): each packed byte is used once, so the 16 shifts per block that
    // bring high nibbles down are not amortised. (v & 0xF0) is 16 * the high nibble; the
    // sub-block's dot is then exactly (dot >> 4), one shift per 16 rows x 32 elements.
    static void tile1(const uint8_t* qs, const uint8_t* sc, int64_t nb, const XB* x, __m512& acc) {
        const __m512i m4 = _mm512_set1_epi8(0x0F), mh = _mm512_set1_epi8(char(0xF0));
        for (int64_t i = 0; i < nb; ++i) {
            const uint8_t* q = qs + kL.q_at(nb, i);
            const uint8_t* s = sc + kL.s_at(nb, i);
            min_term<1>(s, &x, nullptr, i, &acc);
            const int8_t* y = x[i].qs;
            __m512i isum = _mm512_setzero_si512();
            #pragma GCC unroll 16
            for (int k = 0; k < 4; ++k) {
                // Four chains of four: VPDPBUSD's latency would otherwise bound the loop.
                __m512i lo[2] = {_mm512_setzero_si512(), _mm512_setzero_si512()}, hi[2] = {lo[0], lo[0]};
                #pragma GCC unroll 16
                for (int c = 0; c < 8; ++c) {
                    const __m512i v = load512(q + 64 * (8 * k + c));
                    lo[c & 1] = _mm512_dpbusd_epi32(lo[c & 1], _mm512_and_si512(v, m4), bcast32(y + 64 * k + 4 * c));
                    hi[c & 1] = _mm512_dpbusd_epi32(hi[c & 1], _mm512_and_si512(v, mh), bcast32(y + 64 * k + 32 + 4 * c));
                }
                const __m512i sl = _mm512_cvtepu8_epi32(load128(s + 16 * (2 * k)));
                const __m512i sh = _mm512_cvtepu8_epi32(load128(s + 16 * (2 * k + 1)));
                isum = _mm512_add_epi32(isum, _mm512_mullo_epi32(_mm512_add_epi32(lo[0], lo[1]), sl));
                isum = _mm512_add_epi32(isum, _mm512_mullo_epi32(_mm512_srai_epi32(_mm512_add_epi32(hi[0], hi[1]), 4), sh));
            }
            acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_mul_ps(scales16(s + 256), _mm512_set1_ps(x[i].d)),
                                  acc);
        }
    }
    // acc[t] -= d_y * dmin * sum_j min_j * sum(y of sub-block j), by pairs of sub-blocks. One
    // token (the decode path, left as it was; aux null) pairs the bsums here.
    template <int C>
    static void min_term(const uint8_t* s, const XB* const* x, const Aux* const* aux, int64_t i, __m512* acc) {
        __m512i mins[4];
        #pragma GCC unroll 16
        for (int p = 0; p < 4; ++p) mins[p] = _mm512_cvtepu8_epi16(load256(s + 128 + 32 * p));
        const __m512 dmin = scales16(s + 288);
        #pragma GCC unroll 16
        for (int t = 0; t < C; ++t) {
            __m512i m = _mm512_setzero_si512();
            if constexpr (C == 1) {
                const int16_t* bs = x[t][i].bsums;
                #pragma GCC unroll 16
                for (int p = 0; p < 4; ++p) {
                    const int lo = bs[4 * p] + bs[4 * p + 1], hi = bs[4 * p + 2] + bs[4 * p + 3];
                    const int32_t pair = int32_t(uint32_t(uint16_t(lo)) | (uint32_t(uint16_t(hi)) << 16));
                    m = _mm512_dpwssd_epi32(m, mins[p], _mm512_set1_epi32(pair));
                }
            } else {
                #pragma GCC unroll 16
                for (int p = 0; p < 4; ++p) m = _mm512_dpwssd_epi32(m, mins[p], bcast32(&aux[t][i].pair[p]));
            }
            acc[t] = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(m), _mm512_mul_ps(dmin, _mm512_set1_ps(x[t][i].d)), acc[t]);
        }
    }
    template <int C>
    static void tile(const uint8_t* qs, const uint8_t* sc, int64_t nb, const XB* const* x,
                     const Aux* const* aux, __m512 (&acc)[C]) {
        if constexpr (C == 1) {
            tile1(qs, sc, nb, x[0], acc[0]);
            return;
        }
        const __m512i m4 = _mm512_set1_epi8(0x0F);
        for (int64_t i = 0; i < nb; ++i) {
            const uint8_t* q = qs + kL.q_at(nb, i);
            const uint8_t* s = sc + kL.s_at(nb, i);
            min_term<C>(s, x, aux, i, acc);
            __m512i isum[C];
            #pragma GCC unroll 16
            for (int t = 0; t < C; ++t) isum[t] = _mm512_setzero_si512();
            #pragma GCC unroll 16
            for (int j = 0; j < 8; ++j) {
                const int k = j / 2;
                __m512i w[8];
                #pragma GCC unroll 16
                for (int c = 0; c < 8; ++c) {
                    const __m512i v = load512(q + 64 * (8 * k + c));
                    w[c] = _mm512_and_si512(j & 1 ? _mm512_srli_epi16(v, 4) : v, m4);
                }
                const __m512i scj = _mm512_cvtepu8_epi32(load128(s + 16 * j));
                #pragma GCC unroll 16
                for (int t = 0; t < C; ++t) {
                    const int8_t* y = x[t][i].qs + 32 * j;
                    __m512i a0 = _mm512_setzero_si512(), a1 = _mm512_setzero_si512();
                    #pragma GCC unroll 16
                    for (int c = 0; c < 4; ++c) {
                        a0 = dpbusd_b(a0, w[c], y + 4 * c);
                        a1 = dpbusd_b(a1, w[4 + c], y + 16 + 4 * c);
                    }
                    isum[t] = _mm512_add_epi32(isum[t], _mm512_mullo_epi32(_mm512_add_epi32(a0, a1), scj));
                }
            }
            const __m512 d = scales16(s + 256);
            #pragma GCC unroll 16
            for (int t = 0; t < C; ++t)
                acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[t]), _mm512_mul_ps(d, _mm512_set1_ps(x[t][i].d)),
                                         acc[t]);
        }
    }
};

// Q6_K: ql vector g (0..31) holds ql[4g..+3], qh vector g (0..15) holds qh[4g..+3] (the GGUF
// byte order, so elements 128h+32e+4t.. of a row come from ql vector 16h+8(e&1)+t (low nibble
// for e < 2) and bits 2e..2e+1 of qh vector 8h+t); they sit at q6k_ql_slot / q6k_qh_slot, the
// order tile1 reads them in. Scales: [16][16] i8, then d[16] fp16.
struct PQ6_K {
    using XB = block_q8_K;
    static constexpr PackLayout kL = PackLayout::kQ6_K;
    static constexpr int kQs = kL.qs, kSc = kL.sc, kBlock = 256;
    static constexpr int kOffset = 0;
    static constexpr bool kWideTile = false;
    struct Aux {};
    static void aux_of(const XB*, int64_t, Aux*) {}
    // Decode (one token): assembling each 6-bit value (two shifts, two masks, an OR) costs more
    // than the product itself when nothing reuses it. Instead the 4 low bits and the 2 high bits
    // are dotted separately, each masked in place: (ql & 0xF0) is 16 * the high nibble, and
    // (qh & 3 << 2e) is 4^e * the e-th bit pair. The pieces of a sub-block are then joined with
    // one or two exact shifts: q . y = lo . y + 16 * (hi . y). Every ql vector serves sub-blocks
    // e and e + 2, every qh vector all four.
    static void tile1(const uint8_t* qs, const uint8_t* sc, int64_t nb, const XB* x, __m512& acc) {
        const __m512i ml = _mm512_set1_epi8(0x0F), mh = _mm512_set1_epi8(char(0xF0));
        const __m512i b0 = _mm512_set1_epi8(0x03), b1 = _mm512_set1_epi8(0x0C), b2 = _mm512_set1_epi8(0x30),
                      b3 = _mm512_set1_epi8(char(0xC0));
        for (int64_t i = 0; i < nb; ++i) {
            const uint8_t* q = qs + kL.q_at(nb, i);
            const uint8_t* s = sc + kL.s_at(nb, i);
            const XB& xb = x[i];
            __m512i isum = _mm512_setzero_si512();
            #pragma GCC unroll 16
            for (int h = 0; h < 2; ++h) {
                #pragma GCC unroll 16
                for (int tq = 0; tq < 2; ++tq) {
                    // Sub-blocks 8h + 2e + tq, e = 0..3. q is stored +32: the low-bit sums start
                    // from -32 * sum(y) (times 16 where the low bits sit in the high nibble).
                    const int sb = 8 * h + tq;
                    __m512i lo0 = _mm512_set1_epi32(-32 * int32_t(xb.bsums[sb])), hi0 = _mm512_setzero_si512();
                    __m512i lo1 = _mm512_set1_epi32(-32 * int32_t(xb.bsums[sb + 2])), hi1 = _mm512_setzero_si512();
                    __m512i lo2 = _mm512_set1_epi32(-512 * int32_t(xb.bsums[sb + 4])), hi2 = _mm512_setzero_si512();
                    __m512i lo3 = _mm512_set1_epi32(-512 * int32_t(xb.bsums[sb + 6])), hi3 = _mm512_setzero_si512();
                    const int8_t* y = xb.qs + 128 * h + 16 * tq;
                    #pragma GCC unroll 16
                    for (int u = 0; u < 4; ++u) {
                        const int tt = 4 * tq + u;
                        const __m512i L0 = load512(q + 64 * q6k_ql_slot(16 * h + tt));
                        const __m512i L1 = load512(q + 64 * q6k_ql_slot(16 * h + 8 + tt));
                        const __m512i H = load512(q + 64 * q6k_qh_slot(8 * h + tt));
                        const __m512i y0 = bcast32(y + 4 * u), y1 = bcast32(y + 32 + 4 * u);
                        const __m512i y2 = bcast32(y + 64 + 4 * u), y3 = bcast32(y + 96 + 4 * u);
                        lo0 = _mm512_dpbusd_epi32(lo0, _mm512_and_si512(L0, ml), y0);
                        hi0 = _mm512_dpbusd_epi32(hi0, _mm512_and_si512(H, b0), y0);
                        lo1 = _mm512_dpbusd_epi32(lo1, _mm512_and_si512(L1, ml), y1);
                        hi1 = _mm512_dpbusd_epi32(hi1, _mm512_and_si512(H, b1), y1);
                        lo2 = _mm512_dpbusd_epi32(lo2, _mm512_and_si512(L0, mh), y2);
                        hi2 = _mm512_dpbusd_epi32(hi2, _mm512_and_si512(H, b2), y2);
                        lo3 = _mm512_dpbusd_epi32(lo3, _mm512_and_si512(L1, mh), y3);
                        hi3 = _mm512_dpbusd_epi32(hi3, _mm512_and_si512(H, b3), y3);
                    }
                    const __m512i s0 = _mm512_add_epi32(lo0, _mm512_slli_epi32(hi0, 4));
                    const __m512i s1 = _mm512_add_epi32(lo1, _mm512_slli_epi32(hi1, 2));
                    const __m512i s2 = _mm512_add_epi32(_mm512_srai_epi32(lo2, 4), hi2);
                    const __m512i s3 = _mm512_add_epi32(_mm512_srai_epi32(lo3, 4), _mm512_srai_epi32(hi3, 2));
                    isum = _mm512_add_epi32(isum, _mm512_mullo_epi32(s0, _mm512_cvtepi8_epi32(load128(s + 16 * sb))));
                    isum = _mm512_add_epi32(isum, _mm512_mullo_epi32(s1, _mm512_cvtepi8_epi32(load128(s + 16 * (sb + 2)))));
                    isum = _mm512_add_epi32(isum, _mm512_mullo_epi32(s2, _mm512_cvtepi8_epi32(load128(s + 16 * (sb + 4)))));
                    isum = _mm512_add_epi32(isum, _mm512_mullo_epi32(s3, _mm512_cvtepi8_epi32(load128(s + 16 * (sb + 6)))));
                }
            }
            acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_mul_ps(scales16(s + 256), _mm512_set1_ps(xb.d)), acc);
        }
    }
    template <int C>
    static void tile(const uint8_t* qs, const uint8_t* sc, int64_t nb, const XB* const* x,
                     const Aux* const*, __m512 (&acc)[C]) {
        if constexpr (C == 1) {
            tile1(qs, sc, nb, x[0], acc[0]);
            return;
        }
        const __m512i m4 = _mm512_set1_epi8(0x0F), m30 = _mm512_set1_epi8(0x30);
        for (int64_t i = 0; i < nb; ++i) {
            const uint8_t* q = qs + kL.q_at(nb, i);
            const uint8_t* s = sc + kL.s_at(nb, i);
            __m512i isum[C];
            #pragma GCC unroll 16
            for (int t = 0; t < C; ++t) isum[t] = _mm512_setzero_si512();
            #pragma GCC unroll 16
            for (int h = 0; h < 2; ++h) {
                #pragma GCC unroll 16
                for (int e = 0; e < 4; ++e) {
                    #pragma GCC unroll 16
                    for (int tq = 0; tq < 2; ++tq) {
                        __m512i w[4];
                        #pragma GCC unroll 16
                        for (int u = 0; u < 4; ++u) {
                            const int tt = 4 * tq + u;
                            const __m512i L = load512(q + 64 * q6k_ql_slot(16 * h + 8 * (e & 1) + tt));
                            const __m512i H = load512(q + 64 * q6k_qh_slot(8 * h + tt));
                            const __m512i lo = _mm512_and_si512(e < 2 ? L : _mm512_srli_epi16(L, 4), m4);
                            __m512i hb;
                            if (e == 0) hb = _mm512_slli_epi16(H, 4);
                            else if (e == 1) hb = _mm512_slli_epi16(H, 2);
                            else if (e == 2) hb = H;
                            else hb = _mm512_srli_epi16(H, 2);
                            w[u] = _mm512_or_si512(lo, _mm512_and_si512(hb, m30));
                        }
                        const int sb = 8 * h + 2 * e + tq;
                        const __m512i scs = _mm512_cvtepi8_epi32(load128(s + 16 * sb));
                        #pragma GCC unroll 16
                        for (int t = 0; t < C; ++t) {
                            const int8_t* y = x[t][i].qs + 128 * h + 32 * e + 16 * tq;
                            // q is stored +32: start from -32 * sum(y of the sub-block).
                            __m512i a = _mm512_set1_epi32(-32 * int32_t(x[t][i].bsums[sb]));
                            #pragma GCC unroll 16
                            for (int u = 0; u < 4; ++u) a = dpbusd_b(a, w[u], y + 4 * u);
                            isum[t] = _mm512_add_epi32(isum[t], _mm512_mullo_epi32(a, scs));
                        }
                    }
                }
            }
            const __m512 d = scales16(s + 256);
            #pragma GCC unroll 16
            for (int t = 0; t < C; ++t)
                acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[t]), _mm512_mul_ps(d, _mm512_set1_ps(x[t][i].d)),
                                         acc[t]);
        }
    }
};

// ---- driver ----------------------------------------------------------------------------------

// Tokens per pass over a thread's rows: their activations (and aux) stay in L2 while each
// group's weights are reused for all of them.
constexpr int64_t kTokenChunk = 64;
constexpr int kTile = 4;

template <class K, int C>
void group_tile(const uint8_t* qs, const uint8_t* sc, int64_t nb, const typename K::XB* const* x,
                const typename K::Aux* const* aux, float* y, int64_t ldy, __mmask16 mask) {
    __m512 acc[C];
    #pragma GCC unroll 16
    for (int t = 0; t < C; ++t) acc[t] = _mm512_setzero_ps();
    K::template tile<C>(qs, sc, nb, x, aux, acc);
    #pragma GCC unroll 16
    for (int t = 0; t < C; ++t) _mm512_mask_storeu_ps(y + int64_t(t) * ldy, mask, acc[t]);
}

template <class K>
void run(int64_t n, const void* P, const void* xq, int64_t ntok, float* y, int64_t ldy, int64_t r0,
         int64_t r1) {
    using XB = typename K::XB;
    using Aux = typename K::Aux;
    // Per-token values made once per input and token chunk, not in every group's tile.
    // (Q4_K's are for tiles of several tokens only; tile1 does without.)
    constexpr bool kHasAux = !std::is_empty_v<Aux>;
    const bool need_aux = kHasAux && (K::kOffset != 0 || ntok > 1);
    const int64_t nb = n / K::kBlock;
    const size_t gs = size_t(nb) * size_t(K::kQs + K::kSc);
    const size_t xs = size_t(nb) * sizeof(XB);
    const uint8_t* base = static_cast<const uint8_t*>(P);
    const uint8_t* xb = static_cast<const uint8_t*>(xq);
    const int64_t g0 = r0 / kPackRows, g1 = (r1 + kPackRows - 1) / kPackRows;
    thread_local std::vector<Aux> aux_buf;
    for (int64_t t0 = 0; t0 < ntok; t0 += kTokenChunk) {
        const int64_t t1 = ntok - t0 < kTokenChunk ? ntok : t0 + kTokenChunk;
        const XB* x[kTokenChunk];
        const Aux* aux[kTokenChunk];
        if (need_aux && aux_buf.size() < size_t(kTokenChunk * nb)) aux_buf.resize(size_t(kTokenChunk * nb));
        for (int64_t t = t0; t < t1; ++t) {
            x[t - t0] = reinterpret_cast<const XB*>(xb + size_t(t) * xs);
            aux[t - t0] = nullptr;
            if (need_aux) {
                Aux* a = aux_buf.data() + size_t(t - t0) * size_t(nb);
                K::aux_of(x[t - t0], nb, a);
                aux[t - t0] = a;
            }
        }
        for (int64_t g = g0; g < g1; ++g) {
            const int64_t lo = g * kPackRows;
            const int64_t a = r0 > lo ? r0 - lo : 0;
            const int64_t b = r1 < lo + kPackRows ? r1 - lo : kPackRows;
            const __mmask16 mask = __mmask16(((1u << b) - 1u) & ~((1u << a) - 1u));
            const uint8_t* qs = base + size_t(g) * gs;
            const uint8_t* sc = qs;  // PackLayout::s_at is from the group start
            int64_t t = t0;
            if constexpr (K::kWideTile)
                for (; t + 2 * kTile <= t1; t += 2 * kTile)
                    group_tile<K, 2 * kTile>(qs, sc, nb, x + (t - t0), aux + (t - t0), y + t * ldy + lo, ldy, mask);
            for (; t + kTile <= t1; t += kTile)
                group_tile<K, kTile>(qs, sc, nb, x + (t - t0), aux + (t - t0), y + t * ldy + lo, ldy, mask);
            for (; t + 2 <= t1; t += 2)
                group_tile<K, 2>(qs, sc, nb, x + (t - t0), aux + (t - t0), y + t * ldy + lo, ldy, mask);
            for (; t < t1; ++t)
                group_tile<K, 1>(qs, sc, nb, x + (t - t0), aux + (t - t0), y + t * ldy + lo, ldy, mask);
        }
    }
}

}  // namespace

void avx512_packed_matmul(GgmlType t, int64_t n, const void* P, const void* xq, int64_t nb, float* y,
                          int64_t ldy, int64_t r0, int64_t r1) {
    switch (t) {
    case GgmlType::Q4_0: run<PQ4_0>(n, P, xq, nb, y, ldy, r0, r1); break;
    case GgmlType::Q8_0: run<PQ8_0>(n, P, xq, nb, y, ldy, r0, r1); break;
    case GgmlType::Q4_K: run<PQ4_K>(n, P, xq, nb, y, ldy, r0, r1); break;
    case GgmlType::Q6_K: run<PQ6_K>(n, P, xq, nb, y, ldy, r0, r1); break;
    default: break;
    }
}

}  // namespace ld::detail

#pragma GCC diagnostic pop
